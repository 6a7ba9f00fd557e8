"""Readers for the PRISM Repurposing secondary screen (DepMap / Broad, Corsello et al. 2020)."""

from __future__ import annotations

import pandas as pd

from neurix_core.io.tables import (
    TableSource,
    read_table,
    require_columns,
    require_numeric,
    require_rows,
    source_name,
)

CURVE_COLUMNS = ("broad_id", "depmap_id", "name", "auc")
ANNOTATION_COLUMNS = ("moa", "target", "disease.area", "indication", "smiles", "phase")
COMPOUND_ID_LENGTH = 13  # BRD-K12345678: the compound, without salt/batch suffixes


def compound_id(broad_id: pd.Series) -> pd.Series:
    """The compound part of a Broad sample id (first 13 characters), shared by all its salts and batches."""
    return broad_id.astype(str).str.slice(0, COMPOUND_ID_LENGTH)


def read_prism_dose_response(source: TableSource) -> pd.DataFrame:
    """Read ``secondary-screen-dose-response-curve-parameters.csv`` (long format, one row per curve).

    Curves that failed STR profiling are dropped where the official ``passed_str_profiling`` column is present.
    Adds ``compound_id`` (13-character Broad id).
    """
    name = source_name(source)
    frame = read_table(source)
    require_columns(frame, CURVE_COLUMNS, name)
    require_rows(frame, name)
    require_numeric(frame, ["auc"], name)
    for column in ANNOTATION_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    if "passed_str_profiling" in frame.columns:
        passed = frame["passed_str_profiling"].astype(str).str.upper().isin(["TRUE", "1", "NAN", "<NA>"])
        frame = frame.loc[passed]
    frame = frame.dropna(subset=["auc", "depmap_id", "broad_id"])
    frame = frame.loc[frame["auc"] > 0].copy()
    frame["compound_id"] = compound_id(frame["broad_id"])
    return frame.reset_index(drop=True)


def read_prism_compounds(source: TableSource) -> pd.DataFrame:
    """Read ``secondary_screen_compounds.csv`` / the treatment-info annotation (one row per Broad sample id)."""
    name = source_name(source)
    frame = read_table(source)
    require_columns(frame, ("broad_id", "name"), name)
    for column in ANNOTATION_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    frame["compound_id"] = compound_id(frame["broad_id"])
    return frame.reset_index(drop=True)
