"""Compounds: which screen entries of the drug table are the same molecule, under a stable compound id.

Why: GDSC1 and GDSC2 screen many compounds twice, and GDSC1 holds repeated ids of one compound (other supplier or
batch), so the drug table has 697 screen entries for ~530 compounds. A clinician needs one entry per compound.

Rules (deterministic, from the drug table alone, so the same ids come out at training time and when an older
bundle is loaded):

1. Each entry's *name key* is its normalised name (upper case, letters and digits: 'Nutlin-3a (-)' → NUTLIN3A),
   after the curated spelling table ``compound_aliases.csv`` (one source per row, e.g. GDSC1's 'Venotoclax').
2. Two entries are one compound when their name keys are equal, or when a synonym of one (GDSC
   ``screened_compounds`` SYNONYMS) is the *name* of the other **and** their annotated targets overlap. The target
   check stops GDSC annotation slips from merging different drugs (GDSC2 lists AZD1480, a JAK inhibitor, as a
   synonym of the MEK inhibitor selumetinib). Synonyms shared by two entries are not enough either (GDSC lists
   Torisel, temsirolimus, as a synonym of rapamycin).
3. The compound id is the name key of the preferred name: a name without digits (an INN such as SAPITINIB over
   the code AZD8931), then the GDSC2 entry, then the most entries, then alphabetical order.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from neurix_core.data.drugs import normalise_name, target_genes

ALIAS_TABLE = Path(__file__).with_name("compound_aliases.csv")


@lru_cache(maxsize=1)
def compound_aliases() -> dict[str, str]:
    """Curated spellings: normalised name → compound id."""
    table = pd.read_csv(ALIAS_TABLE, dtype=str, keep_default_na=False)
    return {normalise_name(n): c for n, c in zip(table["name"], table["compound_id"], strict=True)}


def name_key(name: object) -> str:
    key = normalise_name(name)
    return compound_aliases().get(key, key)


def _targets(text: str) -> set[str]:
    genes = target_genes(text)
    return genes or ({normalise_name(text)} if normalise_name(text) else set())


def compound_ids(drugs: pd.DataFrame) -> pd.Series:
    """The compound id of every row of a drug table (columns drug_name, synonyms, targets, screen)."""
    names = [name_key(n) for n in drugs["drug_name"]]
    parent = {key: key for key in names}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    targets_by_key: dict[str, set[str]] = {}
    for key, targets in zip(names, drugs["targets"].fillna(""), strict=True):
        targets_by_key.setdefault(key, set()).update(_targets(str(targets)))
    for key, synonyms, targets in zip(
        names, drugs["synonyms"].fillna(""), drugs["targets"].fillna(""), strict=True
    ):
        for synonym in str(synonyms).split(","):
            other = name_key(synonym)
            if other and other != key and other in parent and _targets(str(targets)) & targets_by_key[other]:
                parent[find(other)] = find(key)
    roots = [find(key) for key in names]
    frame = pd.DataFrame(
        {
            "root": roots,
            "key": names,
            "no_digits": [not any(ch.isdigit() for ch in key) for key in names],
            "gdsc2": (drugs["screen"] == "GDSC2").to_numpy(),
        }
    )
    frame["entries"] = frame.groupby("key")["key"].transform("size")
    preferred = (
        frame.sort_values(["no_digits", "gdsc2", "entries", "key"], ascending=[False, False, False, True])
        .drop_duplicates("root")
        .set_index("root")["key"]
    )
    return pd.Series(frame["root"].map(preferred).to_numpy(), index=drugs.index, name="compound_id")


def compound_names(drugs: pd.DataFrame) -> pd.Series:
    """A display name per compound id: the drug name written in the entry whose name key is the id."""
    keys = drugs["drug_name"].map(name_key)
    own = drugs[keys == drugs["compound_id"]]
    names = own.groupby("compound_id")["drug_name"].first()
    return drugs["compound_id"].map(names).fillna(drugs["drug_name"]).rename("compound_name")
