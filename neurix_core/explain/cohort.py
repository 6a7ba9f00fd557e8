"""Cohort view of one drug's explanations: which genes drive the predictions across many cell lines, and how.

Per gene: mean signed relevance (direction: 'resistance' when it pushes the predicted z-scored log AUC up on
average, 'sensitising' when down), mean |relevance| (importance regardless of sign, used for the rank),
and the expression–relevance relation across the cohort (Pearson r and least-squares slope of relevance on
input value), which tells e.g. "high expression of this gene → resistance" apart from "low expression →
resistance".

For a single drug the LRP output relevance is one vector per cell line, so relevance is computed with one
batched backward pass per chunk of cell lines (``InteractionLRP.relevance``'s direct path; the per-profile
K-unit basis only pays off when many drugs are explained for the same profiles).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from neurix_core.explain.lrp import DEFAULT_GAMMA, DEFAULT_ROWS_PER_CHUNK, InteractionLRP
from neurix_core.model.towers import InteractionModel

RESISTANCE = "resistance"
SENSITISING = "sensitising"
NEUTRAL = "neutral"


def drug_relevance_matrix(
    explainer: InteractionLRP,
    x: np.ndarray | torch.Tensor,
    drug_index: int,
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
) -> np.ndarray:
    """cell lines × genes relevance for one drug (float64); chunked over cell lines inside ``relevance``."""
    relevance = explainer.relevance(x, [int(drug_index)], rows_per_chunk=rows_per_chunk)[:, 0]
    return relevance.cpu().double().numpy()


def summarise_cohort(relevance: np.ndarray, expression: np.ndarray, genes: Sequence[str]) -> pd.DataFrame:
    """Per-gene summary of a cell lines × genes relevance matrix and the matching input values.

    Columns: gene, mean_relevance, mean_abs_relevance, rank (1 = largest mean |relevance|), direction,
    expression_relevance_r (Pearson; NaN when either side is constant), expression_relevance_slope
    (relevance per unit input; NaN when the input is constant), n_samples. Sorted by rank.
    """
    R = np.asarray(relevance, dtype=np.float64)
    X = np.asarray(expression, dtype=np.float64)
    if R.shape != X.shape or R.ndim != 2:
        raise ValueError(f"relevance {R.shape} and expression {X.shape} must be matching cell lines × genes")
    if len(genes) != R.shape[1]:
        raise ValueError("one gene label per column expected")
    n = R.shape[0]
    mean_r = R.mean(axis=0) if n else np.full(R.shape[1], np.nan)
    mean_abs = np.abs(R).mean(axis=0) if n else np.full(R.shape[1], np.nan)
    Rc = R - mean_r
    Xc = X - (X.mean(axis=0) if n else 0.0)
    sxy = (Xc * Rc).sum(axis=0)
    sxx = (Xc**2).sum(axis=0)
    syy = (Rc**2).sum(axis=0)
    # relative tolerance: a column that is constant up to rounding has no defined correlation/slope
    x_const = sxx <= 1e-24 * np.maximum(1.0, (X**2).sum(axis=0))
    y_const = syy <= 1e-24 * np.maximum(1e-300, (R**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(x_const, np.nan, sxy / np.where(x_const, 1.0, sxx))
        r = np.where(x_const | y_const, np.nan, sxy / np.sqrt(np.where(x_const | y_const, 1.0, sxx * syy)))
    r = np.clip(r, -1.0, 1.0)
    direction = np.where(mean_r > 0, RESISTANCE, np.where(mean_r < 0, SENSITISING, NEUTRAL))
    frame = pd.DataFrame(
        {
            "gene": np.asarray(genes, dtype=object),
            "mean_relevance": mean_r,
            "mean_abs_relevance": mean_abs,
            "direction": direction,
            "expression_relevance_r": r,
            "expression_relevance_slope": slope,
            "n_samples": n,
        }
    )
    order = np.argsort(-np.nan_to_num(mean_abs, nan=-np.inf), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(3, "rank", np.arange(1, len(frame) + 1))
    return frame


def cohort_relevance(
    model: InteractionModel | InteractionLRP,
    x: np.ndarray | torch.Tensor,
    drug_index: int,
    genes: Sequence[str],
    gamma: float = DEFAULT_GAMMA,
    top: int | None = None,
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
) -> pd.DataFrame:
    """Explain one drug over a cohort of cell lines (rows of x) and summarise per gene (see
    summarise_cohort)."""
    explainer = model if isinstance(model, InteractionLRP) else InteractionLRP(model, gamma=gamma)
    X = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if X.ndim == 1:
        X = X[None, :]
    relevance = drug_relevance_matrix(explainer, X, drug_index, rows_per_chunk=rows_per_chunk)
    frame = summarise_cohort(relevance, X, genes)
    return frame if top is None else frame.head(int(top))
