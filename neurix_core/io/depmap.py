"""Readers for DepMap portal files (depmap.org/portal/download): Model.csv and the RNA-seq expression matrix."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from neurix_core.errors import DataFormatError
from neurix_core.io.tables import TableSource, read_table, require_columns, require_rows, source_name

MODEL_COLUMNS = ("ModelID",)
MODEL_OPTIONAL = (
    "CellLineName",
    "StrippedCellLineName",
    "OncotreeLineage",
    "OncotreePrimaryDisease",
    "OncotreeSubtype",
    "SangerModelID",
    "COSMICID",
)
SYMBOL_ENTREZ = re.compile(r"^\s*(?P<symbol>[^\s()]+)\s*\((?P<entrez>\d+)\)\s*$")
ACH_ID = re.compile(r"^ACH-\d{6}$")
# Metadata columns of newer (24Q4+/25Q2) long-format releases that precede the gene columns.
METADATA_COLUMNS = (
    "SequencingID",
    "ModelID",
    "IsDefaultEntryForModel",
    "ModelConditionID",
    "IsDefaultEntryForMC",
)


def read_depmap_models(source: TableSource) -> pd.DataFrame:
    """Read DepMap ``Model.csv`` (one row per ModelID), keeping identity and lineage columns."""
    name = source_name(source)
    frame = read_table(source)
    require_columns(frame, MODEL_COLUMNS, name)
    require_rows(frame, name)
    for column in MODEL_OPTIONAL:
        if column not in frame.columns:
            frame[column] = pd.NA
    if frame["ModelID"].duplicated().any():
        raise DataFormatError(name, "ModelID is not unique")
    frame["COSMICID"] = pd.to_numeric(frame["COSMICID"], errors="coerce")
    return frame.reset_index(drop=True)


def split_symbol_entrez(columns: pd.Index) -> tuple[list[str], list[int | None]]:
    """Split DepMap ``SYMBOL (ENTREZ)`` headers into symbols and Entrez ids (None where a header has no id)."""
    symbols: list[str] = []
    entrez: list[int | None] = []
    for column in map(str, columns):
        match = SYMBOL_ENTREZ.match(column)
        if match:
            symbols.append(match["symbol"])
            entrez.append(int(match["entrez"]))
        else:
            symbols.append(column.strip())
            entrez.append(None)
    return symbols, entrez


def read_depmap_expression(source: TableSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``OmicsExpressionProteinCodingGenesTPMLogp1.csv`` (log2(TPM+1); rows = models, columns ``SYMBOL (ENTREZ)``).

    Accepts both layouts DepMap has shipped: ACH ids in an unnamed first column (<=24Q2, also ``V1`` when written
    from R), and the newer one with SequencingID/ModelID/IsDefaultEntryForModel metadata columns (only default entries
    are kept). Returns (expression models × symbols, float32; gene table with symbol and entrez).
    """
    name = source_name(source)
    frame = read_table(source)
    require_rows(frame, name)
    if "ModelID" in frame.columns:
        if "IsDefaultEntryForModel" in frame.columns:
            default = frame["IsDefaultEntryForModel"].astype(str).str.lower().isin(["yes", "true", "1"])
            frame = frame.loc[default]
        frame = frame.set_index("ModelID")
        frame = frame.drop(columns=[c for c in METADATA_COLUMNS if c in frame.columns])
    else:
        frame = frame.set_index(frame.columns[0])
    frame.index = frame.index.astype(str)
    frame.index.name = "ModelID"
    if not frame.index.map(lambda v: bool(ACH_ID.match(v))).all():
        bad = [v for v in frame.index if not ACH_ID.match(v)][:3]
        raise DataFormatError(name, f"rows must be DepMap ModelIDs (ACH-000000), found {bad}")
    symbols, entrez = split_symbol_entrez(frame.columns)
    if sum(e is not None for e in entrez) < 0.9 * len(entrez):
        raise DataFormatError(name, "gene columns must be named 'SYMBOL (ENTREZ)', e.g. 'TP53 (7157)'")
    values = frame.apply(pd.to_numeric, errors="coerce")
    if values.isna().to_numpy().mean() > 0.5:
        raise DataFormatError(name, "most expression values are not numbers")
    values.columns = symbols
    genes = pd.DataFrame({"symbol": symbols, "entrez": pd.array(entrez, dtype="Int64")})
    values = values.loc[:, ~pd.Index(symbols).duplicated()]
    if (values.to_numpy() < 0).any() or np.nanmax(values.to_numpy()) > 30:
        raise DataFormatError(name, "values are not log2(TPM+1) (expected 0..~20)")
    return values.astype(np.float32), genes
