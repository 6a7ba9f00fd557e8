"""Biology check of the explanations: do well-established markers rank where the literature says they should?

Scored on the discovery artefact (CV fold models explaining only the cell lines they never saw), so it measures what a
user of the shipped architecture gets on unseen tumours. Two parts:

* the marker table — every curated marker (``markers.csv``, one literature source per row) for every drug it applies
  to: its rank among all genes by mean |relevance|, its discovery rank, and whether the model's expression–relevance
  trend agrees with the expected direction;
* targeted drugs with an annotated target (mapped to HGNC, measured by the model) in the top 1 % of genes, against
  the number expected by chance.

It is reported, never tuned on: a model change that improves ρ but moves these figures is a trade-off stated next to
ρ in the model card (``validation.json: biology_check``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from neurix_core.data.drugs import normalise_name
from neurix_core.explain.discovery import TOP_SHARE, Discovery
from neurix_core.explain.markers import marker_table
from neurix_core.explain.readable import target_coverage


def marker_ranks(discovery: Discovery, drugs: pd.DataFrame, genes: Sequence[str]) -> pd.DataFrame:
    """One row per (curated marker, drug key in the bundle)."""
    markers = marker_table()
    names = drugs["drug_name"].map(normalise_name)
    stored = discovery.genes.set_index(["drug_key", "gene"])
    gene_set = set(genes)
    cv = drugs.set_index("drug_key")["cv_rho"] if "cv_rho" in drugs.columns else None
    rows = []
    for marker in markers.itertuples(index=False):
        for key in drugs.loc[names == marker.drug_norm, "drug_key"]:
            row = {
                "gene": marker.gene,
                "drug": marker.drug,
                "drug_key": key,
                "expected": marker.expected,
                "abs_rank": np.nan,
                "discovery_rank": np.nan,
                "of": len(genes),
                "consistency": np.nan,
                "model_trend": "",
                "agrees": None,
                "fold_top": np.nan,
                "cv_rho": float(cv[key]) if cv is not None else np.nan,
                "source": marker.source,
            }
            if marker.gene not in gene_set:
                row["model_trend"] = "gene not measured by the model"
            elif (key, marker.gene) not in stored.index:
                row["model_trend"] = "not stored in this bundle (markers changed since training; retrain)"
            else:
                found = stored.loc[(key, marker.gene)]
                slope = float(found["expression_relevance_slope"])
                trend = "resistance" if slope > 0 else "sensitivity" if slope < 0 else "none"
                row.update(
                    abs_rank=int(found["abs_rank"]),
                    discovery_rank=int(found["discovery_rank"]),
                    consistency=float(found["consistency"]),
                    model_trend=f"high expression → {trend}",
                    agrees=trend == marker.expected,
                    fold_top=int(found["fold_top"]),
                )
            rows.append(row)
    return pd.DataFrame(rows)


def targets_in_top(discovery: Discovery, drugs: pd.DataFrame, genes: Sequence[str]) -> dict:
    """Targeted drugs with a measured annotated target in the top 1 % by mean |relevance|, and the chance level."""
    k = max(1, int(round(TOP_SHARE * len(genes))))
    stored = discovery.genes.set_index(["drug_key", "gene"])["abs_rank"]
    hits, tested, expected = 0, 0, 0.0
    for drug in drugs[drugs["drug_class"] == "targeted"].itertuples(index=False):
        present, _ = target_coverage(str(drug.targets or ""), genes)
        ranks = [stored.get((drug.drug_key, gene)) for gene in present]
        ranks = [r for r in ranks if r is not None]
        if not ranks:
            continue
        tested += 1
        hits += int(min(ranks) <= k)
        expected += 1.0 - (1.0 - k / len(genes)) ** len(ranks)
    return {
        "targeted_drugs_with_measured_target": tested,
        "with_target_in_top_1pct": hits,
        "fraction": hits / tested if tested else float("nan"),
        "expected_by_chance": expected,
        "top_1pct_genes": k,
    }


def biology_check(
    discovery: Discovery, drugs: pd.DataFrame, genes: Sequence[str]
) -> tuple[pd.DataFrame, dict]:
    """The marker table and a summary for the model card."""
    table = marker_ranks(discovery, drugs, genes)
    measured = table[table["abs_rank"].notna()]
    k = max(1, int(round(TOP_SHARE * len(genes))))
    summary = {
        "markers_checked": int(len(measured)),
        "markers_not_measured": int((table["model_trend"] == "gene not measured by the model").sum()),
        "markers_in_top_1pct": int((measured["abs_rank"] <= k).sum()),
        "markers_in_top_5pct": int((measured["abs_rank"] <= 5 * k).sum()),
        "markers_direction_agrees": int(measured["agrees"].astype(bool).sum()),
        "median_marker_rank": float(measured["abs_rank"].median()) if len(measured) else float("nan"),
        **targets_in_top(discovery, drugs, genes),
        "median_fold_rank_agreement": float(np.nanmedian(discovery.drugs["fold_rank_agreement"])),
        "median_fold_top20_overlap": float(np.nanmedian(discovery.drugs["fold_top20_overlap"])),
    }
    return table, summary
