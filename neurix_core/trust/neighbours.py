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
    rows = []
    for s, sample in enumerate(samples):
        for rank, line in enumerate(order[s], start=1):
            info = lines.iloc[line]
            row = {
                "sample": sample,
                "rank": rank,
                "cell_line": info["cell_line"],
                "cell_line_name": info["cell_line_name"],
                "lineage": info["lineage"],
                "primary_disease": info["primary_disease"],
                "similarity": float(similarity[s, line]),
                "distance": float(1.0 - similarity[s, line]),
            }
            if drug_index is not None:
                row["measured_z_log_auc"] = float(measured[line, drug_index])
            rows.append(row)
    return pd.DataFrame(rows)


def suggested_lineage(neighbours: pd.DataFrame) -> str | None:
    """Similarity-weighted majority lineage of one sample's neighbours (None when unknown)."""
    known = neighbours.dropna(subset=["lineage"])
    known = known[known["lineage"].astype(str).str.len() > 0]
    if known.empty:
        return None
    weights = known.groupby("lineage")["similarity"].sum().clip(lower=0)
    return str(weights.idxmax())


def lineage_warning(neighbours: pd.DataFrame, tumour_type: str | None) -> str | None:
    """A one-sentence warning when the neighbours' lineage disagrees with the chosen tumour type."""
    suggested = suggested_lineage(neighbours)
    if not tumour_type or suggested is None or suggested.lower() == tumour_type.lower():
        return None
    return (
        f"The most similar training cell lines are mostly {suggested}, not {tumour_type} as chosen: check the "
        "tumour type and the sample before trusting the ranking."
    )
