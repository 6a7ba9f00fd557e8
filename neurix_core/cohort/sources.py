"""Cohort inputs read one partition of samples at a time: .h5ad (AnnData), Parquet, or the tables ``predict`` reads.

Why: a 10,000-tumour cohort does not fit the upload path, which reads a whole file into memory. ``.h5ad`` is read
through h5py (dense or sparse ``X`` or a layer, rows sliced on disk) and Parquet by row groups or columns, so a
worker only ever holds one partition. Every partition then goes through the upload parser's numeric half
(``profile_from_matrix``): the same gene-id mapping, value-scale rules and checks as ``neurix predict``.

Text tables (csv/tsv/txt/xlsx, gzipped or not) cannot be read by sample lazily: they are parsed whole with the
upload parser (so every layout ``predict`` accepts works), converted once to Parquet in the run directory, and
partitioned from there. Convert cohorts larger than memory to .h5ad or Parquet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from neurix_core.errors import ProfileError
from neurix_core.io.atomic import write_atomically
from neurix_core.io.gene_ids import recognised_fraction
from neurix_core.io.h5ad import matrix_element, matrix_shape, obs_names, read_rows
from neurix_core.io.profile import ProfileLimits, parse_profile

H5AD_SUFFIXES = (".h5ad",)
PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".gz")
# Gene-symbol columns in AnnData ``var`` (scanpy, CELLxGENE, 10x) used when var_names are not recognised genes.
VAR_SYMBOL_COLUMNS = ("gene_symbols", "gene_symbol", "feature_name", "gene_name", "symbol", "gene_ids")
SAMPLE_COLUMNS = ("sample", "sample_id", "samples", "id", "barcode", "obs_names", "__index_level_0__")
# Whole text cohorts are parsed in memory: bounded far above the dashboard's upload limits.
TEXT_LIMITS = ProfileLimits(max_bytes=2 * 2**30, max_samples=1_000_000, max_genes=200_000)
TARGET_PARTITION_BYTES = 64 * 2**20  # float64 input block per partition (samples × file genes)
# per-partition fixed costs stay small (measured on 2 cores: 9 % less CPU per sample than 250, +0.1 GB peak);
# 20 tasks per 10,000 samples for a cluster
PARTITION_SAMPLES = 500
EXPLAIN_PARTITION_SAMPLES = 100  # with top genes (~10 s of one core each): evenly busy cores to the end


@dataclass
class CohortSource:
    """A cohort file opened for partitioned reading; picklable, so Dask workers reopen it themselves.

    ``genes`` are the file's gene labels (mapped per partition by the upload parser); ``values`` the value scale
    the whole cohort is read with (detected once, so all partitions are scaled alike).
    """

    path: Path
    kind: Literal["h5ad", "parquet"]
    genes: list[str]
    n_samples: int
    orientation: Literal["samples_by_genes", "genes_by_samples"] = "samples_by_genes"
    layer: str | None = None
    gene_column: str | None = None  # parquet genes_by_samples: the column holding gene labels
    sample_column: str | None = None  # parquet samples_by_genes: the column holding sample ids
    values: str = "auto"
    warnings: list[str] = field(default_factory=list)
    origin: Path | None = None  # the user's file when ``path`` is its Parquet conversion

    def fingerprint(self) -> str:
        """Identifies the input for resuming: path, size and modification time (cheap for 100 GB files)."""
        origin = self.origin or self.path
        stat = origin.stat()
        text = f"{origin.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{self.layer}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # --- reading -------------------------------------------------------------------------------------------
    def sample_ids(self) -> list[str]:
        """All sample ids in file order (read once by the driver; strings only, a few MB for 100k samples)."""
        if self.kind == "h5ad":
            return self.metadata().index.tolist()  # str already; tolist converts in C (0.25 s faster at 50k)
        import pyarrow.parquet as pq

        if self.orientation == "genes_by_samples":
            names = pq.ParquetFile(self.path).schema_arrow.names
            return [n for n in names if n != self.gene_column]
        column = pq.read_table(self.path, columns=[self.sample_column]).column(0)
        return [str(s) for s in column.to_pylist()]

    def metadata(self) -> pd.DataFrame:
        """Per-sample annotations (AnnData ``obs``; Parquet text columns), index = sample id."""
        if self.kind == "h5ad":
            import anndata.io
            import h5py

            with h5py.File(self.path, "r") as handle:
                obs = anndata.io.read_elem(handle["obs"])
            obs.index = obs.index.astype(str)
            return obs
        if self.orientation == "genes_by_samples":
            return pd.DataFrame(index=pd.Index(self.sample_ids()))
        import pyarrow.parquet as pq

        schema = pq.ParquetFile(self.path).schema_arrow
        text = [f.name for f in schema if _is_text_type(f.type) and f.name != self.sample_column]
        frame = pq.read_table(self.path, columns=[self.sample_column, *text]).to_pandas()
        return frame.set_index(self.sample_column).rename_axis(None)

    def read(self, start: int, stop: int) -> tuple[np.ndarray, list[str]]:
        """Samples ``start:stop`` as a samples × ``genes`` float64 matrix (NaN = missing) and their ids."""
        if self.kind == "h5ad":
            return self._read_h5ad(start, stop)
        return self._read_parquet(start, stop)

    def _read_h5ad(self, start: int, stop: int) -> tuple[np.ndarray, list[str]]:
        import h5py

        with h5py.File(self.path, "r") as handle:
            block = read_rows(matrix_element(handle, self.layer), start, stop)
            names = obs_names(handle, start, stop)
        return block, names

    def _read_parquet(self, start: int, stop: int) -> tuple[np.ndarray, list[str]]:
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(self.path)
        if self.orientation == "genes_by_samples":
            samples = self.sample_ids()[start:stop]
            table = handle.read(columns=samples)
            block = (
                np.column_stack([_numeric(table.column(i)) for i in range(table.num_columns)]).T
                if samples
                else np.empty((0, len(self.genes)))
            )
            return np.asarray(block, dtype=np.float64), samples
        columns = [self.sample_column, *self.genes]
        rows, offset, parts = [], 0, []
        for group in range(handle.num_row_groups):
            size = handle.metadata.row_group(group).num_rows
            if offset < stop and offset + size > start:
                part = handle.read_row_group(group, columns=columns)
                parts.append(
                    part.slice(max(0, start - offset), min(stop, offset + size) - max(start, offset))
                )
            offset += size
        rows = [str(s) for p in parts for s in p.column(0).to_pylist()]
        block = (
            np.column_stack(
                [np.concatenate([_numeric(p.column(j)) for p in parts]) for j in range(1, len(columns))]
            )
            if parts
            else np.empty((0, len(self.genes)))
        )
        return np.asarray(block, dtype=np.float64), rows

    def partition_size(self, requested: int | None = None, explain: bool = False) -> int:
        """Samples per partition: a fixed size (input block near 64 MB at most), the same for every cohort size,
        so peak memory does not grow with the cohort and a resumed run finds the same partitions."""
        if requested:
            return max(1, int(requested))
        by_memory = TARGET_PARTITION_BYTES // max(1, 8 * len(self.genes))
        return int(np.clip(by_memory, 50, EXPLAIN_PARTITION_SAMPLES if explain else PARTITION_SAMPLES))


def _is_text_type(arrow_type) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_dictionary(arrow_type)
    )


def _numeric(column) -> np.ndarray:
    """An Arrow column as float64 with NaN for nulls; text cells become NaN (reported as missing values)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        column = pc.cast(column, pa.float64(), safe=False) if pa.types.is_boolean(column.type) else None
        if column is None:
            raise ProfileError("a gene column of the Parquet file holds text: every value must be a number")
    return column.to_numpy(zero_copy_only=False).astype(np.float64)


# --- opening -------------------------------------------------------------------------------------------------


def open_source(
    path: str | Path,
    work_dir: Path,
    known_genes: list[str],
    layer: str | None = None,
    values: str = "auto",
) -> CohortSource:
    """Open a cohort file for partitioned reading; text tables are parsed once and converted to Parquet."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in H5AD_SUFFIXES:
        source = _open_h5ad(path, known_genes, layer)
    elif suffix in PARQUET_SUFFIXES:
        source = _open_parquet(path, known_genes)
    elif suffix in TEXT_SUFFIXES:
        source = _open_text(path, work_dir, known_genes, values)
        values = source.values
    else:
        raise ProfileError(
            f"{path.name}: unsupported cohort format {suffix or '(no suffix)'}; use .h5ad, .parquet, or a "
            "csv/tsv/txt/xlsx table"
        )
    if layer is not None and source.kind != "h5ad":
        raise ProfileError("--layer applies to .h5ad input only")
    source.values = values
    return source


def _open_h5ad(path: Path, known_genes: list[str], layer: str | None) -> CohortSource:
    import anndata.io
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            var = anndata.io.read_elem(handle["var"])
            shape = matrix_shape(matrix_element(handle, layer))
    except OSError as exc:
        raise ProfileError(f"{path.name} is not a readable .h5ad (HDF5) file") from exc
    labels = [str(v) for v in var.index]
    warnings: list[str] = []
    if recognised_fraction(labels[:: max(1, len(labels) // 2000)], known_genes) < 0.5:
        for column in VAR_SYMBOL_COLUMNS:
            if column in var.columns:
                candidate = [str(v) for v in var[column]]
                if recognised_fraction(candidate[:: max(1, len(candidate) // 2000)], known_genes) >= 0.5:
                    labels = candidate
                    warnings.append(f"Gene labels were taken from var[{column!r}] (var_names are not genes).")
                    break
    if len(labels) != shape[1]:
        raise ProfileError(f"{path.name}: var has {len(labels)} genes but the matrix has {shape[1]} columns")
    return CohortSource(
        path=path, kind="h5ad", genes=labels, n_samples=int(shape[0]), layer=layer, warnings=warnings
    )


def _open_parquet(path: Path, known_genes: list[str]) -> CohortSource:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damaged files
        raise ProfileError(f"{path.name} is not a readable Parquet file") from exc
    schema = handle.schema_arrow
    names = schema.names
    numeric = [f.name for f in schema if not _is_text_type(f.type)]
    text = [f.name for f in schema if _is_text_type(f.type)]
    column_score = (
        recognised_fraction(numeric[:: max(1, len(numeric) // 2000)], known_genes) if numeric else 0
    )
    if column_score >= 0.5 or not text:
        sample_column = next((c for c in names if c.lower() in SAMPLE_COLUMNS and c in text), None)
        sample_column = sample_column or (text[0] if text else None)
        if sample_column is None:
            raise ProfileError(f"{path.name}: no sample-id column (a text column such as 'sample')")
        genes = [c for c in numeric if c != sample_column]
        return CohortSource(
            path=path,
            kind="parquet",
            genes=genes,
            n_samples=handle.metadata.num_rows,
            sample_column=sample_column,
        )
    gene_column = text[0]
    genes = [str(g) for g in pq.read_table(path, columns=[gene_column]).column(0).to_pylist()]
    if recognised_fraction(genes[:: max(1, len(genes) // 2000)], known_genes) < 0.5:
        raise ProfileError(
            f"{path.name}: no recognisable genes in the column names or in column {gene_column!r}; use HGNC "
            "symbols, Entrez or Ensembl ids"
        )
    return CohortSource(
        path=path,
        kind="parquet",
        genes=genes,
        n_samples=len(names) - 1,
        orientation="genes_by_samples",
        gene_column=gene_column,
    )


def _open_text(path: Path, work_dir: Path, known_genes: list[str], values: str) -> CohortSource:
    """Parse the whole table with the upload parser, then keep its result as Parquet for partitioning."""
    parsed = parse_profile(
        path.read_bytes(), path.name, values=values, limits=TEXT_LIMITS, known_genes=known_genes
    )
    converted = work_dir / "_input" / "expression.parquet"
    converted.parent.mkdir(parents=True, exist_ok=True)
    frame = parsed.expression.reset_index()
    frame.columns = ["sample", *parsed.expression.columns]
    write_atomically(converted, lambda tmp: frame.to_parquet(tmp, index=False, row_group_size=1000))
    source = _open_parquet(converted, known_genes)
    # values are already log2(TPM+1) (or z-scores); re-reading them applies no further conversion
    source.values = "zscore" if parsed.value_scale == "zscore" else "log2tpm"
    source.warnings = [f"{path.name}: values read as {parsed.value_scale}", *parsed.warnings]
    source.origin = path
    return source
