"""Neurix's server entry point for shared deployments: ``streamlit run dashboard/server.py``.

It serves the same dashboard (``dashboard/app.py``) with Neurix's guard in front of Streamlit's routes
(``dashboard/guard.py``: metrics endpoint closed, uploads only from sessions allowed to see pages and within
memory budgets, closed tabs released on time). With login configured the app refuses to serve pages unless this
guard is installed, so a server started as ``streamlit run dashboard/app.py`` fails closed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402 - after the path fix
from starlette.middleware import Middleware  # noqa: E402

from dashboard.guard import GuardMiddleware  # noqa: E402

THREADS_ENV = "NEURIX_TORCH_THREADS"


def limit_compute_threads() -> int:
    """One torch and one BLAS thread per request (``$NEURIX_TORCH_THREADS`` overrides); returns the number set.

    Why: the server runs every session's script in a thread of its own, and the upload workers forked below are
    one process per core, so concurrent requests already share the cores. Torch's default (an intra-op thread per
    core for each request) made 20 simultaneous explanations spin 40 threads on 2 cores: measured 2-3.7 CPU-s per
    Explain page, against 1.0 CPU-s single-threaded for the same numbers. numpy's OpenBLAS pool did the same on a
    smaller scale: its second thread busy-waits after every product, so one upload's parse-and-predict took 0.22
    CPU-s for 0.11 s of wall time, and 0.11 CPU-s with one BLAS thread (same wall time).
    """
    import torch
    from threadpoolctl import threadpool_limits

    threads = max(1, int(os.environ.get(THREADS_ENV) or 1))
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # settable only before the first parallel region
        torch.set_num_interop_threads(threads)
    threadpool_limits(limits=threads, user_api="blas")  # process-wide, and inherited by the forked workers
    return threads


def start_workers() -> int:
    """Load the model and fork the upload workers (``dashboard/workers.py``) before anyone is served.

    The model is loaded through the pages' own cache, so the first visitor does not wait for it and the workers
    share its memory. A model that cannot be loaded starts no workers: the pages show the error as before.
    """
    import logging

    from dashboard import widgets, workers

    context_log = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = context_log.level
    context_log.setLevel(logging.ERROR)  # "missing ScriptRunContext": expected, no page runs yet
    try:
        neurix = widgets.get_neurix(quiet=True)
    finally:
        context_log.setLevel(level)
    return workers.start(neurix) if neurix is not None else 0


limit_compute_threads()
start_workers()
app = st.App(Path(__file__).resolve().parent / "app.py", middleware=[Middleware(GuardMiddleware)])
