"""Worker processes for the server's heavy per-upload work, so that a shared server uses more than one core.

Why: Streamlit runs every session's script as a thread of one Python process, so the pure-Python part of reading
and predicting an upload (about half of an upload's CPU) of 20 simultaneous users ran on one core while the other
idled. Here that work runs in ``NEURIX_WORKERS`` processes (default: one per core).

How: ``dashboard/server.py`` loads the model, then forks the workers before it serves anyone (no session exists
yet, and only Streamlit's start-up threads run), so the workers share the model's memory with the server
(copy-on-write) instead of loading their own. A job is a module-level function and its arguments (the upload's
bytes and settings), pickled to a worker; its result (or ``NeurixError``) comes back pickled. Nothing is written
to disk, and a worker keeps nothing of an upload after its job returns: the privacy model of ``widgets`` holds.

Without started workers (tests with ``AppTest``, ``streamlit run dashboard/app.py``, ``NEURIX_WORKERS=0``) jobs
run in the calling thread, the same code. A worker that dies (killed, out of memory) breaks the pool: its job ends
in a clear error (not retried in the server: it may be what killed the worker), the event is logged, and later
jobs run in the server process.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from dashboard.pacing import MAX_WAIT_S, PAGE_TURNS
from neurix_core.admission import FairGate
from neurix_core.errors import NeurixError

LOG = logging.getLogger("neurix.dashboard")
T = TypeVar("T")
M = TypeVar("M")

WORKERS_ENV = "NEURIX_WORKERS"
PR_SET_PDEATHSIG = 1  # prctl(2): a signal for this process when its parent ends

_pool: ProcessPoolExecutor | None = None
_slots = FairGate(0)  # one per worker: jobs wait here, in the page turns' order, not in the pool's FIFO queue
_model: object = None  # the model the workers were forked with (theirs is this object's copy-on-write twin)
_lock = threading.Lock()


def worker_count() -> int:
    """``$NEURIX_WORKERS`` (0 = none), else one per core."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    return max(0, int(value)) if value else os.cpu_count() or 1


def start(model: object, processes: int | None = None) -> int:
    """Fork the worker processes now, serving ``model`` (call before serving anyone); returns how many run (0:
    jobs run inline)."""
    global _pool, _model, _slots
    processes = worker_count() if processes is None else processes
    if processes <= 0 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    with _lock:
        if _pool is None:
            _model = model
            pool = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_worker_started,
                initargs=(os.getpid(),),
            )
            # the first job forks every worker at once (the fork start method starts them all up front), here and
            # not later from a server thread while other sessions' threads run
            pool.submit(os.getpid).result()
            _slots = FairGate(processes)
            _pool = pool
    return processes


def stop() -> None:
    """Shut the workers down (tests; the server's exit does it too)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def running() -> bool:
    return _pool is not None


def run(model: M, job: Callable[..., T], *args: object) -> T:
    """``job(model, *args)`` in a worker process when the workers serve ``model``, else here (another model, or
    no workers). ``job`` must be a module-level function; exceptions are re-raised here."""
    pool, slots = _pool, _slots
    if pool is None or model is not _model:
        return job(model, *args)
    with PAGE_TURNS.paused():  # the server's interpreter is free for other pages meanwhile
        # a free worker, the least-served session's job first (as the page turns); after MAX_WAIT_S, the pool's queue
        slot = slots.acquire(1, MAX_WAIT_S, priority=PAGE_TURNS.priority())
        try:
            return _run_in(pool, model, job, args)
        finally:
            if slot:
                slots.release(1)


def _run_in(pool: ProcessPoolExecutor, model: M, job: Callable[..., T], args: tuple) -> T:
    try:
        future = pool.submit(_in_worker, job, args)
    except (BrokenProcessPool, RuntimeError):  # broken, or shut down meanwhile: this server process does it
        _forget(pool)
        return job(model, *args)
    started = time.monotonic()
    try:
        return future.result()
    except BrokenProcessPool as exc:
        # not retried here: the job may be what killed the worker (memory), and must not take the server down too
        _forget(pool)
        raise NeurixError(
            "The server could not finish this request (a worker process stopped). Try again; if it happens "
            "again with the same file, split it or tell the Neurix maintainers."
        ) from exc
    finally:
        PAGE_TURNS.worked(time.monotonic() - started)  # the session's use of the server (dashboard/pacing.py)


def _worker_started(server_pid: int) -> None:
    """In each worker: end with the server, however it ends (even killed), and leave Ctrl-C to the server."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # not the server's SIGTERM handler (inherited by the fork): just end
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):  # Linux; elsewhere workers end when their queue closes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != server_pid:  # the server ended before the line above took effect
        os._exit(0)


def _in_worker(job: Callable[..., T], args: tuple) -> T:
    return job(_model, *args)


def _forget(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            LOG.error("a worker process died; uploads are processed in the server process from now on")
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)
