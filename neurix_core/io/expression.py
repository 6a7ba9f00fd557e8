"""Generic expression matrices (samples × genes or genes × samples; csv/tsv/parquet/xlsx) and orientation detection."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Literal

import numpy as np
import pandas as pd

from neurix_core.errors import DataFormatError
from neurix_core.io.tables import TableSource, read_table, require_rows, source_name

Orientation = Literal["samples_by_genes", "genes_by_samples"]

GENE_LIKE = re.compile(r"^(ENSG\d{11}(\.\d+)?|\d{1,9}|[A-Za-z][A-Za-z0-9]*([-.][A-Za-z0-9]+)*( \(\d+\))?)$")
SAMPLE_LIKE = re.compile(r"^(ACH-\d{6}|TCGA-|SIDM\d+|CVCL_|sample|patient|tumou?r)", re.IGNORECASE)


def _gene_score(labels: pd.Index, known_genes: Collection[str] | None) -> float:
    """Fraction of labels that look like gene identifiers (or are known genes, when a vocabulary is given)."""
    text = labels.astype(str).str.strip()
    if len(text) == 0:
        return 0.0
    if known_genes:
        stripped = text.str.replace(r" \(\d+\)$", "", regex=True).str.upper()
        known = {g.upper() for g in known_genes}
        return float(stripped.isin(known).mean())
    looks_like_gene = text.map(lambda s: bool(GENE_LIKE.match(s)) and not SAMPLE_LIKE.match(s))
    return float(np.asarray(looks_like_gene, dtype=bool).mean())  # Index.map returns an Index: no .mean()


def detect_orientation(frame: pd.DataFrame, known_genes: Collection[str] | None = None) -> Orientation:
    """Decide whether genes are the columns or the rows of a labelled table.

    With a gene vocabulary the axis with more known genes wins; without one, the axis whose labels look more like
    gene identifiers; ties go to the longer axis, since profiles have far more genes than samples.
    """
    column_score = _gene_score(frame.columns, known_genes)
    row_score = _gene_score(frame.index, known_genes)
    if abs(column_score - row_score) > 0.05:
        return "samples_by_genes" if column_score > row_score else "genes_by_samples"
    return "samples_by_genes" if frame.shape[1] >= frame.shape[0] else "genes_by_samples"


def read_expression_matrix(
    source: TableSource,
    orientation: Orientation | Literal["auto"] = "auto",
    known_genes: Collection[str] | None = None,
) -> pd.DataFrame:
    """Read an expression matrix and return it as samples × genes (float32), first column/index = labels.

    Parquet files keep their index; text and Excel files take the first column as labels.
    """
    name = source_name(source)
    frame = read_table(source)
    require_rows(frame, name)
    if isinstance(frame.index, pd.RangeIndex):
        frame = frame.set_index(frame.columns[0])
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    if orientation == "auto":
        orientation = detect_orientation(frame, known_genes)
    if orientation == "genes_by_samples":
        frame = frame.T
    values = frame.apply(pd.to_numeric, errors="coerce")
    if values.size == 0 or values.isna().to_numpy().all():
        raise DataFormatError(name, "no numeric expression values found")
    return values.astype(np.float32)


def read_gdsc_expression(source: TableSource) -> pd.DataFrame:
    """Read the GDSC cell-line expression parquet (index ModelID, columns HGNC symbols, within-sample z-scores)."""
    name = source_name(source)
    frame = read_expression_matrix(source, orientation="samples_by_genes")
    if frame.columns.duplicated().any():
        raise DataFormatError(name, "duplicate gene columns")
    frame.index.name = "ModelID"
    return frame
