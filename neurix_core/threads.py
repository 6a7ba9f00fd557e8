"""Maths threads (torch's OpenMP pool, numpy's BLAS) for code that runs several tasks at once in one process.

Why here, in one place: cohort partitions run on threads of one process (``--scheduler inline``, the default local
Dask cluster) or on Dask worker processes, and the dashboard runs each session's script on a new thread; each needs
its maths on as many threads as it was given, no more.

* ``adopt_torch_threads``: ``torch.set_num_threads`` sets OpenMP's thread count for the thread that calls it. A
  thread started later (a partition's worker thread, a Streamlit script run) starts from OpenMP's default, every
  core or ``OMP_NUM_THREADS``, while ``torch.get_num_threads()`` still reports the process setting. Measured on the
  2-core reference machine: a 500 × 5,778 × 697 product in a new thread ran on 2 threads after the main thread had
  set 1, so two partitions (or two sessions) at once ran four threads on two cores.
* ``math_threads``: torch's and BLAS's thread counts for a block (partitions on threads of this process), restored
  after.
* ``tune_worker_process``: the same, for good, on a Dask worker process, plus glibc's allocator thresholds that
  Dask's nanny changed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def adopt_torch_threads() -> int:
    """Apply the process's torch thread count to this thread (cheap: call it at the start of each task or run)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads


@contextmanager
def math_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads and numpy's BLAS threads (both process-wide) set for the block, restored after;
    ``None`` leaves them.

    Partitions running on several threads of this process each do their products on their own thread (a BLAS
    pool per call would oversubscribe the cores, and OpenBLAS serialises concurrent callers: measured 10 % more
    samples/s with one BLAS thread at 2 partitions on 2 cores).
    """
    import torch
    from threadpoolctl import threadpool_limits

    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


def tune_worker_process() -> None:
    """One torch and one BLAS thread per task, and glibc's allocator reusing freed memory (Dask worker processes).

    Why: a worker runs one partition per thread, so more maths threads oversubscribe the cores it was given (not
    every core of the node). Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_``, which in glibc also fixes the mmap
    threshold at 128 KiB, so every array above it is a fresh mapping whose pages fault in again (measured: a
    partition's CPU +12 %, the compound consensus +50 %); fixed thresholds at glibc's own dynamic maxima (32 MiB
    mmap, 64 MiB trim) restore reuse with bounded slack.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")
    if "MALLOC_TRIM_THRESHOLD_" in os.environ and sys.platform.startswith("linux"):
        _fix_glibc_thresholds()


def _fix_glibc_thresholds() -> None:
    import ctypes
    import ctypes.util

    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(m_mmap_threshold, 32 * 2**20)
        libc.mallopt(m_trim_threshold, 64 * 2**20)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to undo
        pass
