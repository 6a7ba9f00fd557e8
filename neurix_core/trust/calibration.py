"""Percentiles, conformal prediction intervals and hit rates, all from the cross-validation's out-of-fold predictions.

- **Percentile**: the share (0–100) of training cell lines whose *measured* response to the drug is more resistant
  than the prediction (higher = more sensitive), read from each drug's measured quantile grid.
- **Intervals**: Mondrian (one calibration set per drug) normalised split-conformal regression with ``crepes``:
  the non-conformity score of an out-of-fold pair is |measured − predicted| / σ, where the difficulty σ grows
  linearly with the sample's domain distance (``Difficulty``), so samples far from the training lines get wider
  intervals. The out-of-fold predictions of K-fold CV come from models that never saw the line, so their residuals
  are exchangeable with a new line's residual (cross-conformal); the final model is trained on all lines, which
  makes the intervals slightly conservative.
- **Hit rate**: per drug, when a fold model placed a held-out line among the ``TOP_SHARE`` most sensitive of its
  fold, how often that line truly was in the most sensitive third of all lines measured with the drug (chance 1/3).

``nested_evaluation`` measures all of it honestly: for each outer fold, the intervals' quantiles, the difficulty
and the domain threshold are fitted on the other folds only and checked on the held-out fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LEVELS = (0.8, 0.9)
DISPLAY_LEVEL = 0.8
TOP_SHARE = 0.2
SENSITIVE_SHARE = 1 / 3
QUANTILE_GRID = np.linspace(0.0, 1.0, 101)
FEW_SAMPLES = 32  # up to this many samples, one comparison against all grids beats a call per drug


# --- percentile -----------------------------------------------------------------------------------------------------
def response_quantiles(measured_z: np.ndarray) -> np.ndarray:
    """drugs × 101 quantiles (0 %, 1 %, …, 100 %) of each drug's measured z responses over the training lines."""
    quantiles = np.full((measured_z.shape[1], len(QUANTILE_GRID)), np.nan, dtype=np.float32)
    tested = np.isfinite(measured_z).any(axis=0)
    if tested.any():
        quantiles[tested] = np.nanquantile(measured_z[:, tested], QUANTILE_GRID, axis=0).T
    return quantiles


def percentiles(predictions: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """samples × drugs: 100 × share of training lines measured more resistant (higher z) than the prediction.

    Each prediction is interpolated on its drug's quantile grid (``np.interp``). Why two ways: one ``np.interp``
    call per drug cost ~10 ms for a single uploaded sample (697 calls, most of it call overhead), so a few
    samples compare against every drug's grid at once; a cohort's partition keeps one call per drug, which is
    cheaper there. Both give the same values (held by a test).
    """
    x = np.asarray(predictions, dtype=np.float64)
    if x.shape[0] > FEW_SAMPLES:
        by_drug = np.ascontiguousarray(x.T)  # drug-major: each drug's column read and written contiguously
        out = np.full(by_drug.shape, np.nan)
        for d in np.flatnonzero(np.isfinite(quantiles).all(axis=1)):
            share_below = np.interp(by_drug[d], quantiles[d], QUANTILE_GRID, left=0.0, right=1.0)
            out[d] = 100.0 * (1.0 - share_below)
        return out.T
    grid_x = np.asarray(quantiles, dtype=np.float64)  # drugs × G, ascending per drug (ties allowed)
    n_grid = grid_x.shape[1]
    drugs = np.arange(grid_x.shape[0])
    count = np.sum(grid_x[None, :, :] <= x[:, :, None], axis=2)  # grid points ≤ x
    j = np.clip(count - 1, 0, n_grid - 2)  # the segment [j, j + 1] holding x, as np.interp finds it
    left_x, right_x = grid_x[drugs, j], grid_x[drugs, j + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (QUANTILE_GRID[j + 1] - QUANTILE_GRID[j]) / (right_x - left_x)
        share = slope * (x - left_x) + QUANTILE_GRID[j]
    share = np.where(x == left_x, QUANTILE_GRID[j], share)  # np.interp's exact hit (also on tied quantiles)
    share = np.where(count == 0, 0.0, np.where(count == n_grid, 1.0, share))  # below / at or above the grid
    out = 100.0 * (1.0 - share)
    out[np.isnan(x) | ~np.isfinite(grid_x).all(axis=1)] = np.nan
    return out


# --- residuals, difficulty and conformal quantiles --------------------------------------------------------------------
def out_of_fold_targets(log_auc: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Measured log AUC on each fold model's z scale (per-drug mean/sd of the *training* folds, as ``fit`` does)."""
    from neurix_core.train.fit import TargetScaler

    targets = np.full(log_auc.shape, np.nan)
    for fold in np.unique(folds):
        test = folds == fold
        train = ~test & np.isfinite(log_auc).any(axis=1)
        targets[test] = TargetScaler.fit(log_auc[train]).transform(log_auc[test])
    return targets


@dataclass
class Difficulty:
    """σ(distance) = clip(intercept + slope · distance); 1 at the median held-out distance, never decreasing."""

    intercept: float = 1.0
    slope: float = 0.0
    floor: float = 0.5
    ceiling: float = 4.0

    @classmethod
    def fit(cls, abs_residuals: np.ndarray, drug: np.ndarray, distance: np.ndarray) -> Difficulty:
        """Least squares of residuals (scaled by each drug's median) on distance."""
        n_drugs = int(drug.max()) + 1 if len(drug) else 0
        scale = np.ones(n_drugs)
        for d in np.unique(drug):
            scale[d] = max(float(np.median(abs_residuals[drug == d])), 1e-6)
        relative = abs_residuals / scale[drug]
        if len(distance) < 10 or np.ptp(distance) == 0:
            return cls()
        slope, intercept = np.polyfit(distance, relative, 1)
        slope = max(float(slope), 0.0)
        reference = intercept + slope * float(np.median(distance))
        if not np.isfinite(reference) or reference <= 0:
            return cls()
        return cls(intercept=float(intercept / reference), slope=float(slope / reference))

    def sigma(self, distance: np.ndarray) -> np.ndarray:
        return np.clip(
            self.intercept + self.slope * np.asarray(distance, dtype=float), self.floor, self.ceiling
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "intercept": self.intercept,
            "slope": self.slope,
            "floor": self.floor,
            "ceiling": self.ceiling,
        }


def conformal_quantiles(
    residuals: np.ndarray, drug: np.ndarray, sigmas: np.ndarray, n_drugs: int, levels=LEVELS
) -> np.ndarray:
    """n_drugs × levels: the per-drug (Mondrian) conformal quantile of |residual| / σ, from ``crepes``.

    The interval at a level is prediction ± quantile · σ(distance). Drugs without calibration pairs get NaN, and
    drugs with too few pairs for a level get +inf (crepes' finite-sample rule).
    """
    from crepes import ConformalRegressor

    out = np.full((n_drugs, len(levels)), np.nan)
    present = np.unique(drug)
    if len(present) == 0:
        return out
    regressor = ConformalRegressor().fit(residuals, sigmas=sigmas, bins=drug)
    for i, level in enumerate(levels):
        bounds = regressor.predict_int(
            np.zeros(len(present)), sigmas=np.ones(len(present)), bins=present, confidence=level
        )
        out[present, i] = bounds[:, 1]
    return out


def pairs(targets: np.ndarray, predictions: np.ndarray, rows: np.ndarray | None = None):
    """(row, drug, residual) of every observed out-of-fold pair (optionally within ``rows``)."""
    observed = np.isfinite(targets) & np.isfinite(predictions)
    if rows is not None:
        observed &= rows[:, None]
    row, drug = np.nonzero(observed)
    return row, drug, (targets - predictions)[row, drug]


def fit_intervals(
    targets: np.ndarray, predictions: np.ndarray, distances: np.ndarray, rows: np.ndarray | None = None
) -> tuple[Difficulty, np.ndarray]:
    """Difficulty and per-drug conformal quantiles from the out-of-fold pairs of ``rows`` (default: all)."""
    row, drug, residual = pairs(targets, predictions, rows)
    difficulty = Difficulty.fit(np.abs(residual), drug, distances[row])
    quantiles = conformal_quantiles(residual, drug, difficulty.sigma(distances[row]), targets.shape[1])
    return difficulty, quantiles


# --- hit rates --------------------------------------------------------------------------------------------------------
def hit_rates(log_auc: np.ndarray, predictions: np.ndarray, folds: np.ndarray) -> pd.DataFrame:
    """Per drug: hits / placements in the predicted top ``TOP_SHARE`` (within each fold) that were truly in the
    most sensitive third, plus the pooled out-of-fold prediction below which a new sample counts as 'top'."""
    n_drugs = log_auc.shape[1]
    hits = np.zeros(n_drugs)
    placed = np.zeros(n_drugs)
    top_threshold = np.full(n_drugs, np.nan)
    for d in range(n_drugs):
        tested = np.isfinite(log_auc[:, d]) & np.isfinite(predictions[:, d])
        if tested.sum() < 10:
            continue
        sensitive = log_auc[:, d] <= np.quantile(log_auc[tested, d], SENSITIVE_SHARE)
        top_threshold[d] = np.quantile(predictions[tested, d], TOP_SHARE)
        for fold in np.unique(folds):
            rows = tested & (folds == fold)
            if rows.sum() < 5:
                continue
            top = rows & (predictions[:, d] <= np.quantile(predictions[rows, d], TOP_SHARE))
            hits[d] += (top & sensitive).sum()
            placed[d] += top.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(placed > 0, hits / placed, np.nan)
    return pd.DataFrame({"hit_rate": rate, "hit_n": placed.astype(int), "top_threshold": top_threshold})


def hit_rate_group(rate: float | None) -> str:
    """Plain-words tier of a hit rate against the 33 % chance level."""
    if rate is None or not np.isfinite(rate):
        return "unmeasured"
    if rate >= 0.6:
        return "strong"
    if rate >= 0.45:
        return "moderate"
    return "weak"


# --- honest evaluation on outer folds ---------------------------------------------------------------------------------
def nested_evaluation(
    log_auc: np.ndarray,
    predictions: np.ndarray,
    folds: np.ndarray,
    distances: np.ndarray,
    groups: dict[str, np.ndarray],
    domain_share: float,
) -> dict:
    """Coverage of every level and the domain check's false-alarm rate, each outer fold calibrated on the others.

    ``groups`` maps a grouping name to a per-drug label array (e.g. reliability tiers); coverage is reported per
    label. ``distances`` are the held-out domain distances of every line.
    """
    targets = out_of_fold_targets(log_auc, folds)
    covered = {level: [] for level in LEVELS}
    widths = {level: [] for level in LEVELS}
    drug_of_pair, in_domain_of_pair = [], []
    false_alarms = 0
    for fold in np.unique(folds):
        test = folds == fold
        difficulty, quantiles = fit_intervals(targets, predictions, distances, rows=~test)
        row, drug, residual = pairs(targets, predictions, rows=test)
        sigma = difficulty.sigma(distances[row])
        for i, level in enumerate(LEVELS):
            half = quantiles[drug, i] * sigma
            covered[level].append(np.abs(residual) <= half)
            widths[level].append(2 * half)
        threshold = float(np.quantile(distances[~test], domain_share))
        inside = distances <= threshold
        false_alarms += int((~inside & test).sum())
        drug_of_pair.append(drug)
        in_domain_of_pair.append(inside[row])
    drug = np.concatenate(drug_of_pair)
    in_domain = np.concatenate(in_domain_of_pair)
    report: dict = {"levels": list(LEVELS), "n_pairs": int(len(drug)), "coverage": {}, "mean_width": {}}
    for level in LEVELS:
        hit = np.concatenate(covered[level])
        width = np.concatenate(widths[level])
        key = f"{level:.0%}"
        entry = {"overall": float(hit.mean())}
        for name, labels in groups.items():
            entry[name] = {
                str(label): {
                    "coverage": float(hit[labels[drug] == label].mean()),
                    "n_pairs": int((labels[drug] == label).sum()),
                }
                for label in sorted(set(labels[drug]))
            }
        entry["in_domain"] = float(hit[in_domain].mean()) if in_domain.any() else None
        entry["out_of_domain"] = float(hit[~in_domain].mean()) if (~in_domain).any() else None
        per_drug = pd.Series(hit).groupby(drug).mean()
        entry["per_drug_within_5_points"] = float((np.abs(per_drug - level) <= 0.05).mean())
        report["coverage"][key] = entry
        report["mean_width"][key] = float(np.mean(width[np.isfinite(width)]))
    report["domain"] = {
        "nominal_in_domain_share": domain_share,
        "held_out_false_alarm_rate": false_alarms / len(folds),
        "n_held_out_lines": int(len(folds)),
    }
    return report
