"""Cross-validation of the hybrid and every baseline on the same folds, and the figures the protocol reports.

One CV pass fits the shipped model type (network + per-drug LOO ridge) per fold; the fold model's parts give the
network-only and ridge-only out-of-fold predictions for free, and the tissue lookup costs nothing. Several partition
seeds repeat this (`benchmarks/cross_validation.py`); the pipeline runs seed 0 (`neurix train --cv 5`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurix_core.data.dataset import ResponseData
from neurix_core.model.towers import TrainingConfig
from neurix_core.train.cv import CrossValidationResult, cross_validate, interaction_predictor
from neurix_core.train.fit import FittedModel, TargetScaler
from neurix_core.train.metrics import per_drug_spearman, summarise_rho
from neurix_core.train.protocol import (
    bootstrap_mean_rho,
    lineages,
    paired_comparison,
    tissue_predictor,
    within_lineage_rho,
)

METHODS = ("model", "network", "ridge", "tissue")  # model = the shipped hybrid


@dataclass
class MethodPredictions:
    """Out-of-fold predictions of every method on one partition of the cell lines (cells × drugs each)."""

    seed: int
    result: CrossValidationResult  # the shipped model's CV (predictions, folds, fold models)
    predictions: dict[str, np.ndarray]


def cross_validate_methods(
    data: ResponseData,
    training: TrainingConfig,
    architecture: dict,
    n_folds: int = 5,
    seed: int = 0,
    on_fold: Callable[[int, float], None] | None = None,
) -> MethodPredictions:
    """One partition: the hybrid's CV, plus its network, ridge and reduced-rank parts and the tissue lookup on the same
    folds."""
    models: list[FittedModel] = []
    result = cross_validate(
        data, interaction_predictor(training, architecture, keep_models=models), n_folds, seed, on_fold
    )
    result.fold_models = models
    network = np.full(data.log_auc.shape, np.nan, dtype=np.float32)
    ridge = np.full(data.log_auc.shape, np.nan, dtype=np.float32)
    reduced_rank = np.full(data.log_auc.shape, np.nan, dtype=np.float32)
    tissue = np.full(data.log_auc.shape, np.nan, dtype=np.float32)
    lookup = tissue_predictor()
    for fold, fitted in enumerate(models):
        test = result.folds == fold
        scaled = fitted.gene_scaler.transform(data.expression[test])
        network[test] = fitted.predict_network(scaled)
        if fitted.ridge is not None:
            ridge[test] = fitted.ridge.predict(scaled)
        if fitted.reduced_rank is not None:
            reduced_rank[test] = fitted.reduced_rank.predict(scaled)
        tissue[test] = lookup(data.select(cells=~test), data.select(cells=test))
    predictions = {"model": result.predictions, "network": network, "tissue": tissue}
    if np.isfinite(ridge).any():
        predictions["ridge"] = ridge
    if np.isfinite(reduced_rank).any():  # the hybrid's other linear piece, for re-blending cached runs
        predictions["reduced_rank"] = reduced_rank
    return MethodPredictions(seed, result, predictions)


def pooled_rho(data: ResponseData, predictions: np.ndarray) -> np.ndarray:
    """Per-drug ρ from pooled out-of-fold predictions (ranks are per drug, so the z scale does not matter)."""
    return per_drug_spearman(predictions, TargetScaler.fit(data.log_auc).transform(data.log_auc))


def summarise_methods(data: ResponseData, runs: list[MethodPredictions], n_boot: int = 0) -> dict:
    """Figures of every method over the partitions: per-drug ρ (averaged over partitions), within-lineage ρ, paired
    comparisons of the model against each baseline, and optionally a cell-line bootstrap interval."""
    methods = [m for m in METHODS if all(m in run.predictions for run in runs)]
    lineage = lineages(data)
    per_seed = {m: np.vstack([pooled_rho(data, run.predictions[m]) for run in runs]) for m in methods}
    rho = {m: np.nanmean(values, axis=0) for m, values in per_seed.items()}
    summary: dict = {"partition_seeds": [run.seed for run in runs], "n_cell_lines": len(data.cell_lines)}
    for m in methods:
        within = [within_lineage_rho(run.predictions[m], data.log_auc, lineage) for run in runs]
        summary[m] = {
            "summary": summarise_rho(_series(rho[m]), data.drugs["drug_class"]),
            "mean_rho_by_seed": [float(np.nanmean(v)) for v in per_seed[m]],
            "within_lineage_rho": float(np.mean([w[0] for w in within])),
            "within_lineage_by_lineage": within[0][1],
        }
    summary["n_lineages_within"] = len(summary[methods[0]]["within_lineage_by_lineage"])
    summary["paired"] = {
        f"model_vs_{m}": paired_comparison(rho["model"], rho[m]) for m in methods if m != "model"
    }
    if "ridge" in methods:
        within_diff = [
            within_lineage_rho(run.predictions["model"], data.log_auc, lineage)[0]
            - within_lineage_rho(run.predictions["ridge"], data.log_auc, lineage)[0]
            for run in runs
        ]
        summary["paired"]["model_vs_ridge"]["within_lineage_difference"] = float(np.mean(within_diff))
    if n_boot > 0:
        measured = TargetScaler.fit(data.log_auc).transform(data.log_auc)
        boots = np.mean(
            [
                bootstrap_mean_rho([run.predictions[m] for m in methods], measured, n_boot, seed=run.seed)
                for run in runs
            ],
            axis=0,
        )
        for i, m in enumerate(methods):
            summary[m]["bootstrap_ci95"] = [float(v) for v in np.percentile(boots[:, i], [2.5, 97.5])]
            if m != "model":
                diff = boots[:, 0] - boots[:, i]
                summary["paired"][f"model_vs_{m}"]["bootstrap_ci95"] = [
                    float(v) for v in np.percentile(diff, [2.5, 97.5])
                ]
    summary["per_drug_rho"] = {m: [None if not np.isfinite(v) else float(v) for v in rho[m]] for m in methods}
    return summary


def _series(values: np.ndarray):
    import pandas as pd

    return pd.Series(values)
