"""Simple baseline on the same folds: a per-drug ridge regression on expression (solved in kernel form).

With ~700 training cell lines and ~6,000 genes the dual (kernel) form is cheaper: one Gram matrix per fold, then per
drug a solve over the cell lines that drug was tested on. The ridge penalty is chosen per fold from a grid by an
inner split of the training cell lines (mean per-drug ρ), never by looking at the test fold.
"""

from __future__ import annotations

import numpy as np

from neurix_core.data.dataset import ResponseData
from neurix_core.data.splits import cell_line_folds
from neurix_core.features.scaling import GeneScaler
from neurix_core.train.fit import TargetScaler
from neurix_core.train.metrics import per_drug_spearman

RIDGE_ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0)  # multiples of the Gram matrix's mean diagonal


def _kernel_ridge_predict(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, alphas: tuple[float, ...]
) -> list[np.ndarray]:
    """Per-drug kernel ridge predictions for each alpha (list over alphas of test cells × drugs)."""
    gram = train_x @ train_x.T
    cross = test_x @ train_x.T
    scale = float(np.mean(np.diag(gram)))
    outputs = [np.full((test_x.shape[0], train_y.shape[1]), np.nan, dtype=np.float64) for _ in alphas]
    observed = np.isfinite(train_y)
    # Drugs tested on the same cell lines share one factorisation.
    patterns: dict[bytes, list[int]] = {}
    for drug in range(train_y.shape[1]):
        if observed[:, drug].sum() >= 5:
            patterns.setdefault(observed[:, drug].tobytes(), []).append(drug)
    for drug_group in patterns.values():
        rows = observed[:, drug_group[0]]
        sub_gram = gram[np.ix_(rows, rows)]
        targets = train_y[np.ix_(rows, drug_group)]
        centre = targets.mean(axis=0)
        eigenvalues, eigenvectors = np.linalg.eigh(sub_gram)
        projected = eigenvectors.T @ (targets - centre)
        for output, alpha in zip(outputs, alphas, strict=True):
            dual = eigenvectors @ (projected / (eigenvalues + alpha * scale)[:, None])
            output[:, drug_group] = cross[:, rows] @ dual + centre
    return outputs


def ridge_predictor(alphas: tuple[float, ...] = RIDGE_ALPHAS, seed: int = 0):
    """Per-drug ridge as a CV predictor (train, test) → predicted z log AUC of the test cells."""

    def predict(train: ResponseData, test: ResponseData) -> np.ndarray:
        scaler = GeneScaler.fit(train.expression)
        train_x = scaler.transform(train.expression).astype(np.float64)
        test_x = scaler.transform(test.expression).astype(np.float64)
        train_y = TargetScaler.fit(train.log_auc).transform(train.log_auc).astype(np.float64)
        inner = cell_line_folds(train.cell_lines, 5, seed) == 0
        scores = [
            np.nanmean(per_drug_spearman(p, train_y[inner]))
            for p in _kernel_ridge_predict(train_x[~inner], train_y[~inner], train_x[inner], alphas)
        ]
        best = alphas[int(np.nanargmax(scores))]
        return _kernel_ridge_predict(train_x, train_y, test_x, (best,))[0].astype(np.float32)

    return predict
