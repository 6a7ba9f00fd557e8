"""Training-time explanation artefacts for the bundle: discovery (fold models on held-out lines) and the fold
members used for explanation stability. The pipeline calls this once after cross-validation."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from neurix_core.data.dataset import ResponseData
from neurix_core.explain.biology import biology_check
from neurix_core.explain.discovery import compute_discovery, held_out_folds
from neurix_core.explain.stability import save_members


def explanation_artifacts(
    data: ResponseData, cv: dict, drugs: pd.DataFrame, log: Callable[[str], None] = print
) -> tuple[list[Callable[[Path], object]], dict | None]:
    """Bundle writers for discovery and stability members, and the biology-check summary for the model card;
    nothing when no CV fold models exist (``--cv 0``)."""
    folds, models = cv.get("folds"), cv.get("models")
    if folds is None or not models:
        log("no cross-validation fold models: the bundle gets no discovery view and no stability members")
        return [], None
    log("discovery: explaining every held-out cell line with its fold model")
    discovery = compute_discovery(held_out_folds(data, folds, models), data.genes, drugs, log=log)
    _, biology = biology_check(discovery, drugs, data.genes)
    log(
        f"biology check: {biology['with_target_in_top_1pct']} of {biology['targeted_drugs_with_measured_target']} "
        f"targeted drugs with a target in the top 1% ({biology['expected_by_chance']:.1f} by chance); "
        f"{biology['markers_in_top_1pct']} of {biology['markers_checked']} curated markers in the top 1%"
    )
    return [discovery.save, partial(save_members, fold_models=models)], biology
