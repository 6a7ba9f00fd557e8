"""The most similar training cell lines for a profile: a clinician's 'similar cases', with what they measured.

Similarity is the domain check's (``domain.ReferenceSpace``), so the neighbours are the lines that decide whether a
sample is in the domain. The lineage they suggest is a similarity-weighted vote; it is compared with the tumour type
the user chose, because a profile that looks like another tissue deserves a second look before trusting a ranking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_SHOWN = 5


def nearest_lines(
    similarity: np.ndarray,
    lines: pd.DataFrame,
    measured: np.ndarray,
    samples: list[str],
    drug_index: int | None = None,
    k: int = N_SHOWN,
) -> pd.DataFrame:
    """One row per (sample, neighbour): rank, cell line, lineage, similarity, distance (1 − similarity) and, with a
    drug, that line's measured z log AUC (NaN = not screened with the drug)."""
    k = min(k, similarity.shape[1])
    order = np.argsort(-similarity, axis=1)[:, :k]
    lines_flat = order.ravel()
    closeness = np.take_along_axis(similarity, order, axis=1).ravel()
    table = {
        "sample": [sample for sample in samples for _ in range(k)],
        "rank": np.tile(np.arange(1, k + 1), len(samples)),
        **{
            c: lines[c].to_numpy()[lines_flat]
            for c in ("cell_line", "cell_line_name", "lineage", "primary_disease")
        },
        "similarity": closeness.astype(np.float64),
        "distance": (1.0 - closeness).astype(np.float64),
    }
    if drug_index is not None:
        table["measured_z_log_auc"] = measured[lines_flat, drug_index].astype(np.float64)
    return pd.DataFrame(table)


def suggested_lineage(neighbours: pd.DataFrame) -> str | None:
    """Similarity-weighted majority lineage of one sample's neighbours (None when unknown)."""
    weights: dict[str, float] = {}  # a few rows: plain Python (pandas' groupby cost ~10 ms per call here)
    for lineage, similarity in zip(
        neighbours["lineage"].tolist(), neighbours["similarity"].tolist(), strict=True
    ):
        if lineage is None or lineage != lineage or not str(lineage):
            continue
        weights[lineage] = weights.get(lineage, 0.0) + similarity
    if not weights:
        return None
    return str(max(sorted(weights), key=lambda lineage: max(weights[lineage], 0.0)))  # ties: first by name


def lineage_warning(neighbours: pd.DataFrame, tumour_type: str | None) -> str | None:
    """A one-sentence warning when the neighbours' lineage disagrees with the chosen tumour type."""
    suggested = suggested_lineage(neighbours)
    if not tumour_type or suggested is None or suggested.lower() == tumour_type.lower():
        return None
    return (
        f"The most similar training cell lines are mostly {suggested}, not {tumour_type} as chosen: check the "
        "tumour type and the sample before trusting the ranking."
    )
