"""Server CPU-seconds per step of one dashboard session: open Predict, upload → predictions, Explain.

Why CPU-seconds and one session at a time: the load test's latencies (``benchmarks/load_test.py``) are what 20
simultaneous sessions see, and on a 2-core machine they are roughly the sum of the server's CPU work per session
divided by the cores. That sum is what the code controls, and unlike wall time it barely depends on what else the
(shared) machine runs. Each step is timed by the utime + stime of the server process and its upload workers
(``/proc/<pid>/stat``) before and after, with the same simulated browser tab as the load test; ``*_server_cpu_s``
is the server process's own share (the part that one Python interpreter runs, whatever the cores).

Usage (from the repository root)::

    python benchmarks/session_cpu.py                 # 2 warm-up sessions, then 6 measured ones
    python benchmarks/session_cpu.py --sessions 10 --out /tmp/session_cpu.json

Prints the median and maximum CPU-s per step and writes ``benchmarks/results/session_cpu.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load_test import BrowserSession, StreamlitServer, cpu_seconds, make_profiles  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "session_cpu.json"


def one_session(server: StreamlitServer, profile: Any, explain: bool = True) -> dict[str, float]:
    """CPU-s and wall-s of each step of one visit (the load test's steps), measured on the server process."""
    figures: dict[str, float] = {}
    tab = BrowserSession(server.base_url)
    try:
        before = cpu_seconds(server.pid)
        start = time.perf_counter()
        tab.connect()
        first = tab.run(page="predict")
        figures["open_cpu_s"] = cpu_seconds(server.pid) - before
        figures["open_wall_s"] = time.perf_counter() - start
        uploader = first.elements("file_uploader")[0]
        before, own = cpu_seconds(server.pid), cpu_seconds(server.pid, children=False)
        start = time.perf_counter()
        state = tab.upload(uploader.id, profile.filename, profile.data)
        predicted = tab.run(widgets=[state])
        figures["upload_predict_cpu_s"] = cpu_seconds(server.pid) - before
        figures["upload_predict_server_cpu_s"] = cpu_seconds(server.pid, children=False) - own
        figures["upload_predict_wall_s"] = time.perf_counter() - start
        figures["upload_predict_kib_sent"] = len(predicted.raw) / 1024
        if predicted.errors():
            raise RuntimeError(f"errors shown: {predicted.errors()}")
        if explain:
            before, own = cpu_seconds(server.pid), cpu_seconds(server.pid, children=False)
            start = time.perf_counter()
            explained = tab.run(page="explain")
            figures["explain_cpu_s"] = cpu_seconds(server.pid) - before
            figures["explain_server_cpu_s"] = cpu_seconds(server.pid, children=False) - own
            figures["explain_wall_s"] = time.perf_counter() - start
            figures["explain_kib_sent"] = len(explained.raw) / 1024
            if explained.errors():
                raise RuntimeError(f"errors shown: {explained.errors()}")
    finally:
        tab.close()
    return figures


def run(sessions: int = 6, warmup: int = 2, explain: bool = True) -> dict[str, Any]:
    from neurix_core.api import Neurix

    neurix = Neurix.load(os.environ.get("NEURIX_BUNDLE") or None)
    profiles = make_profiles(neurix.example_profiles(), warmup + sessions, uuid.uuid4().hex[:10])
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"neurix_session_cpu_{os.getpid()}.log"
    load_before = os.getloadavg()
    with StreamlitServer(log) as server:
        for profile in profiles[:warmup]:
            one_session(server, profile, explain)
        measured = [one_session(server, p, explain) for p in profiles[warmup:]]
    log.unlink(missing_ok=True)
    steps = {}
    for name in measured[0]:
        values = [m[name] for m in measured]
        steps[name] = {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}
    return {
        "source": "benchmarks/session_cpu.py",
        "sessions_measured": sessions,
        "warmup": warmup,
        "steps": steps,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=6, help="measured sessions (one after another)")
    parser.add_argument("--warmup", type=int, default=2, help="sessions before measuring (caches, imports)")
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    figures = run(args.sessions, max(1, args.warmup), not args.no_explain)
    for name, value in figures["steps"].items():
        print(f"{name:24s} median {value['median']:8.3f}  max {value['max']:8.3f}")
    print(f"load average before {figures['load_before']}, after {figures['load_after']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
