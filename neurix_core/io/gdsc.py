"""Readers for the official Sanger GDSC release files (cancerrxgene.org/downloads)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurix_core.errors import DataFormatError
from neurix_core.io.tables import (
    TableSource,
    read_table,
    require_columns,
    require_numeric,
    require_rows,
    source_name,
)

DOSE_RESPONSE_COLUMNS = ("DATASET", "COSMIC_ID", "CELL_LINE_NAME", "DRUG_ID", "DRUG_NAME", "AUC")
DOSE_RESPONSE_OPTIONAL = ("SANGER_MODEL_ID", "PUTATIVE_TARGET", "PATHWAY_NAME", "LN_IC50")
COMPOUND_COLUMNS = ("DRUG_ID", "DRUG_NAME", "SYNONYMS", "TARGET", "TARGET_PATHWAY")


def read_gdsc_dose_response(source: TableSource) -> pd.DataFrame:
    """Read a GDSC fitted dose-response file (GDSC1/GDSC2, csv or xlsx, official column names).

    Returns one row per (DATASET, COSMIC_ID, DRUG_ID) with AUC in (0, 1]; several official files may be concatenated
    by the caller. AUC is the fraction of the screened dose range under the curve: higher = more resistant.
    """
    name = source_name(source)
    frame = read_table(source)
    require_columns(frame, DOSE_RESPONSE_COLUMNS, name)
    require_rows(frame, name)
    for column in DOSE_RESPONSE_OPTIONAL:
        if column not in frame.columns:
            frame[column] = np.nan
    require_numeric(frame, ["AUC", "LN_IC50"], name)
    require_numeric(frame, ["COSMIC_ID", "DRUG_ID"], name, allow_missing=False)
    frame["COSMIC_ID"] = frame["COSMIC_ID"].astype(np.int64)
    frame["DRUG_ID"] = frame["DRUG_ID"].astype(np.int64)
    frame["DATASET"] = frame["DATASET"].astype(str).str.strip().str.upper()
    unknown = sorted(set(frame["DATASET"]) - {"GDSC1", "GDSC2"})
    if unknown:
        raise DataFormatError(name, f"DATASET must be GDSC1 or GDSC2, found {unknown[:3]}")
    out_of_range = (frame["AUC"] <= 0) | (frame["AUC"] > 1.5)
    if out_of_range.mean() > 0.01:
        raise DataFormatError(name, "AUC values are not fractions of the dose range (expected 0 < AUC <= 1)")
    columns = list(DOSE_RESPONSE_COLUMNS) + list(DOSE_RESPONSE_OPTIONAL)
    return frame.loc[~out_of_range & frame["AUC"].notna(), columns].reset_index(drop=True)


def read_gdsc_compounds(source: TableSource) -> pd.DataFrame:
    """Read the official ``screened_compounds_rel_8.x.csv`` compound annotation (one row per DRUG_ID)."""
    name = source_name(source)
    frame = read_table(source)
    require_columns(frame, COMPOUND_COLUMNS, name)
    require_rows(frame, name)
    require_numeric(frame, ["DRUG_ID"], name, allow_missing=False)
    frame["DRUG_ID"] = frame["DRUG_ID"].astype(np.int64)
    for column in ("DRUG_NAME", "SYNONYMS", "TARGET", "TARGET_PATHWAY"):
        frame[column] = frame[column].fillna("").astype(str).str.strip()
    if frame["DRUG_ID"].duplicated().any():
        frame = frame.drop_duplicates("DRUG_ID", keep="first")
    return frame.reset_index(drop=True)


def read_drug_smiles(source: TableSource) -> pd.DataFrame:
    """Read a DRUG_NAME → SMILES table (csv/tsv). Extra columns are ignored."""
    name = source_name(source)
    frame = read_table(source)
    require_columns(frame, ("DRUG_NAME", "SMILES"), name)
    frame = frame.dropna(subset=["DRUG_NAME", "SMILES"])
    frame["DRUG_NAME"] = frame["DRUG_NAME"].astype(str).str.strip()
    frame["SMILES"] = frame["SMILES"].astype(str).str.strip()
    return frame[["DRUG_NAME", "SMILES"]].drop_duplicates("DRUG_NAME").reset_index(drop=True)


def read_cell_line_mapping(source: TableSource) -> pd.DataFrame:
    """Read a GDSC ↔ DepMap cell-line mapping (CELL_LINE_NAME, COSMIC_ID, SANGER_MODEL_ID, DepMap_ModelID)."""
    name = source_name(source)
    frame = read_table(source)
    require_columns(frame, ("COSMIC_ID", "DepMap_ModelID"), name)
    require_numeric(frame, ["COSMIC_ID"], name)
    return frame.dropna(subset=["DepMap_ModelID"]).reset_index(drop=True)
