"""Curated drug classes: the rule-based class of every screen entry, then the hand-checked override table.

Why: the rules in ``neurix_core/data/drugs.py`` read free-text annotations and get a few well-known drugs wrong
(the Repurposing Hub files rapamycin under transplant and masitinib under dermatology; GDSC has no annotation for
Acetalax, a laxative). ``drug_class_overrides.csv`` fixes these per compound, each row with its reason and a source
a reader can check (label, WHO ATC code or paper). Precedence: override > rules 1–4 of ``drugs.py``. All screen
entries of one compound get one class: the override, else the most common rule-based class among its entries
(ties: chemotherapy, targeted, non-oncology, uncharacterised).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from neurix_core.data.drugs import classify_drug

OVERRIDE_TABLE = Path(__file__).with_name("drug_class_overrides.csv")
DRUG_CLASSES = ("targeted", "chemotherapy", "non-oncology", "uncharacterised")
TIE_ORDER = {"chemotherapy": 0, "targeted": 1, "non-oncology": 2, "uncharacterised": 3}


@lru_cache(maxsize=1)
def class_overrides() -> pd.DataFrame:
    """The override table indexed by compound id: drug_class, reason, source."""
    table = pd.read_csv(OVERRIDE_TABLE, dtype=str, keep_default_na=False).set_index("compound_id")
    unknown = set(table["drug_class"]) - set(DRUG_CLASSES)
    if unknown or not table["source"].str.strip().all():
        raise ValueError(f"{OVERRIDE_TABLE.name}: every row needs a known class and a source")
    return table


def curated_classes(drugs: pd.DataFrame) -> pd.DataFrame:
    """drug_class and class_reason for every row of a drug table that has a compound_id column."""
    rules = [
        classify_drug(*(str(row.get(c, "") or "") for c in ("moa", "targets", "pathway", "disease_area")))
        for row in drugs.to_dict(orient="records")
    ]
    frame = pd.DataFrame(rules, columns=["drug_class", "class_reason"], index=drugs.index)
    frame["compound_id"] = drugs["compound_id"].to_numpy()
    frame["tie"] = frame["drug_class"].map(TIE_ORDER)
    votes = frame.groupby(["compound_id", "drug_class", "tie"], as_index=False).size()
    winner = (
        votes.sort_values(["size", "tie"], ascending=[False, True])
        .drop_duplicates("compound_id")
        .set_index("compound_id")["drug_class"]
    )
    chosen = frame["compound_id"].map(winner)
    reasons = frame[frame["drug_class"] == chosen].groupby("compound_id")["class_reason"].first()
    frame["drug_class"], frame["class_reason"] = chosen, frame["compound_id"].map(reasons)
    overrides = class_overrides()
    hit = frame["compound_id"].isin(overrides.index)
    ids = frame.loc[hit, "compound_id"]
    frame.loc[hit, "drug_class"] = ids.map(overrides["drug_class"]).to_numpy()
    frame.loc[hit, "class_reason"] = (
        "curated: " + ids.map(overrides["reason"]) + " (source: " + ids.map(overrides["source"]) + ")"
    ).to_numpy()
    return frame[["drug_class", "class_reason"]]
