"""Per-drug kernel ridge with the penalty chosen per drug by closed-form leave-one-out, kept in primal form.

Why kernel form: ~700 training cell lines and ~6,000 genes, so one Gram matrix per training set and, per group of
drugs tested on the same cell lines, cheap updates give every penalty's fit at once. Leave-one-out residuals
of a linear smoother need no refitting: e_i = (y_i − ŷ_i) / (1 − H_ii) = dual_i / [(K + αI)⁻¹]_ii. The intercept is
a constant feature with a large value (so practically unpenalised) inside the kernel, which keeps that identity exact.
Each drug takes the penalty with the smallest LOO squared error, so the baseline gets the same tuning effort per
drug that the model's hyperparameters got, and no held-out cell line is ever looked at.

The fitted predictor is linear in the scaled expression: ŷ_d(x) = x·w_d + b_d. The weights are stored (genes × drugs)
so a prediction's gene relevances are exact (x_g·w_gd, summing to ŷ_d − b_d).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

RIDGE_ALPHA_GRID = (
    0.03,
    0.1,
    0.3,
    1.0,
    3.0,
    10.0,
    30.0,
    100.0,
)  # multiples of the Gram matrix's mean diagonal
MIN_TRAINING_LINES = 5
INTERCEPT_FEATURE = 1e3  # squared value of the constant feature, in units of the mean Gram diagonal


@dataclass
class LinearComponent:
    """ŷ = x @ weights + intercept for scaled expression x (samples × genes): one ridge regression per drug."""

    weights: np.ndarray  # genes × drugs (float32)
    intercept: np.ndarray  # drugs (float32)
    alpha: np.ndarray  # drugs: chosen penalty (multiple of the mean Gram diagonal), NaN if not fitted

    def predict(self, scaled_expression: np.ndarray) -> np.ndarray:
        """x·w + b, in float32 on numpy's BLAS (``neurix_core/matmul.py``): the largest single product of a cohort's
        predictions, 59 ms per 500 profiles against torch's 95 ms on one core of the reference machine. (An
        earlier note here measured numpy at ~2.4× torch's CPU: that was OpenBLAS's idle threads spinning, since
        fixed by running it on one thread where several tasks share the cores.)"""
        x = np.ascontiguousarray(scaled_expression, dtype=np.float32)
        product = x @ np.asarray(self.weights, dtype=np.float32)
        return (product + self.intercept).astype(np.float32)

    def relevance(self, scaled_expression: np.ndarray, drug_index: np.ndarray | None = None) -> np.ndarray:
        """samples × drugs × genes: x_g·w_gd (exact; Σ_genes = prediction − intercept)."""
        weights = self.weights if drug_index is None else self.weights[:, drug_index]
        x = np.asarray(scaled_expression, dtype=np.float32)
        return x[:, None, :] * weights.T[None, :, :]


def float16_storage_error(component: LinearComponent, share: float, scaled_expression: np.ndarray) -> float:
    """Largest change of a prediction when the weights are stored as float16 (the bundle's format), on the given
    scaled profiles: the bundle records it so the smaller file is a measured, not assumed, approximation."""
    rounded = component.weights.astype(np.float16).astype(np.float32) - component.weights
    x = np.nan_to_num(np.asarray(scaled_expression, dtype=np.float32))
    return float(share * np.abs(x @ rounded).max()) if x.size else 0.0


def fit_linear_component(
    x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...] = RIDGE_ALPHA_GRID
) -> tuple[LinearComponent, np.ndarray]:
    """Fit per-drug kernel ridge on scaled expression ``x`` (cells × genes) and z targets ``y`` (cells × drugs, NaN =
    untested). Returns the component and the leave-one-out predictions on the training cells (cells × drugs).

    Speed: one eigendecomposition of the full Gram matrix serves every drug. A drug tested on rows R (untested M)
    needs (K_RR + αI)⁻¹, which is B_RR − B_RM B_MM⁻¹ B_MR with B = (K + αI)⁻¹ (inverse of a principal block), so
    only an |M| × |M| solve per drug and penalty; drugs missing most lines are solved directly on their small K_RR.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    gram = x @ x.T
    scale = float(np.mean(np.diag(gram))) or 1.0
    gram += (
        INTERCEPT_FEATURE * scale
    )  # a constant feature: a practically unpenalised intercept inside the smoother
    n_cells, n_drugs = y.shape
    observed = np.isfinite(y)
    counts = observed.sum(axis=0)
    fitted_drugs = np.flatnonzero(counts >= MIN_TRAINING_LINES)
    centre = np.zeros(n_drugs)
    centre[fitted_drugs] = np.nanmean(y[:, fitted_drugs], axis=0)
    y_centred = np.where(observed, y - centre, 0.0)
    grid = np.asarray(alphas, dtype=np.float64) * scale
    duals = np.zeros((len(grid), n_cells, n_drugs))
    loo_residuals = np.full((len(grid), n_cells, n_drugs), np.nan)
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    schur = fitted_drugs[(n_cells - counts[fitted_drugs]) <= 0.35 * n_cells]
    direct = np.setdiff1d(fitted_drugs, schur)
    patterns: dict[bytes, list[int]] = {}
    for drug in schur:
        patterns.setdefault(observed[:, drug].tobytes(), []).append(int(drug))
    for a, alpha in enumerate(grid):
        inverse = (eigenvectors / (eigenvalues + alpha)) @ eigenvectors.T  # B = (K + αI)⁻¹
        by = inverse @ y_centred[:, schur]
        diag = np.diag(inverse)
        for group in patterns.values():
            rows = observed[:, group[0]]
            missing = ~rows
            columns = np.searchsorted(schur, group)
            dual = by[:, columns]
            inverse_diag = diag[rows].copy()
            if missing.any():
                b_rm = inverse[np.ix_(rows, missing)]
                # B_MM is a principal block of an SPD inverse: Cholesky, and diag(B_RM B_MM⁻¹ B_MR) as the column
                # sums of squares of L⁻¹B_MR, half the work of a general solve against all of B_MR
                lower = linalg.cholesky(inverse[np.ix_(missing, missing)], lower=True, check_finite=False)
                dual = dual[rows] - b_rm @ linalg.cho_solve((lower, True), dual[missing], check_finite=False)
                half = linalg.solve_triangular(lower, b_rm.T, lower=True, check_finite=False)
                inverse_diag -= np.einsum("mr,mr->r", half, half)
            duals[a][np.ix_(rows, group)] = dual
            loo_residuals[a][np.ix_(rows, group)] = dual / np.clip(inverse_diag, 1e-12, None)[:, None]
    direct_patterns: dict[bytes, list[int]] = {}
    for drug in direct:  # drugs screened on the same lines share one eigendecomposition
        direct_patterns.setdefault(observed[:, drug].tobytes(), []).append(int(drug))
    for group in direct_patterns.values():
        rows = observed[:, group[0]]
        values, vectors = np.linalg.eigh(gram[np.ix_(rows, rows)])
        values = np.clip(values, 0.0, None)
        projected = vectors.T @ y_centred[np.ix_(rows, group)]
        squared = vectors**2
        for a, alpha in enumerate(grid):
            dual = vectors @ (projected / (values + alpha)[:, None])
            inverse_diag = squared @ (1.0 / (values + alpha))
            duals[a][np.ix_(rows, group)] = dual
            loo_residuals[a][np.ix_(rows, group)] = dual / np.clip(inverse_diag, 1e-12, None)[:, None]
    errors = np.nanmean(loo_residuals**2, axis=1)  # alphas × drugs
    chosen = np.full(n_drugs, np.nan)
    dual = np.zeros((n_cells, n_drugs))
    loo = np.full(y.shape, np.nan)
    if fitted_drugs.size:
        best = np.argmin(errors[:, fitted_drugs], axis=0)
        chosen[fitted_drugs] = np.asarray(alphas)[best]
        dual[:, fitted_drugs] = duals[best, :, fitted_drugs].T
        residual = loo_residuals[best, :, fitted_drugs].T
        loo[:, fitted_drugs] = np.where(observed[:, fitted_drugs], y[:, fitted_drugs] - residual, np.nan)
    intercept = np.where(
        np.isin(np.arange(n_drugs), fitted_drugs), centre, 0.0
    ) + INTERCEPT_FEATURE * scale * dual.sum(axis=0)
    weights = (x.T @ dual).astype(np.float32)
    component = LinearComponent(weights=weights, intercept=intercept.astype(np.float32), alpha=chosen)
    return component, loo.astype(np.float32)
