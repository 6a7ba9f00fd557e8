"""Large float32 matrix products on numpy's BLAS (OpenBLAS) instead of torch's (MKL), where torch runs on one thread.

Why: on the 2-core reference machine (AMD EPYC), MKL's single-threaded sgemm ran the products that dominate a
cohort's predictions and top genes at about half OpenBLAS's speed (micro-benchmarks, one thread each):

* 8 profiles × (537 × 128) @ (128 × 5,778), the top-genes product: torch ``bmm`` 217-249 ms, numpy 120-126 ms;
* (128 × 256) @ (256 × 5,778), the LRP basis's first-layer step per profile: torch 13-16 ms, numpy 7 ms;
* (500 × 5,778) @ (5,778 × 697), a partition's linear part: torch 95 ms, numpy 59 ms.

In ``benchmarks/cohort_scale.py`` the top-20-genes stage went from 79 to 63 CPU-s per 1,000 samples (paired runs).
Two threads calling numpy's products at once run in parallel (numpy releases the GIL). OpenBLAS is as fast on Intel
CPUs, where MKL has no such handicap.

Only where torch runs on one thread (cohort partitions, the dashboard's server and workers: each task has its core;
``neurix_core/threads.py`` and ``dashboard/server.py`` give numpy's BLAS the same count): next to a multi-threaded
torch, OpenBLAS's thread pool and torch's OpenMP pool spin against each other for the same cores, and one profile's
all-drug explanation took 0.17-0.19 s instead of 0.05 s (``benchmarks/explain_speed.py``, 2 threads). There torch
keeps its products, as do tensors that need autograd, live on a GPU or are not float32. Results agree with torch's
to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def _on_numpy(*tensors: Tensor) -> bool:
    return torch.get_num_threads() == 1 and all(
        t.device.type == "cpu"
        and t.dtype == torch.float32
        and not t.requires_grad
        and t.layout == torch.strided
        for t in tensors
    )


def matmul(a: Tensor, b: Tensor, out: Tensor | None = None) -> Tensor:
    """``a @ b`` (2-D, or batched with torch's broadcasting), written into ``out`` when given."""
    if not _on_numpy(a, b) or (out is not None and not _on_numpy(out)):
        return torch.matmul(a, b, out=out) if out is not None else a @ b
    product = np.matmul(a.numpy(), b.numpy(), out=None if out is None else out.numpy())
    return out if out is not None else torch.from_numpy(product)
