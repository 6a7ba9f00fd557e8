"""Cross-validation over unseen cell lines, with every scaler fitted inside the training folds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from neurix_core.data.dataset import ResponseData
from neurix_core.data.splits import cell_line_folds
from neurix_core.model.towers import TrainingConfig
from neurix_core.train.fit import FittedModel, drug_fingerprints, fit
from neurix_core.train.metrics import per_drug_spearman, summarise_rho

Predictor = Callable[
    [ResponseData, ResponseData], np.ndarray
]  # (train, test) → test predictions (cells × drugs)


@dataclass
class CrossValidationResult:
    """Out-of-fold predictions for every cell line and the per-drug ρ they give."""

    folds: np.ndarray  # fold of each cell line
    predictions: np.ndarray  # cell lines × drugs, each row predicted by the model that did not see it
    per_drug: pd.DataFrame  # drug_key, drug_name, drug_class, rho, n_cell_lines
    summary: dict
    seconds: float
    fold_models: list[FittedModel] = field(default_factory=list)


def per_drug_table(data: ResponseData, predictions: np.ndarray, folds: np.ndarray) -> pd.DataFrame:
    """Per-drug ρ computed within each held-out fold and averaged (weighted by held-out cell lines)."""
    rho_by_fold, counts = [], []
    for fold in np.unique(folds):
        rows = folds == fold
        rho_by_fold.append(per_drug_spearman(predictions[rows], data.log_auc[rows]))
        counts.append(np.isfinite(data.log_auc[rows]).sum(axis=0))
    rho = np.vstack(rho_by_fold)
    weight = np.where(np.isfinite(rho), np.vstack(counts), 0)
    with np.errstate(invalid="ignore"):
        mean_rho = np.nansum(np.nan_to_num(rho) * weight, axis=0) / weight.sum(axis=0)
    table = data.drugs[["drug_key", "screen", "drug_name", "drug_class"]].copy()
    table["rho"] = mean_rho
    table["rho_pooled"] = per_drug_spearman(predictions, data.log_auc)
    table["n_cell_lines"] = np.isfinite(data.log_auc).sum(axis=0)
    return table


def cross_validate(
    data: ResponseData,
    predictor: Predictor,
    n_folds: int = 5,
    seed: int = 0,
    on_fold: Callable[[int, float], None] | None = None,
) -> CrossValidationResult:
    """Run ``predictor`` on each fold of cell lines and score its held-out predictions."""
    start = time.perf_counter()
    folds = cell_line_folds(data.cell_lines, n_folds, seed)
    predictions = np.full(data.log_auc.shape, np.nan, dtype=np.float32)
    for fold in range(n_folds):
        test = folds == fold
        predictions[test] = predictor(data.select(cells=~test), data.select(cells=test))
        if on_fold is not None:
            on_fold(fold, time.perf_counter() - start)
    table = per_drug_table(data, predictions, folds)
    return CrossValidationResult(
        folds=folds,
        predictions=predictions,
        per_drug=table,
        summary=summarise_rho(table["rho"], table["drug_class"]),
        seconds=time.perf_counter() - start,
    )


def interaction_predictor(
    training: TrainingConfig | None = None,
    architecture: dict | None = None,
    keep_models: list | None = None,
    fingerprints: dict[str, np.ndarray] | None = None,
    device: str = "cpu",
) -> Predictor:
    """The interaction model as a CV predictor; each drug's fingerprint is computed once for all folds.

    ``fingerprints`` may supply precomputed fingerprints by drug_key (e.g. from a cache without RDKit).
    """
    cache: dict[str, np.ndarray] = dict(fingerprints or {})

    def predict(train: ResponseData, test: ResponseData) -> np.ndarray:
        missing = [k for k in train.drugs["drug_key"] if k not in cache]
        if missing:
            computed = drug_fingerprints(train.select(drugs=train.drugs["drug_key"].isin(missing).to_numpy()))
            cache.update(zip(missing, computed.numpy(), strict=True))
        features = torch.from_numpy(np.stack([cache[k] for k in train.drugs["drug_key"]]))
        fitted = fit(train, training, architecture, fingerprints=features, device=device)
        if keep_models is not None:
            keep_models.append(fitted)
        return fitted.predict(test.expression)

    return predict
