"""Cell-line CV splits never leak a cell line; per-drug Spearman matches scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from neurix_core.data.splits import cell_line_folds, iter_folds
from neurix_core.train.metrics import per_drug_spearman, summarise_rho


def test_no_cell_line_in_two_folds() -> None:
    cells = [f"ACH-{i:06d}" for i in range(903)]
    seen: dict[str, int] = {}
    for fold, (train, test) in enumerate(iter_folds(cells, 5, seed=0)):
        assert not (train & test).any()
        assert (train | test).all()
        for cell in np.array(cells)[test]:
            assert cell not in seen, f"{cell} in folds {seen[cell]} and {fold}"
            seen[cell] = fold
    assert len(seen) == len(cells)


def test_folds_balanced_deterministic_and_order_free() -> None:
    cells = [f"c{i}" for i in range(101)]
    folds = cell_line_folds(cells, 5, seed=3)
    assert np.bincount(folds).tolist() in ([21, 20, 20, 20, 20], sorted([21, 20, 20, 20, 20], reverse=True))
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1
    np.testing.assert_array_equal(folds, cell_line_folds(cells, 5, seed=3))
    shuffled = cells[::-1]
    reordered = dict(zip(shuffled, cell_line_folds(shuffled, 5, seed=3), strict=True))
    assert all(reordered[c] == f for c, f in zip(cells, folds, strict=True))
    assert not np.array_equal(folds, cell_line_folds(cells, 5, seed=4))


def test_fold_arguments_validated() -> None:
    with pytest.raises(ValueError):
        cell_line_folds(["a", "b"], 5)
    with pytest.raises(ValueError):
        cell_line_folds(["a", "b"], 1)


def test_per_drug_spearman_matches_scipy_with_missing_values() -> None:
    rng = np.random.default_rng(0)
    measured = rng.normal(size=(60, 4))
    predicted = measured + rng.normal(scale=[0.1, 1.0, 3.0, 1.0], size=(60, 4))
    measured[rng.random((60, 4)) < 0.2] = np.nan
    predicted[:5, 3] = np.round(predicted[:5, 3])  # ties
    rho = per_drug_spearman(predicted, measured, min_cell_lines=10)
    for j in range(4):
        ok = np.isfinite(measured[:, j])
        assert rho[j] == pytest.approx(spearmanr(predicted[ok, j], measured[ok, j]).statistic, abs=1e-12)


def test_too_few_cell_lines_give_nan_and_summary_counts() -> None:
    measured = np.array([[1.0, 1.0], [2.0, np.nan], [3.0, np.nan]])
    rho = per_drug_spearman(measured, measured, min_cell_lines=3)
    assert rho[0] == pytest.approx(1.0) and np.isnan(rho[1])
    import pandas as pd

    summary = summarise_rho(
        pd.Series([0.5, 0.25, 0.1, np.nan]), pd.Series(["targeted", "targeted", "chemotherapy", "x"])
    )
    assert summary["all"]["n_drugs"] == 3
    assert summary["all"]["n_rho_gt_0.2"] == 2 and summary["all"]["n_rho_gt_0.3"] == 1
    assert summary["targeted"]["n_rho_gt_0.2"] == 2 and summary["chemotherapy"]["n_rho_gt_0.2"] == 0
