"""Cross-validation over cell lines: a held-out cell line never contributes a single pair to training."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def cell_line_folds(cell_lines: Sequence[str], n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number (0..n_folds-1) for each cell line: a seeded permutation dealt round-robin, so fold sizes differ
    by at most one and the assignment depends only on the set of cell lines, not their order."""
    if n_folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if len(cell_lines) < n_folds:
        raise ValueError(f"{len(cell_lines)} cell lines cannot fill {n_folds} folds")
    order = np.argsort(np.asarray(cell_lines, dtype=str), kind="stable")
    rng = np.random.default_rng(seed)
    folds = np.empty(len(cell_lines), dtype=np.int64)
    folds[order[rng.permutation(len(cell_lines))]] = np.arange(len(cell_lines)) % n_folds
    return folds


def iter_folds(
    cell_lines: Sequence[str], n_folds: int = 5, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train mask, test mask) over cell lines for each fold."""
    folds = cell_line_folds(cell_lines, n_folds, seed)
    for fold in range(n_folds):
        yield folds != fold, folds == fold
