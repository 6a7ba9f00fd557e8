"""Value scale of an expression upload: detect it from positive evidence, say why, and convert to log2(TPM+1).

Why a module of its own: a wrong scale silently moves every prediction, so the decision must be explainable and
testable on its own. Rules for ``values="auto"``, applied to each sample's values of the recognised genes:

1. **zscore** only on positive evidence: *every* sample has mean ≈ 0 and sd ≈ 1 (|mean| ≤ max(0.25, 3/√n) and
   0.5 ≤ sd ≤ 2 over its n values; the 3/√n allowance covers a file z-scored over more genes than Neurix
   recognises). Kept on its own scale (the model z-scores within each sample anyway).
2. Negative values without that evidence:

   - fewer than 1% negative while the rest look like TPM/counts (values above 20), or the negatives are whole
     numbers ≤ -1 making up under 1% → refused as probable missing-value codes (-1, -999): leave the cells empty;
   - otherwise all values ≤ 20 → ``log2``: log-scale expression that may be negative (log2 TPM without the +1,
     batch-corrected or microarray log2 values), used as given with a warning;
   - otherwise (negatives and values above 20) → refused: no supported scale has both.
3. All values ≥ 0 and ≤ 20 → ``log2tpm`` (log2(TPM+1) of a full transcriptome stays below log2(10^6+1) ≈ 19.93).
4. Whole numbers (max > 20) → ``counts``: library-size normalised to counts per million, then log2(CPM+1). Gene
   lengths are not available, so CPM stands in for TPM. This is an approximation: gene length is a per-gene
   offset that within-sample z-scoring does *not* remove, so counts from long genes read higher than their TPM.
5. Otherwise → ``tpm``: log2(TPM+1).

A manual choice (``values=`` one of ``VALUE_SCALES``) always wins, but when the data contradict it (z-scores chosen
for data whose samples are not centred, TPM/counts chosen for values that look log-transformed, log2(TPM+1) chosen
for values above 20, ...) the result carries a warning saying what the data look like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurix_core.errors import ProfileError

VALUE_SCALES = ("log2tpm", "tpm", "counts", "zscore", "log2")
SCALE_NAMES = {
    "log2tpm": "log2(TPM+1)",
    "tpm": "TPM",
    "counts": "read counts",
    "zscore": "z-scores",
    "log2": "log2 values (may be negative)",
}
LOG_MAX = 20.0
MISSING_CODE_FRACTION = 0.01
SMALL_LIBRARY = 100_000
Z_MEAN_TOLERANCE = 0.25
Z_SD_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class ScaleEvidence:
    """What the values look like, summarised over samples (the figures every decision is based on)."""

    n_values: int
    minimum: float
    maximum: float
    negative_fraction: float
    whole_numbers: bool
    sample_means: tuple[float, float]  # lowest and highest per-sample mean
    sample_sds: tuple[float, float]  # lowest and highest per-sample sd
    zscore_like: bool  # every sample has mean ≈ 0 and sd ≈ 1 (rule 1)
    negative_codes: bool  # every negative value is a whole number ≤ -1 (how missing-value codes look)

    def describe(self) -> str:
        return (
            f"values {self.minimum:.3g} to {self.maximum:.3g}, {self.negative_fraction:.1%} negative, "
            f"per-sample mean {_span(self.sample_means)}, sd {_span(self.sample_sds)}"
        )


@dataclass(frozen=True)
class ScaleDetection:
    """The scale used, what the data look like, why, and whether the user chose it."""

    scale: str
    detected: str  # what the automatic rules say (equals ``scale`` unless the user chose otherwise)
    reason: str  # one sentence: the evidence behind ``detected``
    manual: bool
    evidence: ScaleEvidence
    warning: str | None = None  # the data contradict the manual choice

    def summary(self) -> str:
        chosen = "chosen by you" if self.manual else "detected"
        return f"{SCALE_NAMES[self.scale]} ({chosen}): {self.reason}"


def _span(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:.2f}" if abs(high - low) < 5e-3 else f"{low:.2f} to {high:.2f}"


def scale_evidence(values: np.ndarray) -> ScaleEvidence:
    """Summary statistics of a samples × genes array (NaN ignored) that the rules use.

    Written for cohort partitions (~10⁷ values): a fully observed array is used without masked copies, and the
    whole-number test stops at the first block that has a fraction.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    observed = np.isfinite(values)
    complete = bool(observed.all())
    finite = values.ravel() if complete else values[observed]
    if finite.size == 0:
        raise ProfileError(
            "No expression values were found for the recognised genes: the value cells are empty."
        )
    counts = observed.sum(axis=1)
    rows = counts > 0
    filled = values if complete else np.where(observed, values, 0.0)[rows]
    counts = counts[rows]
    means = filled.sum(axis=1) / counts
    # no centred copy of ~10⁷ values: Σ(x − m)² = Σx² − n·m² in one fused pass (missing cells are 0 in ``filled``);
    # the sds only decide whether samples look z-scored (sd near 1, mean near 0), where this is exact to rounding
    squares = np.einsum("ij,ij->i", filled, filled)
    sds = np.sqrt(np.maximum(squares / counts - means**2, 0))
    negative = finite < 0
    n_negative = int(np.count_nonzero(negative))
    tolerance = np.maximum(Z_MEAN_TOLERANCE, 3.0 / np.sqrt(counts))
    zscore_like = bool(
        np.all(np.abs(means) <= tolerance) and np.all((sds >= Z_SD_RANGE[0]) & (sds <= Z_SD_RANGE[1]))
    )
    any_negative = n_negative > 0
    return ScaleEvidence(
        n_values=int(finite.size),
        minimum=float(finite.min()),
        maximum=float(finite.max()),
        negative_fraction=n_negative / finite.size,
        whole_numbers=_all_whole(finite),
        sample_means=(float(means.min()), float(means.max())),
        sample_sds=(float(sds.min()), float(sds.max())),
        zscore_like=zscore_like and any_negative,
        # negative values all ≤ −1 and whole (codes such as −9): no copy of the negatives unless none lies in
        # (−1, 0) (z-scores stop there, before rounding every value)
        negative_codes=any_negative
        and not bool(np.any(negative & (finite > -1)))
        and _all_whole(finite[negative]),
    )


def _all_whole(values: np.ndarray, block: int = 4096) -> bool:
    """Whether every value is a whole number; continuous data answer from the first block."""
    head = values[:block]
    if not np.all(head == np.round(head)):
        return False
    return bool(np.all(values == np.round(values)))


def _automatic(evidence: ScaleEvidence, n_negative: int) -> tuple[str, str]:
    """(scale, reason) by the module rules; raises ProfileError where no scale fits."""
    e = evidence
    if e.zscore_like:
        return "zscore", (
            f"every sample has mean ≈ 0 ({_span(e.sample_means)}) and sd ≈ 1 ({_span(e.sample_sds)}), "
            "as z-scores do"
        )
    if e.negative_fraction > 0:
        if e.negative_fraction < MISSING_CODE_FRACTION and (e.maximum > LOG_MAX or e.negative_codes):
            raise ProfileError(
                f"{n_negative} value(s) are negative while the rest are not: if these are missing-value codes "
                "(such as -1 or -999) leave those cells empty instead."
            )
        if e.maximum <= LOG_MAX:
            return "log2", (
                f"{e.negative_fraction:.1%} of values are negative (down to {e.minimum:.3g}) and none is above "
                f"{LOG_MAX:g}, but the samples are not centred (mean {_span(e.sample_means)}, sd "
                f"{_span(e.sample_sds)}), so these are log-scale values, not z-scores"
            )
        raise ProfileError(
            f"The values are both negative (down to {e.minimum:.3g}) and large (up to {e.maximum:.3g}), which "
            "fits no supported scale (TPM and counts cannot be negative; z-scores and log values stay small): "
            "check the file or choose the value scale yourself."
        )
    if e.maximum <= LOG_MAX:
        return "log2tpm", (
            f"all values are between {e.minimum:.3g} and {e.maximum:.3g} (log2(TPM+1) stays below {LOG_MAX:g})"
        )
    if e.whole_numbers:
        return "counts", f"whole numbers up to {e.maximum:,.0f}"
    return "tpm", f"non-negative decimals up to {e.maximum:,.3g} (above {LOG_MAX:g}, so not log-transformed)"


def _contradiction(chosen: str, evidence: ScaleEvidence, detected: str | None) -> str | None:
    """A warning when the data do not look like the manually chosen scale, else None."""
    e = evidence
    looks = f"the values look like {SCALE_NAMES[detected]}" if detected else "the values fit no scale"
    if chosen == "zscore" and not e.zscore_like:
        return (
            f"You chose z-scores, but the samples are not centred ({e.describe()}; z-scores have mean ≈ 0 and "
            f"sd ≈ 1); {looks}. Predictions are only valid if the scale is right."
        )
    if chosen in ("tpm", "counts") and e.maximum <= LOG_MAX:
        return (
            f"You chose {SCALE_NAMES[chosen]}, but no value is above {LOG_MAX:g} ({e.describe()}); {looks}. "
            "A whole transcriptome in TPM or counts has values in the thousands."
        )
    if chosen == "counts" and not e.whole_numbers:
        return f"You chose read counts, but the values are not whole numbers; {looks}."
    if chosen in ("log2tpm", "log2") and e.maximum > LOG_MAX:
        return (
            f"You chose {SCALE_NAMES[chosen]}, but values go up to {e.maximum:,.3g}, above the {LOG_MAX:g} a "
            f"log2 scale reaches; {looks}."
        )
    if chosen == "log2tpm" and e.zscore_like:
        return f"You chose log2(TPM+1), but {looks}."
    return None


def detect_scale(values: np.ndarray, chosen: str = "auto") -> ScaleDetection:
    """Decide the scale of a samples × genes array of recognised genes' values (see module rules).

    With a manual ``chosen`` scale the automatic rules still run, to warn when the data contradict the choice;
    a manual choice is never refused here (negative TPM/counts are refused at conversion).
    """
    evidence = scale_evidence(values)
    n_negative = int(round(evidence.negative_fraction * evidence.n_values))
    if chosen == "auto":
        scale, reason = _automatic(evidence, n_negative)
        return ScaleDetection(scale, scale, reason, manual=False, evidence=evidence)
    if chosen not in VALUE_SCALES:
        raise ProfileError(f"Unknown value scale {chosen!r}: use auto, {', '.join(VALUE_SCALES)}.")
    try:
        detected, reason = _automatic(evidence, n_negative)
    except ProfileError:
        detected, reason = None, f"the values fit no automatic rule ({evidence.describe()})"
    warning = None if detected == chosen else _contradiction(chosen, evidence, detected)
    return ScaleDetection(chosen, detected or chosen, reason, manual=True, evidence=evidence, warning=warning)


def _detect_scale(values: np.ndarray) -> str:
    """The automatic scale only (kept for callers that need no explanation)."""
    return detect_scale(values).scale


def _to_log2tpm(
    matrix: np.ndarray, mapped: np.ndarray, scale: str, samples: list[str], warnings: list[str]
) -> np.ndarray:
    """Convert the recognised genes' values (samples × genes) to log2(TPM+1); z-scores and log2 values are left
    as they are.

    Library sizes for counts use every gene row of the file, recognised or not: CPM is relative to all reads.
    """
    values = np.compress(mapped, matrix, axis=1)  # a new C-ordered array (``matrix[:, mapped]`` is F-ordered)
    if scale in ("tpm", "counts", "log2tpm") and np.nanmin(values, initial=0.0) < 0:
        label = {"tpm": "TPM", "counts": "read counts", "log2tpm": "log2(TPM+1) values"}[scale]
        raise ProfileError(f"The file has negative values, which {label} cannot be: check the value scale.")
    if scale == "tpm":
        return np.log2(values + 1.0)
    if scale == "counts":
        library = np.nansum(np.where(matrix > 0, matrix, 0.0), axis=1)
        empty = [samples[i] for i in np.flatnonzero(library <= 0)]
        if empty:
            raise ProfileError(f"Sample {empty[0]!r} has no reads (all counts are zero or empty).")
        median = float(np.median(library))
        if median < SMALL_LIBRARY:
            warnings.append(
                f"The counts are small (median {median:,.0f} reads per sample): if they are rounded TPM "
                "rather than read counts, choose the value scale 'tpm'."
            )
        warnings.append(
            "Read counts were normalised to counts per million (CPM) because gene lengths are not available; "
            "CPM is not TPM (gene length is a per-gene offset that within-sample z-scoring does not remove), "
            "so use TPM where you can."
        )
        return np.log2(values / library[:, None] * 1e6 + 1.0)
    if scale == "log2":
        warnings.append(
            "Negative values were read as log-scale expression (log2 TPM without the +1, batch-corrected or "
            "microarray log2 values) and used as given: low-expressed genes are spread differently than in "
            "training; use TPM or log2(TPM+1) where you can."
        )
    if scale == "log2tpm" and np.nanmax(values, initial=0.0) > 30:
        warnings.append(
            "Values above 30 are unusual for log2(TPM+1): check that the data are log-transformed."
        )
    return values
