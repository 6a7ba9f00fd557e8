"""The evaluation protocol: which cell lines choose the model, which report it, and how methods are compared.

* A fixed **selection split** (20% of the non-example cell lines, seeded) is the only place where model choices
  (the hybrid's shares, epochs, ensemble size) are scored. It never enters the reported cross-validation.
* The **evaluation set** (the other 80%) gets repeated 5-fold CV over cell lines (several partition seeds); every
  method runs on the same folds with scalers fitted inside the training folds.
* Per-drug ρ is computed from pooled out-of-fold predictions; **within-lineage ρ** is the same inside each lineage
  with at least ``MIN_LINEAGE_LINES`` lines (then averaged over lineages), the part that tissue of origin cannot give.
* Paired comparison per drug: mean difference with a 95% interval, wins, Wilcoxon signed-rank p.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from neurix_core.data.dataset import ResponseData
from neurix_core.train.fit import TargetScaler
from neurix_core.train.metrics import per_drug_spearman

SELECTION_FRACTION = 0.2
SELECTION_SEED = 2026
MIN_LINEAGE_LINES = 15
N_EXAMPLES = 6  # example cell lines shipped with the model, out of selection, CV and external training


def selection_mask(
    cell_lines: Sequence[str], fraction: float = SELECTION_FRACTION, seed: int = SELECTION_SEED
):
    """Boolean mask of the selection cell lines: depends only on the set of ids, not on their order."""
    names = np.asarray(cell_lines, dtype=str)
    order = np.argsort(names, kind="stable")
    chosen = np.zeros(names.size, dtype=bool)
    n_selection = int(round(fraction * names.size))
    chosen[order[np.random.default_rng(seed).permutation(names.size)[:n_selection]]] = True
    return chosen


def choose_examples(data: ResponseData, n_examples: int = N_EXAMPLES, seed: int = 0) -> list[str]:
    """Well-screened cell lines from distinct lineages, chosen reproducibly."""
    tested = np.isfinite(data.log_auc).sum(axis=1)
    info = data.cell_info.reindex(data.cell_lines)
    candidates = pd.DataFrame(
        {"cell": data.cell_lines, "tested": tested, "lineage": info["lineage"].to_numpy()}
    )
    candidates = candidates[candidates["tested"] >= np.quantile(tested, 0.5)].dropna(subset=["lineage"])
    rng = np.random.default_rng(seed)
    common = candidates["lineage"].value_counts().index[: n_examples * 2].tolist()
    chosen = []
    for lineage in rng.permutation(common)[:n_examples]:
        pool = candidates[candidates["lineage"] == lineage]["cell"].tolist()
        chosen.append(str(rng.choice(sorted(pool))))
    return sorted(chosen)


def protocol_lines(data: ResponseData) -> tuple[ResponseData, ResponseData]:
    """(evaluation, selection) cell lines of a dataset: lines without any response and the example lines are out of
    both; the rest split by ``selection_mask`` (the split ``neurix train`` makes in steps, as it also needs the
    example lines and the non-example lines it fits the final model on)."""
    data = data.select(cells=np.isfinite(data.log_auc).any(axis=1))
    data = data.select(cells=~np.isin(data.cell_lines, choose_examples(data)))
    chosen = selection_mask(data.cell_lines)
    return data.select(cells=~chosen), data.select(cells=chosen)


def lineages(data: ResponseData) -> np.ndarray:
    """Lineage of each cell line ("unknown" where DepMap gives none)."""
    if "lineage" not in data.cell_info.columns:
        return np.full(len(data.cell_lines), "unknown", dtype=object)
    info = data.cell_info.reindex(data.cell_lines)
    return info["lineage"].fillna("unknown").astype(str).to_numpy()


def tissue_predictor(min_lines: int = 3):
    """Tissue-only lookup: a test line's prediction for a drug is the mean z response of the training lines of its
    lineage (the overall mean, 0, when fewer than ``min_lines`` of them were tested). No expression at all."""

    def predict(train: ResponseData, test: ResponseData) -> np.ndarray:
        y = TargetScaler.fit(train.log_auc).transform(train.log_auc)
        train_lineage, test_lineage = lineages(train), lineages(test)
        out = np.zeros((len(test.cell_lines), y.shape[1]), dtype=np.float32)
        for lineage in np.unique(test_lineage):
            rows = train_lineage == lineage
            if rows.any():
                block = y[rows]
                counts = np.isfinite(block).sum(axis=0)
                with np.errstate(invalid="ignore"):
                    mean = np.nansum(block, axis=0) / np.maximum(counts, 1)
                out[test_lineage == lineage] = np.where(counts >= min_lines, mean, 0.0)
        return out

    return predict


def within_lineage_rho(
    predictions: np.ndarray, measured: np.ndarray, lineage: np.ndarray, min_lines: int = MIN_LINEAGE_LINES
) -> tuple[float, dict[str, float]]:
    """Mean per-drug ρ inside each lineage with ≥ ``min_lines`` cell lines, averaged over those lineages."""
    per_lineage: dict[str, float] = {}
    for name in np.unique(lineage):
        rows = lineage == name
        if rows.sum() < min_lines or name == "unknown":
            continue
        rho = per_drug_spearman(predictions[rows], measured[rows])
        if np.isfinite(rho).any():
            per_lineage[str(name)] = float(np.nanmean(rho))
    value = float(np.mean(list(per_lineage.values()))) if per_lineage else float("nan")
    return value, per_lineage


def paired_comparison(rho_a: np.ndarray, rho_b: np.ndarray) -> dict:
    """Per-drug comparison of method a against method b (drugs where both have a ρ)."""
    rho_a, rho_b = np.asarray(rho_a, dtype=float), np.asarray(rho_b, dtype=float)
    both = np.isfinite(rho_a) & np.isfinite(rho_b)
    diff = rho_a[both] - rho_b[both]
    n = int(diff.size)
    if n < 2:
        return {"n_drugs": n}
    half = 1.96 * diff.std(ddof=1) / np.sqrt(n)
    return {
        "n_drugs": n,
        "mean_difference": float(diff.mean()),
        "ci95": [float(diff.mean() - half), float(diff.mean() + half)],
        "wins": int((diff > 0).sum()),
        "win_fraction": float((diff > 0).mean()),
        "wilcoxon_p": float(stats.wilcoxon(diff).pvalue),
    }


def bootstrap_mean_rho(
    predictions: Sequence[np.ndarray], measured: np.ndarray, n_boot: int = 100, seed: int = 0
) -> np.ndarray:
    """Mean per-drug ρ over bootstrap resamples of cell lines, for each prediction matrix (n_boot × methods).

    The same resample is used for every method, so differences between columns are paired."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(predictions)))
    n = measured.shape[0]
    for b in range(n_boot):
        rows = rng.integers(0, n, n)
        for m, prediction in enumerate(predictions):
            out[b, m] = np.nanmean(per_drug_spearman(prediction[rows], measured[rows]))
    return out


def summary_frame(rho: dict[str, np.ndarray], drugs: pd.DataFrame) -> pd.DataFrame:
    """Per-drug ρ of each method beside the drug's key, name and class."""
    table = drugs[["drug_key", "drug_name", "drug_class"]].copy()
    for name, values in rho.items():
        table[name] = values
    return table
