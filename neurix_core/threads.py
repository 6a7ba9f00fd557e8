"""Torch's thread count applied to the calling thread.

Why: ``torch.set_num_threads`` sets OpenMP's thread count for the thread that calls it. A thread started later (a
Dask or thread-pool worker running cohort partitions, each Streamlit script run of the dashboard) starts from
OpenMP's default, every core or ``OMP_NUM_THREADS``, while ``torch.get_num_threads()`` still reports the process
setting. Measured on the 2-core reference machine: a 500 × 5,778 × 697 product in a new thread ran on 2 threads
after the main thread had set 1, so two partitions (or two sessions) at once ran four threads on two cores.
"""

from __future__ import annotations


def adopt_torch_threads() -> int:
    """Apply the process's torch thread count to this thread (cheap: call it at the start of each task or run)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads
