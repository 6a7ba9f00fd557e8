"""Per-drug evaluation: Spearman ρ between predicted and measured response over held-out cell lines."""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_CELL_LINES = 10  # fewer held-out measurements than this give no meaningful per-drug ρ
RHO_THRESHOLDS = (0.2, 0.3)


def _rank_columns(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average ranks within each column over masked entries (NaN elsewhere)."""
    ranked = pd.DataFrame(np.where(mask, values, np.nan)).rank(axis=0, method="average")
    return ranked.to_numpy()


def per_drug_spearman(
    predicted: np.ndarray, measured: np.ndarray, min_cell_lines: int = MIN_CELL_LINES
) -> np.ndarray:
    """Spearman ρ per column (drug) over rows (cell lines) where both are finite; NaN if too few rows.

    Vectorised: rank each column, then a Pearson correlation of ranks computed column-wise.
    """
    mask = np.isfinite(predicted) & np.isfinite(measured)
    rank_pred = _rank_columns(predicted, mask)
    rank_meas = _rank_columns(measured, mask)
    count = mask.sum(axis=0)
    # column means over the rows where both are finite (a drug no row measured gets ρ = NaN below, not a warning)
    safe_count = np.maximum(count, 1)
    mean_pred = np.where(mask, rank_pred, 0.0).sum(axis=0) / safe_count
    mean_meas = np.where(mask, rank_meas, 0.0).sum(axis=0) / safe_count
    centred_pred = np.where(mask, rank_pred - mean_pred, 0.0)
    centred_meas = np.where(mask, rank_meas - mean_meas, 0.0)
    covariance = (centred_pred * centred_meas).sum(axis=0)
    norm = np.sqrt((centred_pred**2).sum(axis=0) * (centred_meas**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = covariance / norm
    rho[(count < min_cell_lines) | (norm == 0)] = np.nan
    return rho


def summarise_rho(rho: pd.Series, drug_class: pd.Series) -> dict:
    """Mean/median ρ and counts/fractions of drugs above each threshold, overall and per drug class."""

    def block(values: pd.Series) -> dict:
        values = values.dropna()
        out = {
            "n_drugs": int(values.size),
            "mean_rho": float(values.mean()) if values.size else float("nan"),
            "median_rho": float(values.median()) if values.size else float("nan"),
        }
        for threshold in RHO_THRESHOLDS:
            above = int((values > threshold).sum())
            out[f"n_rho_gt_{threshold}"] = above
            out[f"frac_rho_gt_{threshold}"] = above / values.size if values.size else float("nan")
        return out

    summary = {"all": block(rho)}
    for name, values in rho.groupby(drug_class.to_numpy()):
        summary[str(name)] = block(values)
    return summary
