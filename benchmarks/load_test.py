"""Load test: many simultaneous dashboard sessions against ONE real Streamlit server process.

Why a protocol-level client instead of browsers or AppTest: a lab runs one ``streamlit run dashboard/app.py``
for everyone, so the interesting failures (cross-talk between sessions through process-wide caches, memory
growth per session, latency under concurrent model runs) only exist in that one process. Headless browsers are
too heavy for 20+ sessions on a 2-core machine, and concurrent ``AppTest`` instances share one global mock
``Runtime`` (set and reset by every run), so they race. Instead, each simulated user here speaks Streamlit's
own wire protocol, exactly as the browser's JavaScript does:

1. ``GET /_stcore/health`` to receive the XSRF cookie;
2. a websocket to ``/_stcore/stream`` (subprotocols ``streamlit, <xsrf token>``) and a ``rerun_script``
   BackMsg for the Predict page;
3. a ``file_urls_request`` BackMsg, a multipart ``PUT`` of the profile to the upload URL it returns (with the
   ``X-Xsrftoken`` header), and a rerun whose widget state points the file uploader at that file;
4. optionally a rerun of the Explain page (LRP for the top five drugs of this upload).

The server's answers (ForwardMsg protobufs) are decoded: the predictions table (Arrow), the CSV behind the
"Download all predictions for this sample" button and the Explain page's "top genes" CSV are compared with
direct ``Neurix.predict`` / ``Neurix.explain`` calls for that session's own profile, and every byte a session
received is searched for the other sessions' sample names (cross-talk). The server's RSS comes from
``/proc/<pid>/status``; ``/_stcore/metrics`` gives the number of connected sessions.

After the warm-up sessions come two waves. The **capacity wave** is ``--sessions`` users arriving in the same
instant and nothing else: its latencies are the capacity figures. The **hostile wave** is as many users again while,
at the same instant, three adversarial uploads arrive, one session tries to park eight near-limit uploads, and 20
threads hit ``/_stcore/health``, ``/_stcore/host-config`` and the index page: memory, refusal times, HTTP latency
and the users' latency under attack. Each wave's timeline (when each session's steps ended) is in the results.

Usage (from the repository root)::

    python benchmarks/load_test.py                       # 5 warm-up, then 2 waves of 20 simultaneous sessions
    python benchmarks/load_test.py --sessions 50 --no-explain --no-adversarial --http-threads 0  # capacity only

Prints the figures and writes ``benchmarks/results/load_test.json``. ``tests/test_load_sessions.py`` runs the
same code with 20 simultaneous sessions and asserts on the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import inspect
import io
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import requests
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.Common_pb2 import FileURLs  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

APP = ROOT / "dashboard" / "server.py"  # the deployment entry point: app.py behind dashboard/guard.py
RESULTS = ROOT / "benchmarks" / "results" / "load_test.json"
XSRF_COOKIE = "_streamlit_xsrf"
HTTP_PATHS = ("/_stcore/health", "/_stcore/host-config", "/")
FINISHED_EARLY_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")
ALERT_ERROR = 1
EXPLAIN_TOP_DRUGS = 5  # the Explain page's default selection
EXPLAIN_GENES_PER_SIDE = 8  # the Explain page's default "top genes per drug" slider
TICK = os.sysconf("SC_CLK_TCK")  # /proc/<pid>/stat counts CPU time in these
# cpu_speed_probe_s on the 2-core VM where the bounds of tests/test_load_sessions.py were measured (2026-12-03)
REFERENCE_SPEED_PROBE_S = 0.025


# --- the server ---------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that is free now on 127.0.0.1 (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (the server's upload workers), from /proc."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def private_mib(pid: int) -> float:
    """Memory only this process holds (Private_Clean + Private_Dirty): what a forked worker adds to the server,
    whose copy-on-write shared pages are already in the server's RSS."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    except OSError:  # the worker ended meanwhile
        return 0.0
    return total / 1024.0


def cpu_seconds(pid: int, children: bool = True) -> float:
    """utime + stime of a process (all its threads) and of its children (the server's upload workers), in s."""
    total = 0.0
    for process in (pid, *(child_pids(pid) if children else ())):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a worker that ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def own_cpu_seconds() -> float:
    """This process's CPU (the simulated browsers: on the same cores as the server, so they are part of the load)."""
    times = os.times()
    return times.user + times.system


def proc_status_mib(pid: int, field_name: str = "VmRSS") -> float:
    """A memory figure of a process from /proc (no psutil): VmRSS = now, VmHWM = peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024.0
    raise KeyError(field_name)


class StreamlitServer:
    """``streamlit run dashboard/server.py`` as a subprocess on 127.0.0.1, run from the repository root so the
    shipped ``.streamlit/config.toml`` applies. Output goes to ``log_path`` (scanned for leaks by the tests).
    ``/_stcore/metrics`` is closed to visitors; this harness reads it with a random monitoring token."""

    def __init__(
        self,
        log_path: Path,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        script: Path = APP,
    ) -> None:
        self.script = script
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("MALLOC_ARENA_MAX", "2")  # as scripts/dashboard.sh deploys it
        self.metrics_token = secrets.token_urlsafe(32)
        self.env["NEURIX_METRICS_TOKEN"] = self.metrics_token
        self.process: subprocess.Popen[bytes] | None = None
        self._peak_sampled = 0.0

    def start(self, timeout: float = 60.0) -> StreamlitServer:
        command = [
            sys.executable, "-m", "streamlit", "run", str(self.script),
            "--server.headless", "true",
            "--server.address", "127.0.0.1",
            "--server.port", str(self.port),
            "--browser.gatherUsageStats", "false",
            *self.extra_args,
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.process.returncode}: {self.log_path.read_text()}"
                )
            try:
                if requests.get(self.base_url + "/_stcore/health", timeout=2).status_code == 200:
                    threading.Thread(target=self._sample_memory, daemon=True, name="memory-sampler").start()
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"streamlit did not become healthy in {timeout:.0f} s")

    def stop(self) -> None:
        """Terminate the server we started (by its own pid; never by name)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_mib(self) -> float:
        """The server's memory now: its RSS plus what its worker processes hold privately."""
        return proc_status_mib(self.pid, "VmRSS") + sum(private_mib(c) for c in child_pids(self.pid))

    def peak_mib(self) -> float:
        """The largest ``rss_mib`` sampled since start (every 0.5 s), or the server's own RSS peak if larger."""
        return max(self._peak_sampled, proc_status_mib(self.pid, "VmHWM"))

    def _sample_memory(self) -> None:
        while self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError, KeyError):
                self._peak_sampled = max(self._peak_sampled, self.rss_mib())
            time.sleep(0.5)

    def metrics(self) -> dict[str, float]:
        """``/_stcore/metrics`` (OpenMetrics text) as {sample name with labels: value}."""
        headers = {"Authorization": f"Bearer {self.metrics_token}"}
        text = requests.get(self.base_url + "/_stcore/metrics", headers=headers, timeout=10).text
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- one simulated browser tab ------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What one script run sent to the browser: ForwardMsgs (decoded) and their raw bytes."""

    messages: list[ForwardMsg]
    raw: bytes
    seconds: float

    def elements(self, kind: str | None = None) -> list[Any]:
        found = []
        for msg in self.messages:
            if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                name = element.WhichOneof("type")
                if kind is None or name == kind:
                    found.append((name, getattr(element, name)))
        return found if kind is None else [proto for _, proto in found]

    def dataframes(self) -> list[pd.DataFrame]:
        return [
            pa.ipc.open_stream(d.arrow_data.data).read_all().to_pandas() for d in self.elements("dataframe")
        ]

    def errors(self) -> list[str]:
        """Error alerts and exceptions shown to the user in this run."""
        alerts = [a.body for a in self.elements("alert") if a.format == ALERT_ERROR]
        return alerts + [f"{e.type}: {e.message}" for e in self.elements("exception")]

    def text(self) -> str:
        return "\n".join(
            [m.body for m in self.elements("markdown")] + [a.body for a in self.elements("alert")]
        )

    def download_buttons(self) -> dict[str, Any]:
        return {b.label: b for b in self.elements("download_button")}


class BrowserSession:
    """One browser tab driving the dashboard over Streamlit's websocket protocol (see the module docstring)."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.http = requests.Session()
        self.http.trust_env = False  # 127.0.0.1: never through a proxy from the environment
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection | None = None
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path ('' = home) → page script hash
        self.page_hash = ""
        self.requests = 0  # HTTP requests + script reruns sent by this tab
        self.retries = 0  # requests repeated after a stale keep-alive connection (see _http)

    @property
    def xsrf(self) -> str:
        return self.http.cookies.get(XSRF_COOKIE) or ""

    def connect(self) -> None:
        self._http("GET", "/_stcore/health").raise_for_status()
        host = self.base_url.removeprefix("http://")
        options: dict[str, Any] = {"proxy": None} if "proxy" in inspect.signature(connect).parameters else {}
        self.ws = self._stack.enter_context(  # held open across calls; closed in close()
            connect(
                f"ws://{host}/_stcore/stream",
                subprotocols=["streamlit", self.xsrf],  # type: ignore[list-item]
                additional_headers={"Origin": self.base_url, "Cookie": f"{XSRF_COOKIE}={self.xsrf}"},
                max_size=None,
                open_timeout=self.timeout,
                **options,
            )
        )

    def _send(self, msg: BackMsg) -> None:
        assert self.ws is not None, "connect() first"
        self.ws.send(msg.SerializeToString())

    def _receive_until(self, stop: Callable[[ForwardMsg], bool]) -> tuple[list[ForwardMsg], bytes]:
        assert self.ws is not None
        messages, raw = [], bytearray()
        deadline = time.monotonic() + self.timeout
        while True:
            data = self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            assert isinstance(data, bytes)
            msg = ForwardMsg()
            msg.ParseFromString(data)
            messages.append(msg)
            raw += data
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
                self.page_hash = msg.navigation.page_script_hash
            if stop(msg):
                return messages, bytes(raw)

    def run(self, page: str | None = None, widgets: Iterable[WidgetState] = ()) -> RunResult:
        """Rerun the script (optionally on another page: '' = home, 'predict', 'explain', ...)."""
        msg = BackMsg()
        state = msg.rerun_script
        if page is not None and page in self.pages:
            state.page_script_hash = self.pages[page]
        elif page is not None:  # before the first run the hashes are unknown: the browser sends the url path
            state.page_name = page
        else:
            state.page_script_hash = self.page_hash
        state.widget_states.widgets.extend(widgets)
        start = time.perf_counter()
        self._send(msg)
        self.requests += 1

        def finished(m: ForwardMsg) -> bool:
            return m.WhichOneof("type") == "script_finished" and m.script_finished != FINISHED_EARLY_FOR_RERUN

        messages, raw = self._receive_until(finished)
        return RunResult(messages, raw, time.perf_counter() - start)

    def open_session(self, page: str = "") -> str:
        """Start a script run and return as soon as the server names the session (without waiting for the
        run to finish): enough for calls that only need a live session id, such as uploads."""
        msg = BackMsg()
        msg.rerun_script.page_name = page
        self._send(msg)
        self.requests += 1
        self._receive_until(lambda m: m.WhichOneof("type") == "new_session")
        return self.session_id

    def request_upload_url(self, name: str) -> FileURLs:
        """Ask the server for an upload URL for one file (the browser does this before every upload)."""
        msg = BackMsg()
        request_id = uuid.uuid4().hex
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        self._send(msg)
        messages, _ = self._receive_until(
            lambda m: (
                m.WhichOneof("type") == "file_urls_response"
                and m.file_urls_response.response_id == request_id
            )
        )
        response = messages[-1].file_urls_response
        if response.error_msg:
            raise RuntimeError(f"upload refused: {response.error_msg}")
        return response.file_urls[0]

    def upload(self, widget_id: str, name: str, data: bytes) -> WidgetState:
        """Upload a file the way the browser does; returns the uploader's widget state for the next rerun."""
        urls = self.request_upload_url(name)
        self.put(urls.upload_url, name, data).raise_for_status()
        state = WidgetState(id=widget_id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        return state

    def _http(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP request, retried once when a reused keep-alive connection was closed by the server.

        uvicorn closes idle keep-alive connections after 5 s; under load a tab's next request can race that
        close. Browsers retry such a request transparently, so the simulated tab does too (and counts it)."""
        self.requests += 1
        url = self.base_url + url if url.startswith("/") else url
        try:
            return self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError:
            self.retries += 1
            return self.http.request(method, url, timeout=self.timeout, **kwargs)

    def put(self, upload_url: str, name: str, data: bytes) -> requests.Response:
        return self._http(
            "PUT",
            upload_url,
            files={"file": (name, data, "application/octet-stream")},
            headers={"X-Xsrftoken": self.xsrf, "Origin": self.base_url},
        )

    def fetch(self, url: str) -> bytes:
        response = self._http("GET", url)
        response.raise_for_status()
        return response.content

    def download(self, button: Any) -> bytes:
        """A download button's file as the browser gets it (see ``download_url``)."""
        return self.fetch(self.download_url(button))

    def download_url(self, button: Any) -> str:
        """A download button's URL, or, for a file generated on click (``data`` a callable), the URL the server
        returns to the browser's deferred-file request (which generates the file)."""
        url = button.url
        if not url and button.deferred_file_id:
            msg = BackMsg()
            request = msg.backend_operation_request
            request.request_id = uuid.uuid4().hex
            request.session_id = self.session_id
            request.deferred_file.file_id = button.deferred_file_id
            self._send(msg)
            self.requests += 1
            messages, _ = self._receive_until(
                lambda m: (
                    m.WhichOneof("type") == "backend_operation_response"
                    and m.backend_operation_response.request_id == request.request_id
                )
            )
            response = messages[-1].backend_operation_response
            if response.error_msg:
                raise RuntimeError(f"download refused: {response.error_msg}")
            url = response.deferred_file.url
        return url

    def close(self) -> None:
        self._stack.close()
        self.ws = None
        self.http.close()


# --- profiles and one user's visit --------------------------------------------------------------------------


@dataclass
class Profile:
    """One simulated user's upload: a unique sample name (the cross-talk marker) and the file's bytes."""

    sample: str
    filename: str
    data: bytes


def make_profiles(examples: pd.DataFrame, n: int, run_id: str, seed: int = 0) -> list[Profile]:
    """``n`` different single-sample profiles: an example cell line (samples × genes, z) plus noise, written
    as CSV, TSV or gzipped CSV in turn, each with a unique sample name."""
    rng = np.random.default_rng(seed)
    profiles = []
    for i in range(n):
        base = examples.iloc[i % len(examples)].to_numpy(dtype=float)
        values = base + rng.normal(0.0, 0.3, base.size)
        sample = f"LOADTEST-{run_id}-S{i:03d}"
        frame = pd.DataFrame({sample: values}, index=pd.Index(examples.columns, name="gene"))
        if i % 3 == 1:
            profiles.append(
                Profile(sample, f"{sample}.tsv", frame.to_csv(sep="\t", float_format="%.5f").encode())
            )
        elif i % 3 == 2:
            data = gzip.compress(frame.to_csv(float_format="%.5f").encode(), mtime=0)
            profiles.append(Profile(sample, f"{sample}.csv.gz", data))
        else:
            profiles.append(Profile(sample, f"{sample}.csv", frame.to_csv(float_format="%.5f").encode()))
    return profiles


@dataclass
class Visit:
    """What one simulated user saw, plus timings; filled in by :func:`visit`."""

    profile: Profile
    steps: dict[str, float] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)  # when each step ended (time.perf_counter())
    errors: list[str] = field(default_factory=list)
    upload_limit_mb: int | None = None
    table: pd.DataFrame | None = None  # the Predict page's table (top 25)
    predictions_csv: pd.DataFrame | None = None  # "Download all predictions for this sample"
    genes_csv: pd.DataFrame | None = None  # the Explain page's "top genes" download
    raw: bytes = b""  # every byte the server sent to this tab
    requests: int = 0
    retries: int = 0
    session_id: str = ""
    tab: BrowserSession | None = field(default=None, repr=False)  # kept open: sessions are simultaneous


def visit(base_url: str, profile: Profile, explain: bool = True, timeout: float = 120.0) -> Visit:
    """Open the Predict page, upload the profile, read the predictions, optionally open Explain.

    Never raises: any failure is recorded in ``Visit.errors`` so that one broken session does not hide the
    figures of the others.
    """
    result = Visit(profile)
    tab = BrowserSession(base_url, timeout)
    raw = bytearray()
    try:
        start = result.marks["start"] = time.perf_counter()
        tab.connect()
        first = tab.run(page="predict")
        raw += first.raw
        result.marks["open"] = time.perf_counter()
        result.steps["open"] = result.marks["open"] - start
        uploaders = first.elements("file_uploader")
        if not uploaders:
            raise RuntimeError(f"no file uploader on the Predict page; errors: {first.errors()}")
        result.upload_limit_mb = int(uploaders[0].max_upload_size_mb)
        start = time.perf_counter()
        state = tab.upload(uploaders[0].id, profile.filename, profile.data)
        result.marks["upload_sent"] = time.perf_counter()
        predicted = tab.run(widgets=[state])
        raw += predicted.raw
        result.marks["upload_predict"] = time.perf_counter()
        result.steps["upload_predict"] = result.marks["upload_predict"] - start
        result.errors += predicted.errors()
        frames = [
            f for f in predicted.dataframes() if {"rank", "drug"} <= set(f.columns)
        ]  # the ranked table, not entries or neighbours
        result.table = frames[-1] if frames else None
        buttons = predicted.download_buttons()
        label = next((k for k in buttons if "this sample" in k), None)
        if label:
            result.predictions_csv = pd.read_csv(
                io.BytesIO(tab.download(buttons[label])), dtype={"drug_id": str}
            )
        if explain:
            result.marks["predictions_csv"] = time.perf_counter()
            explained = tab.run(page="explain")
            raw += explained.raw
            result.marks["explain"] = time.perf_counter()
            result.steps["explain"] = explained.seconds
            result.errors += explained.errors()
            buttons = explained.download_buttons()
            label = next((k for k in buttons if "top genes" in k), None)
            if label:
                result.genes_csv = pd.read_csv(io.BytesIO(tab.download(buttons[label])))
        result.session_id = tab.session_id
    except Exception as exc:  # noqa: BLE001 - recorded, reported and asserted on by the caller
        result.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        result.raw = bytes(raw)
        result.requests = tab.requests
        result.retries = tab.retries
        result.tab = tab
    return result


def close_visits(visits: Iterable[Visit]) -> None:
    for v in visits:
        if v.tab is not None:
            v.tab.close()
            v.tab = None


# --- checking what the sessions saw against the API --------------------------------------------------------


def check_visit(neurix: Any, v: Visit, markers: Sequence[str], explain: bool = True) -> list[str]:
    """Problems with one session: its predictions/explanations differ from direct API calls on its own
    profile, or it received another session's sample name (cross-talk). Empty list = correct."""
    from neurix_core.report.text import drug_labels

    problems = [f"error shown: {e}" for e in v.errors]
    sample = v.profile.sample
    for other in markers:
        if other != sample and other.encode() in v.raw:
            problems.append(f"cross-talk: received {other}")
    if sample.encode() not in v.raw:
        problems.append("own sample name never shown")
    parsed = neurix.read_profile(v.profile.data, v.profile.filename)
    expected = neurix.predict(parsed)
    expected = expected[expected["sample"] == sample].sort_values("rank").reset_index(drop=True)
    if v.table is None:
        problems.append("no predictions table")
    else:
        labels = drug_labels(neurix.bundle.drugs)
        top = expected.head(len(v.table))
        if v.table["drug"].tolist() != [labels[k] for k in top["drug_key"]]:
            problems.append("predictions table: drug order differs from Neurix.predict")
        if not np.allclose(v.table["z_log_auc"].to_numpy(float), top["z_log_auc"].to_numpy(float), atol=1e-6):
            problems.append("predictions table: z_log_auc differs from Neurix.predict")
    if v.predictions_csv is None:
        problems.append("no predictions download")
    else:
        got = v.predictions_csv.set_index("drug_key")["z_log_auc"]
        want = expected.set_index("drug_key")["z_log_auc"]
        if set(v.predictions_csv["sample"].astype(str)) != {sample}:
            problems.append("predictions download holds another sample")
        if len(got) != len(want) or not np.allclose(
            got.reindex(want.index).to_numpy(float), want.to_numpy(float), atol=1e-6
        ):
            problems.append("predictions download differs from Neurix.predict")
    if explain:
        if v.genes_csv is None or v.genes_csv.empty:
            problems.append("no explanation download")
        else:
            drugs = expected["drug_key"].head(EXPLAIN_TOP_DRUGS).tolist()
            if set(v.genes_csv["drug_key"]) != set(drugs):
                problems.append("explained drugs are not this sample's top predictions")
            want = neurix.explain(parsed, drugs=drugs, top=None, samples=[sample])
            merged = v.genes_csv.merge(want, on=["drug_key", "gene"], suffixes=("_shown", "_api"))
            if set(v.genes_csv["sample"].astype(str)) != {sample} or len(merged) != len(v.genes_csv):
                problems.append("explanation download holds rows of another sample or unknown genes")
            elif not np.allclose(merged["relevance_shown"], merged["relevance_api"], rtol=1e-4, atol=1e-7):
                problems.append("explanation relevances differ from Neurix.explain")
    return problems


# --- HTTP endpoints -----------------------------------------------------------------------------------------


def http_load(
    base_url: str, threads: int = 20, per_thread: int = 30, paths: Sequence[str] = HTTP_PATHS
) -> dict[str, Any]:
    """``threads`` clients each sending ``per_thread`` GETs (cycling over ``paths``) with keep-alive."""
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def client(index: int) -> None:
        with requests.Session() as http:
            barrier.wait()
            for j in range(per_thread):
                path = paths[(index + j) % len(paths)]
                start = time.perf_counter()
                try:
                    status = http.get(base_url + path, timeout=30).status_code
                    problem = None if status == 200 else f"{path}: HTTP {status}"
                except requests.RequestException as exc:
                    problem = f"{path}: {type(exc).__name__}"
                elapsed = time.perf_counter() - start
                with lock:
                    latencies[path].append(elapsed)
                    if problem:
                        errors.append(problem)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))
    wall = time.perf_counter() - start
    every = [x for values in latencies.values() for x in values]
    return {
        "threads": threads,
        "requests": len(every),
        "errors": len(errors),
        "error_examples": errors[:5],
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(every) / wall, 1),
        **_latency_summary(every, "ms", 1000.0),
        "per_path": {p: _latency_summary(v, "ms", 1000.0) for p, v in latencies.items()},
    }


def cpu_speed_probe_s(repeats: int = 5) -> float:
    """CPU seconds of a fixed piece of interpreter work (dict and string operations, like the server's page
    scripts), best of ``repeats``: how fast this machine's cores are right now, independent of how busy they are.

    Why: on a shared VM the same code measured ~2× more CPU-seconds per session on some days than on others, which
    the load average does not show; tests scale their time bounds by this probe against its reference value."""

    def once() -> float:
        start = time.process_time()
        table: dict[int, str] = {}
        for i in range(300_000):
            table[i % 1000] = str(i)
        sum(len(v) for v in table.values())
        return time.process_time() - start

    return round(min(once() for _ in range(repeats)), 4)


def _loadavg() -> str:
    """The machine's load average (``/proc/loadavg``): latency figures mean little without it."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def _latency_summary(values: Sequence[float], unit: str = "s", scale: float = 1.0) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values) * scale
    return {
        f"p50_{unit}": round(float(np.percentile(array, 50)), 3),
        f"p95_{unit}": round(float(np.percentile(array, 95)), 3),
        f"max_{unit}": round(float(array.max()), 3),
    }


# --- adversarial uploads ------------------------------------------------------------------------------------

ADVERSARIAL_KINDS = ("gzip_bomb", "text_junk", "too_many_values")
FLOOD_FILES = 8  # one session tries to park this many near-limit uploads in server memory
FLOOD_BYTES = 45 * 2**20


def adversarial_files(genes: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    """The review's attack files, each within the 50 MiB upload cap (name → (file name, bytes)).

    * ``gzip_bomb``: ~2 MiB of gzip that unpacks to ~199 MiB of CSV (a gene table repeated);
    * ``text_junk``: ~46.7 MiB of words with no table in them;
    * ``too_many_values``: a ~45 MiB CSV of 200 samples × ~33k rows: each axis within its limit, the cell count
      not.
    """
    rng = np.random.default_rng(7)
    header = "gene," + ",".join(f"S{i}" for i in range(200)) + "\n"
    row_values = ",".join(f"{v:.3f}" for v in rng.uniform(0, 12, 200))
    rows = "".join(f"{g},{row_values}\n" for g in genes[:2000]).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts, size = [packer.compress(header.encode())], len(header)
    while size < 199 * 2**20:
        parts.append(packer.compress(rows))
        size += len(rows)
    parts.append(packer.flush())
    words = np.array(["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"])
    line = " ".join(rng.choice(words, 12)) + "\n"
    junk = (line * (int(46.7 * 2**20) // len(line) + 1)).encode()[: int(46.7 * 2**20)]
    wide_rows = [f"G{i},{row_values}\n" for i in range(int(45 * 2**20) // (len(row_values) + 8))]
    return {
        "gzip_bomb": ("bomb.csv.gz", b"".join(parts)),
        "text_junk": ("junk.txt", junk),
        "too_many_values": ("wide.csv", (header + "".join(wide_rows)).encode()),
    }


@dataclass
class Attack:
    """One adversarial upload's outcome as its uploader saw it."""

    kind: str
    size_mib: float
    status: int = 0  # HTTP status of the upload PUT
    refused_s: float | None = None  # PUT start → the page showing the refusal (or the parsed result)
    sent_s: float | None = None  # of which: asking for the upload URL and sending the file (the HTTP PUT)
    message: str = ""
    error: str = ""
    tab: BrowserSession | None = field(default=None, repr=False)  # kept open like the normal sessions


def attack(base_url: str, kind: str, name: str, data: bytes, timeout: float = 120.0) -> Attack:
    """Upload an attack file through the Predict page like a browser; time until the page answers."""
    result = Attack(kind, round(len(data) / 2**20, 1))
    tab = BrowserSession(base_url, timeout)
    try:
        tab.connect()
        first = tab.run(page="predict")
        uploader = first.elements("file_uploader")[0]
        start = time.perf_counter()
        urls = tab.request_upload_url(name)
        response = tab.put(urls.upload_url, name, data)
        result.sent_s = round(time.perf_counter() - start, 2)
        result.status = response.status_code
        if response.status_code == 204:
            state = WidgetState(id=uploader.id)
            info = state.file_uploader_state_value.uploaded_file_info.add()
            info.name, info.size, info.file_id = name, len(data), urls.file_id
            info.file_urls.CopyFrom(urls)
            answered = tab.run(widgets=[state])
            errors = answered.errors()
            result.message = errors[0] if errors else "accepted"
        else:
            result.message = f"HTTP {response.status_code}: {response.text[:80]}"
        result.refused_s = round(time.perf_counter() - start, 2)
    except Exception as exc:  # noqa: BLE001 - reported with the figures
        result.error = f"{type(exc).__name__}: {exc}"
    result.tab = tab
    return result


def flood(base_url: str, timeout: float = 120.0) -> dict[str, Any]:
    """One session PUTs FLOOD_FILES near-limit uploads without ever submitting them: how many are held?"""
    tab = BrowserSession(base_url, timeout)
    statuses: list[int] = []
    start = time.perf_counter()
    try:
        tab.connect()
        tab.open_session("predict")
        payload = b"0" * FLOOD_BYTES
        for i in range(FLOOD_FILES):
            urls = tab.request_upload_url(f"flood{i}.csv")
            try:
                statuses.append(tab.put(urls.upload_url, f"flood{i}.csv", payload).status_code)
            except requests.ConnectionError:
                statuses.append(-1)  # the server answered and closed before the body was sent: refused
    except Exception as exc:  # noqa: BLE001 - reported with the figures
        statuses.append(-1)
        return {"statuses": statuses, "error": f"{type(exc).__name__}: {exc}", "tab": tab}
    return {
        "statuses": statuses,
        "accepted": statuses.count(204),
        "seconds": round(time.perf_counter() - start, 2),
        "tab": tab,  # kept open: its accepted uploads stay held until the end, as an attacker would keep them
    }


# --- the whole scenario -------------------------------------------------------------------------------------


def _wave(
    server: StreamlitServer,
    profiles: Sequence[Profile],
    explain: bool,
    attacks_in: dict[str, tuple[str, bytes]],
    flooding: bool,
    http_threads: int,
    http_per_thread: int,
) -> dict[str, Any]:
    """Start ``profiles``' sessions, the attacks, the flood and the HTTP clients at the same instant; wait for all.

    Returns the visits, attacks, flood and HTTP results, its wall time, where the CPU went and when each session's
    steps ended."""
    http_result: dict[str, Any] = {}
    http_thread = (
        threading.Thread(
            target=lambda: http_result.update(http_load(server.base_url, http_threads, http_per_thread))
        )
        if http_threads > 0
        else None
    )
    barrier = threading.Barrier(len(profiles) + len(attacks_in) + (1 if flooding else 0))

    def simultaneous(profile: Profile) -> Visit:
        barrier.wait()  # every session starts at the same moment
        return visit(server.base_url, profile, explain)

    def hostile(kind: str) -> Attack:
        barrier.wait()  # the attacks start with the normal sessions
        return attack(server.base_url, kind, *attacks_in[kind])

    def flood_at_once() -> dict[str, Any]:
        barrier.wait()
        return flood(server.base_url)

    start = time.perf_counter()
    cpu_before = {"server": cpu_seconds(server.pid, children=False), "all": cpu_seconds(server.pid)}
    cpu_before["load_generator"] = own_cpu_seconds()
    with ThreadPoolExecutor(barrier.parties) as pool:
        futures = [pool.submit(simultaneous, p) for p in profiles]
        attack_futures = [pool.submit(hostile, kind) for kind in attacks_in]
        flood_future = pool.submit(flood_at_once) if flooding else None
        if http_thread is not None:
            http_thread.start()
        visits = [f.result() for f in futures]
        attacks = [f.result() for f in attack_futures]
        flooded = flood_future.result() if flood_future is not None else {}
    wall = time.perf_counter() - start
    if http_thread is not None:
        http_thread.join()
    server_cpu = cpu_seconds(server.pid, children=False) - cpu_before["server"]
    steps: dict[str, list[float]] = {}
    for v in visits:
        for name, seconds in v.steps.items():
            steps.setdefault(name, []).append(seconds)
    return {
        "visits": visits,
        "attacks": attacks,
        "flood": flooded,
        "http": http_result,
        "wave_s": round(wall, 2),
        "wave_cpu_s": {  # where the cores went during the wave (the load generator shares them)
            "server_process": round(server_cpu, 2),
            "upload_workers": round(cpu_seconds(server.pid) - cpu_before["all"] - server_cpu, 2),
            "load_generator": round(own_cpu_seconds() - cpu_before["load_generator"], 2),
        },
        "session_step_latency_s": {name: _latency_summary(values) for name, values in steps.items()},
        # when each session's steps ended, seconds after the wave started (sorted by predictions shown): which
        # step a slow session waited in, and behind whom
        "wave_timeline_s": sorted(
            ({k: round(t - start, 2) for k, t in v.marks.items()} for v in visits),
            key=lambda marks: marks.get("upload_predict", float("inf")),
        ),
    }


def run_scenario(
    sessions: int = 20,
    warmup: int = 5,
    explain: bool = True,
    http_threads: int = 20,
    http_per_thread: int = 30,
    log_dir: Path | None = None,
    neurix: Any = None,
    adversarial: bool = True,
) -> tuple[dict[str, Any], list[Visit], Path]:
    """Start one server; ``warmup`` sessions; then the **capacity wave**: ``sessions`` simultaneous sessions and
    nothing else (the latency figures); then the **hostile wave**: ``sessions`` more, together with the attacks,
    the flood and ``http_threads`` HTTP clients (memory, refusals, HTTP under load, latency under attack).
    Every session stays connected to the end; each is checked against the API.

    Without ``adversarial`` and HTTP clients there is no hostile wave. Returns (figures, visits, server log
    path). ``neurix`` (a loaded Neurix) is loaded here when not given.
    """
    from neurix_core.api import Neurix

    neurix = neurix or Neurix.load(os.environ.get("NEURIX_BUNDLE") or None)
    hostile_wave = adversarial or http_threads > 0
    run_id = uuid.uuid4().hex[:10]
    profiles = make_profiles(
        neurix.example_profiles(), warmup + sessions * (2 if hostile_wave else 1), run_id
    )
    markers = [p.sample for p in profiles]
    attacks_in = adversarial_files(list(neurix.bundle.genes)) if adversarial else {}
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    log_path = log_dir / f"neurix_load_test_server_{run_id}.log"
    visits: list[Visit] = []
    figures: dict[str, Any] = {}
    load_before = _loadavg()
    speed_probe = cpu_speed_probe_s()
    started = time.perf_counter()
    with StreamlitServer(log_path) as server:
        memory = {"server_started": server.rss_mib()}
        start = time.perf_counter()
        visits += [visit(server.base_url, profiles[0], explain)]  # loads the model (st.cache_resource)
        figures["first_session_s"] = round(time.perf_counter() - start, 2)
        memory["after_first_session"] = server.rss_mib()
        with ThreadPoolExecutor(max(1, warmup - 1)) as pool:
            visits += list(pool.map(lambda p: visit(server.base_url, p, explain), profiles[1:warmup]))
        memory[f"after_{warmup}_sessions"] = server.rss_mib()

        capacity = _wave(server, profiles[warmup : warmup + sessions], explain, {}, False, 0, 0)
        visits += capacity["visits"]
        memory[f"after_{warmup + sessions}_sessions"] = server.rss_mib()
        load_between = _loadavg()
        hostile: dict[str, Any] = {"attacks": [], "flood": {}, "http": {}}
        if hostile_wave:
            hostile = _wave(
                server,
                profiles[warmup + sessions :],
                explain,
                attacks_in,
                adversarial,
                http_threads,
                http_per_thread,
            )
            visits += hostile["visits"]
            memory[f"after_{len(visits)}_sessions"] = server.rss_mib()
        memory["peak"] = max(server.peak_mib(), *memory.values())  # sampled every 0.5 s, and each reading
        metrics = server.metrics()
        connected = int(metrics.get("active_sessions", -1))
        idle_http = http_load(server.base_url, http_threads, http_per_thread) if http_threads > 0 else {}
        close_visits(visits)
        for hostile_tab in [a.tab for a in hostile["attacks"]] + [hostile["flood"].pop("tab", None)]:
            if hostile_tab is not None:
                hostile_tab.close()
        deadline = time.monotonic() + 15
        connected_after_close = int(server.metrics().get("active_sessions", -1))
        while connected_after_close > 0 and time.monotonic() < deadline:
            time.sleep(0.2)  # the server notices closed websockets asynchronously
            connected_after_close = int(server.metrics().get("active_sessions", -1))
    figures["server_phase_s"] = round(time.perf_counter() - started, 2)
    start = time.perf_counter()
    problems = {v.profile.sample: check_visit(neurix, v, markers, explain) for v in visits}
    figures["check_s"] = round(time.perf_counter() - start, 2)
    log_text = log_path.read_bytes()
    leaks = [m for m in markers if m.encode() in log_text]
    growth = memory[f"after_{warmup + sessions}_sessions"] - memory[f"after_{warmup}_sessions"]
    attacks = hostile["attacks"]
    http_result = hostile["http"]
    n_adversarial = len(attacks_in) + (1 if adversarial else 0)
    figures.update(
        {
            "source": "benchmarks/load_test.py",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpu_speed_probe_s": speed_probe,
                "cpu_speed_reference_s": REFERENCE_SPEED_PROBE_S,
            },
            "model_version": neurix.bundle.version,
            "sessions": {
                "total": len(visits),
                "simultaneous": sessions,
                "warmup": warmup,
                "waves": 2 if hostile_wave else 1,
                "explain": explain,
                "ok": sum(1 for p in problems.values() if not p),
                "failed": sum(1 for p in problems.values() if p),
                "connected_during_test": connected,
                "connected_after_close": connected_after_close,
                "distinct_session_ids": len({v.session_id for v in visits if v.session_id}),
                "upload_limit_mb_shown": sorted({v.upload_limit_mb for v in visits if v.upload_limit_mb}),
                "requests": sum(v.requests for v in visits),
                "keep_alive_retries": sum(v.retries for v in visits),
                "problems": {k: p for k, p in problems.items() if p},
            },
            # the capacity wave: ``sessions`` users at the same instant, nothing else
            "wave_s": capacity["wave_s"],
            "wave_cpu_s": capacity["wave_cpu_s"],
            "session_step_latency_s": capacity["session_step_latency_s"],
            "wave_timeline_s": capacity["wave_timeline_s"],
            # the hostile wave: as many users again, with the attacks, the flood and the HTTP clients
            "hostile_wave": {
                k: v for k, v in hostile.items() if k not in ("visits", "attacks", "flood", "http")
            },
            "http_during_wave": http_result,
            "http_idle": idle_http,
            "memory_mib": {k: round(v, 1) for k, v in memory.items()},
            "memory_growth_mib": {  # over the capacity wave: what a normal session costs
                "total": round(growth, 1),
                "per_session": round(growth / max(1, sessions), 2),
            },
            "server_log_leaks": leaks,
            "adversarial": {
                "uploads": [{k: v for k, v in a.__dict__.items() if k != "tab"} for a in attacks],
                "sessions": n_adversarial,
                "flood": hostile["flood"],
                "max_refusal_s": max((a.refused_s or 0.0 for a in attacks), default=0.0),
            },
            "load_before": load_before,
            "load_between_waves": load_between,
            "load_after": _loadavg(),
        }
    )
    figures["requests_total"] = (
        figures["sessions"]["requests"] + http_result.get("requests", 0) + idle_http.get("requests", 0)
    )
    figures["errors_total"] = (
        figures["sessions"]["failed"] + http_result.get("errors", 0) + idle_http.get("errors", 0)
    )
    return figures, visits, log_path


def summary_lines(figures: dict[str, Any]) -> list[str]:
    """Human-readable figures (printed by the benchmark and by the test)."""
    s = figures["sessions"]
    mem = figures["memory_mib"]
    waves = s.get("waves", 1)
    lines = [
        f"sessions: {s['total']} ({s['warmup']} warm-up, then {waves} wave(s) of {s['simultaneous']} simultaneous), "
        f"ok {s['ok']}, failed {s['failed']}, connected at once {s['connected_during_test']}",
        f"requests: {figures['requests_total']} total, errors {figures['errors_total']} "
        f"(stale keep-alive connections retried: {s['keep_alive_retries']})",
        f"capacity wave ({s['simultaneous']} sessions at once, nothing else): {figures['wave_s']:.1f} s",
    ]
    lines += _latency_lines(figures["session_step_latency_s"])
    hostile = figures.get("hostile_wave") or {}
    if hostile:
        lines.append(
            f"hostile wave ({s['simultaneous']} more sessions with the attacks, the flood and the HTTP clients): "
            f"{hostile['wave_s']:.1f} s"
        )
        lines += _latency_lines(hostile["session_step_latency_s"])
    for label in ("http_during_wave", "http_idle"):
        h = figures[label]
        if h:
            lines.append(
                f"{label}: {h['requests']} requests from {h['threads']} threads, {h['errors']} errors, "
                f"p50 {h['p50_ms']:.1f} ms, p95 {h['p95_ms']:.1f} ms, max {h['max_ms']:.1f} ms"
            )
    lines.append("server RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in mem.items()))
    g = figures["memory_growth_mib"]
    lines.append(
        f"memory growth over the capacity wave: {g['total']:.0f} MiB ({g['per_session']:.1f} MiB/session)"
    )
    lines.append(f"first session (model load): {figures['first_session_s']:.1f} s")
    for name, wave in (("capacity", figures), ("hostile", hostile)):
        if "wave_cpu_s" in wave:
            cpu = wave["wave_cpu_s"]
            lines.append(
                f"CPU during the {name} wave: server process {cpu['server_process']:.1f} s, upload workers "
                f"{cpu['upload_workers']:.1f} s, load generator (simulated browsers, same cores) "
                f"{cpu['load_generator']:.1f} s"
            )
    adv = figures.get("adversarial", {})
    for a in adv.get("uploads", []):
        lines.append(
            f"adversarial {a['kind']} ({a['size_mib']} MiB): HTTP {a['status']}, answered in {a['refused_s']} s "
            f"(sent in {a.get('sent_s')} s): "
            f"{(a['message'] or a['error'])[:110]}"
        )
    if adv.get("flood"):
        lines.append(
            f"upload flood ({FLOOD_FILES} × {FLOOD_BYTES // 2**20} MiB, one session): {adv['flood']}"
        )
    lines.append(
        f"CPU speed probe: {figures['machine'].get('cpu_speed_probe_s')} CPU-s (reference {REFERENCE_SPEED_PROBE_S} s)"
    )
    lines.append(
        f"machine load (1/5/15 min) before: {figures.get('load_before')}; between the waves: "
        f"{figures.get('load_between_waves')}; after: {figures.get('load_after')}"
    )
    return lines


def _latency_lines(latency: dict[str, dict[str, float]]) -> list[str]:
    return [
        f"  {name:15s} p50 {lat['p50_s']:.2f} s  p95 {lat['p95_s']:.2f} s  max {lat['max_s']:.2f} s"
        for name, lat in latency.items()
    ]


def write_results(figures: dict[str, Any], path: Path = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1, default=str) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="simultaneous sessions in each wave")
    parser.add_argument("--warmup", type=int, default=5, help="sessions before the wave (memory baseline)")
    parser.add_argument("--no-explain", action="store_true", help="skip the Explain page (predictions only)")
    parser.add_argument("--http-threads", type=int, default=20, help="HTTP clients in the hostile wave")
    parser.add_argument("--http-requests", type=int, default=30, help="requests per HTTP thread")
    parser.add_argument("--no-adversarial", action="store_true", help="skip the attack uploads")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    figures, _, log_path = run_scenario(
        sessions=args.sessions,
        warmup=max(1, args.warmup),
        explain=not args.no_explain,
        http_threads=args.http_threads,
        http_per_thread=args.http_requests,
        adversarial=not args.no_adversarial,
    )
    print("\n".join(summary_lines(figures)))
    if figures["sessions"]["problems"]:
        print(json.dumps(figures["sessions"]["problems"], indent=1))
    write_results(figures, args.out)
    print(f"written to {args.out}")
    ok = figures["errors_total"] == 0 and not figures["server_log_leaks"]
    if ok:
        log_path.unlink(missing_ok=True)
    else:
        print(f"server log kept: {log_path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
