"""From a parsed profile to per-drug predictions: align to the model's genes, scale exactly as in training, predict.

Coverage rule: a sample must measure at least ``MIN_GENE_COVERAGE`` of the model's genes. Missing genes are imputed
to the training mean (0 after scaling), which dilutes the signal; below half the genes the predictions are too far
from what the model was validated on to be shown.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from neurix_core.errors import ProfileError
from neurix_core.features.scaling import within_sample_zscore
from neurix_core.features.scaling_modes import ScalingChoice, apply_scaling, choose_scaling, detect_platform
from neurix_core.io.units import scale_evidence
from neurix_core.model.bundle import ModelBundle

MIN_GENE_COVERAGE = 0.5
PREDICTION_COLUMNS = [
    "sample",
    "screen",
    "drug_id",
    "drug_name",
    "drug_class",
    "z_log_auc",
    "percentile",
    "interval_low",
    "interval_high",
    "in_domain",
    "domain_distance",
    "hit_rate",
    "cv_rho",
    "rank",
    "targets",
    "pathway",
    "moa",
    "drug_key",
    "platform",
    "scaling",
    "scaling_benchmark_rho",
    "platform_flag",
]


@dataclass
class ModelInput:
    """Profiles aligned to the model's genes: within-sample z (NaN = not measured) and the network's input."""

    samples: list[str]
    zscored: np.ndarray  # samples × model genes
    scaled: np.ndarray  # samples × model genes, float32, what the expression tower sees
    coverage: np.ndarray  # fraction of model genes measured, per sample
    scaling: ScalingChoice | None = field(default=None)  # how ``scaled`` was made (platform, mode, warning)

    def sample_index(self, sample: str) -> int:
        try:
            return self.samples.index(sample)
        except ValueError as exc:
            raise ProfileError(
                f"unknown sample {sample!r}; the profile has {', '.join(self.samples[:5])}"
            ) from exc


def align_to_genes(expression: pd.DataFrame, genes: list[str]) -> np.ndarray:
    """samples × model genes (NaN where the profile lacks a gene), matching gene symbols case-insensitively."""
    present, picked = gene_positions(expression.columns, genes)
    numeric = all(pd.api.types.is_numeric_dtype(t) for t in set(expression.dtypes))
    block = expression.to_numpy(dtype=np.float64) if numeric and present.size else None  # one block, no iloc
    # every model gene in the file: one gather, no scatter
    if block is not None and present.size == len(genes):
        in_order = bool(np.array_equal(picked, np.arange(len(genes))))  # the file's columns are the model's
        values = np.array(block, order="C") if in_order else np.take(block, picked, axis=1)
    else:
        values = np.full((expression.shape[0], len(genes)), np.nan, dtype=np.float64)
        if block is not None:
            values[:, present] = block[:, picked]
        elif present.size:  # other columns may hold text: convert only the genes'
            values[:, present] = expression.iloc[:, picked].to_numpy(dtype=np.float64)
    # the upload parser refuses infinite values; a DataFrame given to the API may hold them
    infinite = np.isinf(values)
    if infinite.any():
        values[infinite] = np.nan
    return values


def gene_positions(columns: pd.Index | Sequence[str], genes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the model genes the columns hold, their column positions), matched case-insensitively and
    with R-style spellings (HLA.A) of HGNC symbols (HLA-A); computed once per column layout."""
    # an Index converted in one step, not iterated cell by cell (slow for Arrow-backed strings)
    names = columns.to_numpy(dtype=object) if isinstance(columns, pd.Index) else columns
    return _gene_positions(tuple(map(str, names)), tuple(map(str, genes)))


@functools.lru_cache(maxsize=8)
def _gene_positions(columns: tuple[str, ...], genes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``gene_positions`` for hashable arguments: the same for every partition of a cohort."""
    names = [name.upper() for name in columns]
    upper = {name: j for j, name in enumerate(names)}  # → column position (the last of equal spellings)
    for j, name in enumerate(names):  # R-style spellings (HLA.A) of HGNC symbols (HLA-A) still match
        upper.setdefault(name.replace(".", "-"), j)
    found = [(i, upper[g.upper()]) for i, g in enumerate(genes) if g.upper() in upper]
    present = np.array([i for i, _ in found], dtype=np.int64)
    picked = np.array([j for _, j in found], dtype=np.int64)
    present.flags.writeable = picked.flags.writeable = False  # shared between calls
    return present, picked


def coverage_refusal(low: list[tuple[str, float]], n_genes: int, min_coverage: float) -> str:
    """One message naming every sample (with its coverage) that measures too few of the model's genes."""
    names = ", ".join(f"{name} ({fraction:.0%})" for name, fraction in low[:20])
    more = f" and {len(low) - 20} more" if len(low) > 20 else ""
    return (
        f"{len(low)} sample(s) measure fewer than {min_coverage:.0%} of the model's {n_genes:,} genes: "
        f"{names}{more}; at least {min_coverage:.0%} are needed for a prediction. Check the gene identifiers, "
        "remove these samples or use whole-transcriptome profiles."
    )


def prepare_input(
    bundle: ModelBundle,
    expression: pd.DataFrame,
    min_coverage: float = MIN_GENE_COVERAGE,
    scaling: str = "auto",
    platform: str = "auto",
    value_scale: str | None = None,
) -> ModelInput:
    """Align to the model genes, detect the platform and scale (``features/scaling_modes.py``).

    ``expression`` is samples × gene symbols on log2(TPM+1) scale or already normalised (z-scores); ``value_scale``
    is what the parser detected (inferred from the values when None). ``scaling``: auto (the best the benchmark
    supports for this upload), sample, cohort or reference.
    """
    if expression.shape[0] == 0:
        raise ProfileError("the profile has no samples")
    aligned = align_to_genes(expression, bundle.genes)
    coverage = np.isfinite(aligned).mean(axis=1)
    too_low = np.flatnonzero(coverage < min_coverage)
    if too_low.size:  # every low sample is named (the data-quality rules in neurix_core/quality.py)
        low = [(str(expression.index[i]), float(coverage[i])) for i in too_low]
        raise ProfileError(coverage_refusal(low, len(bundle.genes), min_coverage))
    if value_scale is None:  # a DataFrame given directly: z-scores only from positive evidence (io/units.py)
        value_scale = "zscore" if scale_evidence(aligned).zscore_like else "log2tpm"
    choice = choose_scaling(
        scaling,
        detect_platform(value_scale, aligned, platform),
        bundle.training_platform,
        len(aligned),
        bundle.rnaseq_reference,
        value_scale,
    )
    zscored = within_sample_zscore(aligned)
    scaled = apply_scaling(
        choice, aligned, bundle.fitted.gene_scaler, bundle.rnaseq_reference, bundle.genes, zscored
    )
    return ModelInput(
        samples=[str(s) for s in expression.index],
        zscored=zscored,
        scaled=scaled.astype(np.float32, copy=False),
        coverage=coverage,
        scaling=choice,
    )


def predict_matrix(bundle: ModelBundle, model_input: ModelInput) -> np.ndarray:
    """Predicted z-scored log AUC, samples × all bundle drugs (one matrix product per batch)."""
    return bundle.fitted.predict_scaled(model_input.scaled, drug_latent=drug_latent(bundle))


_DRUG_LATENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def drug_latent(bundle: ModelBundle) -> torch.Tensor:
    """All drugs' f(d), computed once per loaded model: it does not depend on the profile, and it was most of
    the cost of a prediction (a server predicts for every upload with the same fixed model)."""
    model = bundle.fitted.model
    latent = _DRUG_LATENTS.get(model)
    if latent is None:
        model.eval()
        with torch.no_grad():
            latent = model.drug_latent()
        _DRUG_LATENTS[model] = latent
    return latent


def prediction_table(bundle: ModelBundle, model_input: ModelInput) -> pd.DataFrame:
    """One row per (sample, drug), ranked within each sample from most to least sensitive (lowest z first).

    Built by ``predict_block`` (index arrays into the drug table, no per-row Python objects), the same code that
    writes a cohort's Parquet.
    """
    from neurix_core.predict_block import predict_block  # it builds on this module

    return predict_block(bundle, model_input, "screen").to_frame(bundle.drugs)[PREDICTION_COLUMNS]
