"""Repurposing candidates for one tumour: a strong, absolute and reliable predicted effect from a clinical-stage
drug that is not already approved for the tumour's type.

A compound is a candidate for a sample when **all** of these hold (defaults in brackets, each a keyword argument):

1. *relative effect*: predicted z-scored log AUC ≤ ``max_z`` [−1]: more sensitive than ~85% of cell lines;
2. *absolute effect*: predicted AUC ≤ ``max_auc`` [0.8], where AUC = exp(mean + z·sd) of the drug's log AUC over the
   training cell lines (GDSC AUC: 1 = no killing over the tested doses). A z of −1 alone is not enough: for 180 of
   the 697 screen entries z = −1 still means AUC > 0.9, almost no killing;
3. *reliability*: the drug's measured hit rate ≥ ``min_hit_rate`` [0.5] when the bundle has a ``hit_rate`` column
   (out-of-fold: how often a predicted top-20% line truly was in the most sensitive third; chance 33%), otherwise
   its cross-validated ρ ≥ ``min_rho`` [0.2];
4. *clinical stage*: the Repurposing Hub lists it as launched or in phase 1–3 (repurposing needs a drug that has
   been in people; research compounds such as Acetalax with no phase are not candidates);
5. *off-indication*: none of its approved indications names the tumour type. Indications are matched to OncoTree
   lineages through the vocabulary ``indication_vocabulary.csv`` (whole terms, longest match first, abbreviations
   case-sensitive), never by word prefixes: 'allergic rhinitis' names no lineage, 'acute lymphoblastic leukemia
   (ALL)' names Lymphoid, 'acute myeloid leukemia' names Myeloid only. Drugs in phases 1–3 have no approved
   indication and count as off-indication.

A tumour type is required: without one, every drug would count as off-indication. Pass ``tumour_type`` (an
OncoTree lineage from ``tumour_types()``), or a ``suggested_lineage`` (e.g. the lineage of the nearest cell lines),
which is used and labelled as a suggestion in the ``tumour_type_source`` column. Order: non-oncology drugs first,
then the rest, each by −z × reliability.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.errors import NeurixError
from neurix_core.predict_levels import predicted_auc

VOCABULARY = Path(__file__).with_name("indication_vocabulary.csv")
SOLID = "*solid"
HAEMATOLOGICAL = frozenset({"Myeloid", "Lymphoid"})
CLASS_PRIORITY = {"non-oncology": 0}
APPROVED = re.compile(r"launched|approved", re.IGNORECASE)
CLINICAL = re.compile(r"launched|approved|phase\s*[123]", re.IGNORECASE)
MAX_Z = -1.0
MAX_AUC = 0.8
MIN_RHO = 0.2
MIN_HIT_RATE = 0.5


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[list[tuple[re.Pattern[str], str, int]], list[str]]:
    """(pattern, lineage, term length) for every full term and abbreviation, and the lineage names."""
    table = pd.read_csv(VOCABULARY, dtype=str, keep_default_na=False)
    patterns = []
    for lineage, term, abbreviation in table[["lineage", "term", "abbreviation"]].itertuples(index=False):
        words = r"\s+".join(re.escape(w) for w in term.lower().split())
        patterns.append((re.compile(rf"(?<![a-z0-9]){words}s?(?![a-z0-9])"), lineage, len(term)))
        if abbreviation:
            patterns.append(
                (re.compile(rf"(?<![A-Za-z0-9]){re.escape(abbreviation)}(?![A-Za-z0-9])"), lineage, len(term))
            )
    lineages = sorted(set(table["lineage"]) - {SOLID})
    return patterns, lineages


def tumour_types() -> list[str]:
    """The OncoTree lineages the indication vocabulary knows (the choices offered for a tumour type)."""
    return list(_vocabulary()[1])


def indication_lineages(indication: str) -> set[str]:
    """OncoTree lineages named by a Repurposing Hub indication text ('|'-separated terms)."""
    patterns, lineages = _vocabulary()
    found: set[str] = set()
    for item in str(indication or "").split("|"):
        matches = []
        for pattern, lineage, length in patterns:
            source = item if pattern.pattern.startswith("(?<![A-Za-z0-9])") else item.lower()
            for match in pattern.finditer(source):
                matches.append((match.start(), match.end(), length, lineage))
        spans = [(s, e) for s, e, _, _ in matches]
        for start, end, _, lineage in matches:
            inside_longer = any(
                (s <= start and end <= e) and (e - s) > (end - start)
                for s, e in spans
                if (s, e) != (start, end)
            )
            if not inside_longer:
                found.add(lineage)
    if SOLID in found:
        found = (found - {SOLID}) | (set(lineages) - HAEMATOLOGICAL)
    return found


def indication_covers(indication: str, tumour_type: str | None) -> bool:
    """Whether an indication text names the tumour type (an OncoTree lineage), through the vocabulary."""
    return bool(tumour_type) and tumour_type in indication_lineages(indication)


def _resolve_tumour_type(tumour_type: str | None, suggested_lineage: str | None) -> tuple[str, str]:
    if tumour_type:
        return tumour_type, "chosen"
    if suggested_lineage:
        return suggested_lineage, "suggested"
    raise NeurixError(
        "choose a tumour type (an OncoTree lineage such as Lung or Breast) for repurposing candidates: "
        "without it every drug would count as outside its approved indications"
    )


def repurposing_candidates(
    predictions: pd.DataFrame,
    drugs: pd.DataFrame,
    tumour_type: str | None = None,
    max_z: float = MAX_Z,
    min_rho: float = MIN_RHO,
    max_auc: float = MAX_AUC,
    min_hit_rate: float = MIN_HIT_RATE,
    suggested_lineage: str | None = None,
) -> pd.DataFrame:
    """Candidates for one sample's predictions (compound- or screen-level rows of that sample)."""
    lineage, source = _resolve_tumour_type(tumour_type, suggested_lineage)
    annotation = drugs.set_index("drug_key")
    table = predictions.copy()
    for column in ("phase", "indication", "disease_area"):
        table[column] = table["drug_key"].map(annotation[column]).fillna("").astype(str)
    if "predicted_auc" not in table and {"log_auc_mean", "log_auc_sd"} <= set(annotation.columns):
        rows = pd.Index(drugs["drug_key"]).get_indexer(table["drug_key"])
        table["predicted_auc"] = predicted_auc(drugs, rows, table["z_log_auc"].to_numpy(dtype=np.float64))
    if "hit_rate" not in table and "hit_rate" in annotation:
        table["hit_rate"] = table["drug_key"].map(annotation["hit_rate"]).astype(float)
    table["approved"] = table["phase"].str.contains(APPROVED)
    table["clinical_stage"] = table["phase"].str.contains(CLINICAL)
    table["indication_lineages"] = [
        ", ".join(sorted(indication_lineages(text))) if approved else ""
        for text, approved in zip(table["indication"], table["approved"], strict=True)
    ]
    table["indication_covers_tumour"] = [
        approved and indication_covers(text, lineage)
        for text, approved in zip(table["indication"], table["approved"], strict=True)
    ]
    if "hit_rate" in table and table["hit_rate"].notna().any():
        reliability = table["hit_rate"].astype(float)
        reliable = reliability.fillna(-1) >= min_hit_rate
        table["reliability_basis"] = f"hit rate ≥ {min_hit_rate:.0%}"
    else:
        reliability = table["cv_rho"].astype(float)
        reliable = reliability.fillna(-1) >= min_rho
        table["reliability_basis"] = f"cross-validated ρ ≥ {min_rho:.2f}"
    strong = table["z_log_auc"] <= max_z
    absolute = table["predicted_auc"].astype(float) <= max_auc if "predicted_auc" in table else strong
    keep = strong & absolute & reliable & table["clinical_stage"] & ~table["indication_covers_tumour"]
    candidates = table[keep].copy()
    candidates["repurposing_score"] = -candidates["z_log_auc"] * reliability[keep]
    candidates["tumour_type"] = lineage
    candidates["tumour_type_source"] = (
        "chosen by you" if source == "chosen" else "suggested (not chosen): check it matches the tumour"
    )
    candidates["class_priority"] = candidates["drug_class"].map(CLASS_PRIORITY).fillna(1)
    candidates = candidates.sort_values(["class_priority", "repurposing_score"], ascending=[True, False])
    return candidates.drop(columns="class_priority").reset_index(drop=True)
