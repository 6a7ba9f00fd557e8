"""Three ways to put an uploaded profile on the training scale, and which one to use for a given upload.

* ``sample``    – z-score within the sample, then each gene with the *training platform's* mean/sd (the bundle's
  GeneScaler). Exact when the upload comes from the training platform; for RNA-seq into a microarray model it leaves
  a fixed offset per gene (probe affinity vs gene length and mappability) that within-sample scaling cannot remove.
* ``cohort``    – z-score within the sample, then centre and scale each gene on the uploaded cohort itself. Removes
  any per-gene platform/batch offset, but predictions become relative to the cohort: it assumes the cohort is a mix of
  tumours like the training lines (a cohort of one tumour type loses the between-type differences).
* ``reference`` – for the genes the bundle's RNA-seq reference covers, z-score within the sample over those genes and
  scale with the training lines' own RNA-seq mean/sd (``rnaseq_reference.py``); other genes as ``sample``.

The figures quoted to users come from ``benchmarks/platform_transfer.py`` (paired GDSC microarray / DepMap RNA-seq
of the same cell lines); ``tests/test_scaling_modes.py`` checks them against ``benchmarks/results/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from neurix_core.errors import ProfileError
from neurix_core.features.rnaseq_reference import RnaseqReference
from neurix_core.features.scaling import GeneScaler, within_sample_zscore

Platform = Literal["rnaseq", "microarray", "unknown"]
PLATFORMS = ("auto", "rnaseq", "microarray")
SCALING_MODES = ("auto", "sample", "cohort", "reference")
RNASEQ_SCALES = ("tpm", "counts", "log2tpm")
# A reference that covers at least this fraction of the model's genes beats cohort centring (no cohort assumption).
FULL_REFERENCE_COVERAGE = 0.9
# log2 values whose 1st percentile is above this have no unexpressed genes: microarray intensities, not log2(TPM+1).
MICROARRAY_LOG2_FLOOR = 1.0

# --- measured by benchmarks/platform_transfer.py (53 genes shared by GDSC microarray and the DepMap 24Q4 sample,
# 660 paired cell lines, 697 drugs, per-drug ridge trained on microarray, 5-fold by cell line). Update with the
# benchmark; tests/test_scaling_modes.py compares them with benchmarks/results/platform_transfer.json.
MIN_COHORT_SAMPLES = (
    25  # smallest cohort that beats the single-sample path for both models, half the loss for ridge
)
BENCHMARK_RHO: dict[str, float] = {
    "microarray": 0.252,
    "sample": 0.231,
    "reference": 0.250,
    "cohort": 0.243,  # cohorts of MIN_COHORT_SAMPLES; 0.248 at 50
    "microarray_cohort": 0.244,  # cohort centring of microarray itself (no platform shift to remove)
    "cohort_one_type": 0.141,  # cohorts of a single tumour type ...
    "microarray_on_one_type_lines": 0.265,  # ... and microarray on the same lines
    "tissue_only": 0.237,
}
NN_BENCHMARK_RHO = {"microarray": 0.237, "sample": 0.157}  # a small untuned neural network: far more fragile


@dataclass(frozen=True)
class ScalingChoice:
    """The scaling applied to an upload and why; ``flag`` is a warning the user must see beside the results."""

    mode: str
    platform: str
    training_platform: str
    reason: str
    flag: str | None = None
    reference_genes: int = 0

    @property
    def benchmark_rho(self) -> float:
        """Mean per-drug ρ the benchmark measured on this path (microarray→microarray for matching platforms)."""
        if self.platform != "rnaseq" or self.training_platform == "rnaseq":
            return {"sample": BENCHMARK_RHO["microarray"], "cohort": BENCHMARK_RHO["microarray_cohort"]}.get(
                self.mode, BENCHMARK_RHO[self.mode]
            )
        return BENCHMARK_RHO[self.mode]

    def describe(self) -> str:
        """One paragraph for the CLI, the dashboard and the report."""
        text = (
            f"Platform: {self.platform} (model trained on {self.training_platform}). Scaling: {self.mode} – "
            f"{self.reason} Benchmark (paired microarray/RNA-seq cell lines, 53 shared genes, per-drug ridge): "
            f"mean per-drug ρ {self.benchmark_rho:.3f} on this path, {BENCHMARK_RHO['microarray']:.3f} on "
            f"microarray itself, {BENCHMARK_RHO['tissue_only']:.3f} from tissue of origin alone."
        )
        return text + (f" WARNING: {self.flag}" if self.flag else "")


def detect_platform(value_scale: str, log2tpm: np.ndarray | None = None, requested: str = "auto") -> str:
    """RNA-seq for TPM/counts/log2(TPM+1) uploads; microarray for log2 values without unexpressed genes; unknown
    for values that are already normalised (z-scores), whose origin cannot be told from the numbers."""
    if requested not in PLATFORMS:
        raise ProfileError(f"Unknown platform {requested!r}: use {', '.join(PLATFORMS)}.")
    if requested != "auto":
        return requested
    if value_scale in ("tpm", "counts"):
        return "rnaseq"
    if value_scale == "log2tpm":
        finite = log2tpm[np.isfinite(log2tpm)] if log2tpm is not None else np.array([])
        if finite.size and np.percentile(finite, 1) > MICROARRAY_LOG2_FLOOR:
            return "microarray"
        return "rnaseq"
    return "unknown"


def choose_scaling(
    requested: str,
    platform: str,
    training_platform: str,
    n_samples: int,
    reference: RnaseqReference | None,
    value_scale: str = "log2tpm",
) -> ScalingChoice:
    """Pick (or check) the scaling for an upload; ``requested='auto'`` takes the best the benchmark supports."""
    if requested not in SCALING_MODES:
        raise ProfileError(f"Unknown scaling {requested!r}: use {', '.join(SCALING_MODES)}.")
    shifted = platform == "rnaseq" and training_platform == "microarray"
    coverage = reference.coverage if reference is not None else 0.0
    if requested == "auto":
        if not shifted:
            requested = "sample"
        elif reference is not None and coverage >= FULL_REFERENCE_COVERAGE and value_scale != "counts":
            requested = "reference"
        elif n_samples >= MIN_COHORT_SAMPLES:
            requested = "cohort"
        elif reference is not None:
            requested = "reference"
        else:
            requested = "sample"
    if requested == "cohort" and n_samples < MIN_COHORT_SAMPLES:
        raise ProfileError(
            f"Cohort scaling needs at least {MIN_COHORT_SAMPLES} samples in one file (the benchmark's threshold: "
            f"fewer give noisy per-gene means); this file has {n_samples}. Use 'sample' or 'reference'."
        )
    if requested == "reference" and reference is None:
        raise ProfileError(
            "This model bundle has no RNA-seq reference: retrain it with DepMap RNA-seq "
            "(OmicsExpressionProteinCodingGenesTPMLogp1.csv) in the data directory, or use 'sample' or 'cohort'."
        )
    return _explain(requested, platform, training_platform, n_samples, reference, shifted, value_scale)


def _explain(
    mode: str,
    platform: str,
    training_platform: str,
    n_samples: int,
    reference: RnaseqReference | None,
    shifted: bool,
    value_scale: str,
) -> ScalingChoice:
    flag = None
    n_ref = len(reference.genes) if reference is not None and mode == "reference" else 0
    if mode == "sample":
        reason = (
            f"z-scored within each sample, then each gene scaled with the {training_platform} training lines."
        )
        if shifted:
            flag = (
                f"{platform} scaled with {training_platform} statistics: per-gene platform offsets remain. The "
                f"benchmark measured mean per-drug ρ {BENCHMARK_RHO['sample']:.3f} this way against "
                f"{BENCHMARK_RHO['microarray']:.3f} on microarray for ridge, and {NN_BENCHMARK_RHO['sample']:.3f} "
                f"against {NN_BENCHMARK_RHO['microarray']:.3f} for a small neural network (tissue of origin alone: "
                f"{BENCHMARK_RHO['tissue_only']:.3f}). Upload ≥ {MIN_COHORT_SAMPLES} samples of mixed tumour "
                "types for cohort scaling, or use a bundle with an RNA-seq reference."
            )
        elif platform == "unknown":
            reason += (
                " The values were already normalised, so the platform is unknown; they are used as given."
            )
    elif mode == "cohort":
        reason = (
            f"each gene centred and scaled on this upload's {n_samples} samples; predictions are relative to this "
            "cohort, which should be a mix of tumour types like the training lines: on cohorts of a single tumour "
            f"type the benchmark measured ρ {BENCHMARK_RHO['cohort_one_type']:.3f} "
            f"({BENCHMARK_RHO['microarray_on_one_type_lines']:.3f} on microarray for the same lines)."
        )
    else:
        assert reference is not None
        reason = (
            f"{n_ref} of {reference.n_model_genes} model genes scaled with the RNA-seq of "
            f"{reference.n_cell_lines} training cell lines."
        )
        rest = reference.n_model_genes - n_ref
        if rest and reference.coverage < FULL_REFERENCE_COVERAGE:
            flag = (
                f"The RNA-seq reference covers only {reference.coverage:.0%} of the model's genes; the other "
                f"{rest:,} are scaled with microarray statistics."
            )
        if value_scale == "counts":
            count_note = (
                "Counts were converted to CPM, not TPM: gene-length offsets remain against a TPM reference."
            )
            flag = f"{flag} {count_note}" if flag else count_note
        if not shifted:
            flag = (flag + " " if flag else "") + "The upload does not look like RNA-seq."
    return ScalingChoice(mode, platform, training_platform, reason, flag, n_ref)


def scale_sample(
    aligned: np.ndarray, gene_scaler: GeneScaler, zscored: np.ndarray | None = None
) -> np.ndarray:
    """Today's single-sample path: within-sample z over the model genes, then the training gene scaler.

    ``zscored``: ``within_sample_zscore(aligned)`` when the caller has it already (``prepare_input`` keeps it)."""
    return gene_scaler.transform(within_sample_zscore(aligned) if zscored is None else zscored)


def scale_cohort(aligned: np.ndarray, zscored: np.ndarray | None = None) -> np.ndarray:
    """Within-sample z, then each gene centred and scaled on the uploaded samples; unmeasured stays 0 (the mean)."""
    zscored = within_sample_zscore(aligned) if zscored is None else zscored
    return GeneScaler.fit(zscored).transform(zscored)


def scale_reference(
    aligned: np.ndarray,
    gene_scaler: GeneScaler,
    reference: RnaseqReference,
    model_genes: list[str],
    zscored: np.ndarray | None = None,
) -> np.ndarray:
    """Reference genes from the RNA-seq reference, the others as ``scale_sample``."""
    scaled = scale_sample(aligned, gene_scaler, zscored)
    columns = reference.columns(model_genes)
    scaled[:, columns] = reference.transform(aligned[:, columns])
    return scaled


def apply_scaling(
    choice: ScalingChoice,
    aligned: np.ndarray,
    gene_scaler: GeneScaler,
    reference: RnaseqReference | None,
    model_genes: list[str],
    zscored: np.ndarray | None = None,
) -> np.ndarray:
    """The network's input (float32) for ``aligned`` (samples × model genes, NaN = not measured); ``zscored`` is
    its within-sample z where the caller computed it already."""
    if choice.mode == "cohort":
        return scale_cohort(aligned, zscored)
    if choice.mode == "reference" and reference is not None:
        return scale_reference(aligned, gene_scaler, reference, model_genes, zscored)
    return scale_sample(aligned, gene_scaler, zscored)
