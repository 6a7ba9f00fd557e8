"""Readers for the Broad Drug Repurposing Hub tables (tab-separated, ``!`` comment lines)."""

from __future__ import annotations

import pandas as pd

from neurix_core.io.prism import compound_id
from neurix_core.io.tables import TableSource, read_table, require_columns, require_rows, source_name

DRUG_COLUMNS = ("pert_iname", "clinical_phase", "moa", "target", "disease_area", "indication")
SAMPLE_COLUMNS = ("broad_id", "pert_iname", "smiles")


def read_repurposing_drugs(source: TableSource) -> pd.DataFrame:
    """Read ``repurposing_drugs_*.txt``: one row per drug name with phase, MOA, targets, disease area, indication."""
    name = source_name(source)
    frame = read_table(source, sep="\t", comment="!")
    require_columns(frame, DRUG_COLUMNS, name)
    require_rows(frame, name)
    for column in DRUG_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str).str.strip()
    return frame[list(DRUG_COLUMNS)].drop_duplicates("pert_iname").reset_index(drop=True)


def read_repurposing_samples(source: TableSource) -> pd.DataFrame:
    """Read ``repurposing_samples_*.txt``: Broad sample ids with SMILES; adds ``compound_id``."""
    name = source_name(source)
    frame = read_table(source, sep="\t", comment="!")
    require_columns(frame, SAMPLE_COLUMNS, name)
    require_rows(frame, name)
    frame["compound_id"] = compound_id(frame["broad_id"])
    return frame.reset_index(drop=True)
