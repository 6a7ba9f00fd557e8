"""Curated, literature-backed expression markers of drug response (``markers.csv``, one source per row).

Used to mark genes in explanations as *known* (and to score the biology check); anything else the model finds is a
candidate, not a fact. Expected direction is what high expression of the gene does: 'sensitivity' or 'resistance'.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import pandas as pd

from neurix_core.data.drugs import normalise_name

MARKER_COLUMNS = ["gene", "drug", "expected", "evidence", "source"]


@lru_cache(maxsize=1)
def marker_table() -> pd.DataFrame:
    """One row per (gene, drug name): gene, drug, expected, evidence, source."""
    raw = pd.read_csv(files("neurix_core.explain").joinpath("markers.csv").open(encoding="utf-8"))
    raw["drug"] = raw["drugs"].str.split(";")
    table = raw.explode("drug").drop(columns="drugs")
    table["drug"] = table["drug"].str.strip()
    table["drug_norm"] = table["drug"].map(normalise_name)
    return table.reset_index(drop=True)


def markers_for_drug(drug_name: str) -> pd.DataFrame:
    """Curated markers of one drug (matched by normalised name, so 'Nutlin-3a (-)' = 'NUTLIN3A')."""
    table = marker_table()
    return table.loc[table["drug_norm"] == normalise_name(drug_name), MARKER_COLUMNS].reset_index(drop=True)
