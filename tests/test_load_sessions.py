"""Load test: 20 simultaneous dashboard sessions against ONE real Streamlit server process.

Why a real server (and not AppTest threads): a lab runs one ``streamlit run dashboard/app.py`` for everyone, and
the failures that matter (cross-talk through process-wide caches or a shared explainer, memory per session,
latency while others compute) only exist inside that process. Concurrent ``AppTest`` runs share one global mock
``Runtime`` that every run sets and resets, so they race with each other rather than with the app. The sessions
here speak Streamlit's websocket protocol like the browser does (``benchmarks/load_test.py`` explains it); the
scenario is the same one ``python benchmarks/load_test.py --sessions 50`` runs with larger numbers.

Scenario (one server, ``dashboard/server.py``; about a minute on 2 cores): 5 warm-up sessions, then two waves.
The **capacity wave**: 20 sessions started at the same instant, each uploading a different profile (CSV / TSV /
gzipped CSV, its own unique sample name), reading and downloading its predictions and opening the Explain page (LRP
for its top five drugs), and nothing else. The **hostile wave**: 20 more such sessions while, at the same instant,
three adversarial uploads (gzip bomb, text junk, too many values) arrive, one session tries to park 8 × 45 MiB
uploads and 20 threads hit ``/_stcore/health``, ``/_stcore/host-config`` and ``/``. Every session stays connected
until the end (49 at once).

Documented bounds (asserted below):

* every session sees exactly its own predictions and explanations: equal to ``Neurix.predict`` /
  ``Neurix.explain`` on its own profile (all drugs via the CSV download, the top-25 table, the relevances of the
  Explain page's download), and never another session's sample name;
* the capacity wave meets issue 17's targets: upload → predictions p95 ≤ 3 s and Explain p95 ≤ 6 s; the hostile
  wave's p95s stay below ``MAX_HOSTILE_UPLOAD_PREDICT_P95_S`` / ``MAX_HOSTILE_EXPLAIN_P95_S``; each attack is
  refused with a message within 10 s; the flood gets at most two uploads held — every time bound multiplied by
  the machine's load factor (``load_factor``: 1 on an idle machine);
* 0 HTTP errors (on an overloaded machine, client timeouts only); p95 of ``/_stcore/health`` etc. below 10 s
  during the hostile wave and below 1 s idle (a load balancer's health-check timeout must be longer than the
  first figure);
* the server's memory (its RSS plus its upload workers' private memory) grows by less than
  ``MAX_GROWTH_PER_SESSION_MIB`` per session of the capacity wave and its peak stays below 2 GB, the issue's
  target (not scaled: memory does not depend on load);
* nothing of any upload (sample names) reaches the server's stdout/stderr log.

``test_the_shared_explainer_is_thread_safe`` pins, in-process, the explainer race this scenario found.

Figures are printed and written to ``benchmarks/results/load_test.json``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from neurix_core.api import Neurix  # noqa: E402

SESSIONS = 20
WARMUP = 5
HTTP_THREADS = 20
HTTP_PER_THREAD = 30
# Latency bounds scale with how overloaded the machine was when the scenario started (1-minute load average per
# core, at least 1) and with how much slower its cores were than where the bounds were measured (a CPU speed
# probe: the same code took ~2× the CPU-seconds on this VM on some days): on an idle machine as fast as the
# reference they are issue 17's targets; on a slower or shared one they grow instead of failing for reasons
# outside the code. Measured (2026-12-03, least-served-first page turns and worker jobs, 10 runs at load 0.5-2.3
# before the waves, probe 0.022-0.025 s): capacity wave upload → predictions p95 1.14-1.71 s, Explain p95
# 1.59-2.52 s; hostile wave 1.55-2.96 s and 1.75-2.84 s; attacks refused within 3.9 s; peak 1,715-1,766 MiB with
# 49 tabs connected; growth 6.7-9.3 MiB per session. (At load ~30, factor 15, on an earlier version: upload p95
# 72 s, 0 cross-talk, 12 index-page timeouts.)
MAX_GROWTH_PER_SESSION_MIB = 20.0
# issue 17: ≤ 2 GB (1,907 MiB) under 20 sessions and three attacks; here 45 sessions and 4 hostile tabs
MAX_PEAK_MIB = 1907.0
MAX_HEALTH_P95_UNDER_LOAD_S = 10.0  # × load factor; measured 0.3-0.7 s
MAX_HEALTH_P95_IDLE_S = 1.0  # × load factor; measured ~50 ms
MAX_UPLOAD_PREDICT_P95_S = 3.0  # × load factor: issue 17's target, for the capacity wave
MAX_EXPLAIN_P95_S = 6.0  # × load factor: issue 17's target, for the capacity wave
MAX_HOSTILE_UPLOAD_PREDICT_P95_S = 6.0  # × load factor: the hostile wave (~2× measured)
MAX_HOSTILE_EXPLAIN_P95_S = 6.0  # × load factor: the hostile wave (~2× measured)
MAX_REFUSAL_S = 10.0  # × load factor: each attack file, from the start of its upload to the page's refusal
OVERLOADED = 4.0  # load factor above which HTTP client timeouts (30 s) are tolerated, and only timeouts


def load_factor(figures: dict[str, Any]) -> float:
    """How much slower than the reference machine this run's machine was (at least 1): runnable processes per
    core before the scenario (``/proc/loadavg``) times how much slower its cores computed a fixed piece of work
    (``cpu_speed_probe_s`` against ``cpu_speed_reference_s``, the probe where the bounds were measured)."""
    try:
        one_minute = float(str(figures["load_before"]).split()[0])
    except (KeyError, ValueError, IndexError):
        one_minute = 0.0
    machine = figures.get("machine", {})
    slower = float(machine.get("cpu_speed_probe_s") or 0.0) / float(
        machine.get("cpu_speed_reference_s") or 1.0
    )
    return max(1.0, one_minute / (os.cpu_count() or 1)) * max(1.0, slower)


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def neurix() -> Neurix:
    return Neurix.load(os.environ.get("NEURIX_BUNDLE") or None)


@pytest.fixture(scope="module")
def scenario(
    load_test: ModuleType, neurix: Neurix, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run the whole scenario once; the tests below assert on its figures."""
    figures, visits, log_path = load_test.run_scenario(
        sessions=SESSIONS,
        warmup=WARMUP,
        explain=True,
        http_threads=HTTP_THREADS,
        http_per_thread=HTTP_PER_THREAD,
        log_dir=tmp_path_factory.mktemp("server_log"),
        neurix=neurix,
    )
    figures["source"] = "tests/test_load_sessions.py"
    load_test.write_results(figures)
    print("\n" + "\n".join(load_test.summary_lines(figures)))
    return {"figures": figures, "visits": visits, "log": log_path}


def test_all_sessions_were_simultaneous_and_distinct(scenario: dict[str, Any]) -> None:
    sessions = scenario["figures"]["sessions"]
    assert sessions["total"] == 2 * SESSIONS + WARMUP
    hostile = scenario["figures"]["adversarial"]["sessions"]  # the attackers' tabs stay open too
    assert sessions["connected_during_test"] == 2 * SESSIONS + WARMUP + hostile, (
        "all stayed connected at once"
    )
    assert sessions["distinct_session_ids"] == 2 * SESSIONS + WARMUP
    assert sessions["connected_after_close"] == 0


def test_every_session_sees_its_own_predictions_and_explanations(scenario: dict[str, Any]) -> None:
    """Predictions (all drugs), the table and the Explain page's relevances equal direct API calls on the
    session's own profile; no session received another session's sample name."""
    sessions = scenario["figures"]["sessions"]
    assert sessions["problems"] == {}
    assert sessions["ok"] == 2 * SESSIONS + WARMUP
    for visit in scenario["visits"]:
        assert visit.predictions_csv is not None and len(visit.predictions_csv) > 0
        assert visit.genes_csv is not None and set(visit.genes_csv["sample"]) == {visit.profile.sample}


def test_http_endpoints_answer_under_load(scenario: dict[str, Any]) -> None:
    figures = scenario["figures"]
    factor = load_factor(figures)
    during, idle = figures["http_during_wave"], figures["http_idle"]
    assert during["requests"] == idle["requests"] == HTTP_THREADS * HTTP_PER_THREAD
    assert idle["errors"] == 0, idle["error_examples"]
    if factor < OVERLOADED:
        assert during["errors"] == 0, during["error_examples"]
    else:  # an overloaded machine: slow answers only, never a wrong one
        assert all(e.endswith("Timeout") for e in during["error_examples"]), during["error_examples"]
    assert during["p95_ms"] / 1000 < MAX_HEALTH_P95_UNDER_LOAD_S * factor
    assert idle["p95_ms"] / 1000 < MAX_HEALTH_P95_IDLE_S * factor
    assert figures["sessions"]["failed"] == 0


def test_memory_stays_bounded(scenario: dict[str, Any]) -> None:
    figures = scenario["figures"]
    growth = figures["memory_growth_mib"]
    assert growth["per_session"] < MAX_GROWTH_PER_SESSION_MIB, figures["memory_mib"]
    assert figures["memory_mib"]["peak"] < MAX_PEAK_MIB, figures["memory_mib"]


def test_twenty_simultaneous_sessions_meet_the_latency_targets(scenario: dict[str, Any]) -> None:
    """Issue 17: 20 users uploading in the same second see predictions within 3 s and Explain within 6 s (p95)."""
    steps = scenario["figures"]["session_step_latency_s"]
    factor = load_factor(scenario["figures"])
    assert steps["upload_predict"]["p95_s"] <= MAX_UPLOAD_PREDICT_P95_S * factor, (factor, steps)
    assert steps["explain"]["p95_s"] <= MAX_EXPLAIN_P95_S * factor, (factor, steps)


def test_latency_while_under_attack(scenario: dict[str, Any]) -> None:
    steps = scenario["figures"]["hostile_wave"]["session_step_latency_s"]
    factor = load_factor(scenario["figures"])
    assert steps["upload_predict"]["p95_s"] < MAX_HOSTILE_UPLOAD_PREDICT_P95_S * factor, (factor, steps)
    assert steps["explain"]["p95_s"] < MAX_HOSTILE_EXPLAIN_P95_S * factor, (factor, steps)


def test_attacks_are_refused_quickly_while_others_work(scenario: dict[str, Any]) -> None:
    """A gzip bomb, 46.7 MiB of text junk and a table with too many values, uploaded with 20 sessions, are
    each refused with a message; one session cannot park more than two near-limit uploads in server memory."""
    adversarial = scenario["figures"]["adversarial"]
    assert len(adversarial["uploads"]) == 3
    for attack in adversarial["uploads"]:
        assert not attack["error"], attack
        assert attack["status"] == 204 and "could not be used" in attack["message"], attack
        limit = MAX_REFUSAL_S * load_factor(scenario["figures"])
        assert attack["refused_s"] is not None and attack["refused_s"] < limit, (limit, attack)
    statuses = adversarial["flood"]["statuses"]
    assert statuses.count(204) <= 2 and len(statuses) == 8, statuses
    assert all(code in (204, 429, 503, -1) for code in statuses), statuses


def test_the_upload_limit_reaches_the_browser(scenario: dict[str, Any]) -> None:
    """The file uploader tells the browser the same limit the parser enforces (server.maxUploadSize)."""
    from neurix_core.io.profile import ProfileLimits

    assert scenario["figures"]["sessions"]["upload_limit_mb_shown"] == [ProfileLimits().max_bytes // 2**20]


def test_no_upload_reaches_the_server_log(scenario: dict[str, Any]) -> None:
    assert scenario["figures"]["server_log_leaks"] == []
    log = scenario["log"].read_text(errors="replace")
    assert "Traceback" not in log, log[-2000:]
    assert "LOADTEST-" not in log


def test_the_shared_explainer_is_thread_safe(neurix: Neurix) -> None:
    """In-process regression test for the cross-talk the scenario found: the server's sessions share one
    explainer, and a forward pass outside its lock used to run through another thread's zennit hooks, giving
    RuntimeErrors or, when row counts matched (one drug), silently mixing another user's profile into the
    relevances. Concurrent single-drug explanations and predictions must equal the serial results."""
    examples = neurix.example_profiles()
    rng = np.random.default_rng(0)
    inputs = [
        neurix.prepare(examples.iloc[[i % len(examples)]] + rng.normal(0.0, 0.3, examples.shape[1]))
        for i in range(8)
    ]
    drug = [str(neurix.bundle.drugs["drug_key"].iloc[0])]
    serial = [neurix.explain(x, drugs=drug, top=None)["relevance"].to_numpy() for x in inputs]
    problems: list[str] = []
    barrier = threading.Barrier(len(inputs))

    def work(i: int) -> None:
        barrier.wait()
        for _ in range(3):
            try:
                neurix.explainer.predict(inputs[(i + 1) % len(inputs)].scaled)  # another user's forward pass
                got = neurix.explain(inputs[i], drugs=drug, top=None)["relevance"].to_numpy()
                if not np.allclose(got, serial[i], rtol=1e-5, atol=1e-8):
                    problems.append(f"thread {i}: relevances differ from the serial run")
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                problems.append(f"thread {i}: {type(exc).__name__}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
