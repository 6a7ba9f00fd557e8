"""Value scale of an expression upload: detect it (log2(TPM+1), TPM, counts or z-scores) and convert to log2(TPM+1).

Value scale rules (``values="auto"``), applied to the values of the recognised genes:

1. any negative value → ``zscore`` (already centred data: kept on its own scale, the model z-scores within
   sample); unless fewer than 1% are negative, which looks like missing-value codes (-1, -999) and is
   refused;
2. all values ≤ 20 → ``log2tpm`` (log2(TPM+1) of a full transcriptome stays below log2(10^6+1) ≈ 19.93);
3. whole numbers (max > 20) → ``counts``: library-size normalised to counts per million, then log2(CPM+1).
   Gene lengths are not available, so CPM stands in for TPM; the model z-scores within each sample, which
   removes most of the remaining difference;
4. otherwise → ``tpm``: log2(TPM+1).

Pass ``values=`` one of those names to override the detection (for example for a small gene panel in TPM whose
values all happen to be below 20).
"""

from __future__ import annotations

import numpy as np

from neurix_core.errors import ProfileError

VALUE_SCALES = ("log2tpm", "tpm", "counts", "zscore")
LOG_MAX = 20.0
MISSING_CODE_FRACTION = 0.01
SMALL_LIBRARY = 100_000


def _detect_scale(values: np.ndarray) -> str:
    """Apply the value-scale rules of the module docstring to the finite values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ProfileError(
            "No expression values were found for the recognised genes: the value cells are empty."
        )
    negative = float((finite < 0).mean())
    if negative > 0:
        if negative < MISSING_CODE_FRACTION:
            raise ProfileError(
                f"{int((finite < 0).sum())} value(s) are negative while the rest are not: if these are "
                "missing-value codes (such as -1 or -999) leave those cells empty instead."
            )
        return "zscore"
    if finite.max() <= LOG_MAX:
        return "log2tpm"
    if np.all(finite == np.round(finite)):
        return "counts"
    return "tpm"


def _to_log2tpm(
    matrix: np.ndarray, mapped: np.ndarray, scale: str, samples: list[str], warnings: list[str]
) -> np.ndarray:
    """Convert the recognised genes' values (samples × genes) to log2(TPM+1); z-scores are left as they are.

    Library sizes for counts use every gene row of the file, recognised or not: CPM is relative to all reads.
    """
    values = matrix[:, mapped]
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
                "rather than read counts, pass the value scale 'tpm'."
            )
        warnings.append(
            "Read counts were normalised to counts per million (CPM), because gene lengths are not "
            "available; CPM stands in for TPM (the model z-scores within each sample)."
        )
        return np.log2(values / library[:, None] * 1e6 + 1.0)
    if scale == "log2tpm" and np.nanmax(values, initial=0.0) > 30:
        warnings.append(
            "Values above 30 are unusual for log2(TPM+1): check that the data are log-transformed."
        )
    return values
