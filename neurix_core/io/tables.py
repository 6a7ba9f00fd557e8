"""Shared mechanics for reading tabular files: format sniffing and column/type validation.

Every official reader in :mod:`neurix_core.io` goes through these helpers so that all of them fail the same way:
with a :class:`~neurix_core.errors.DataFormatError` naming the file and the problem.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import pandas as pd

from neurix_core.errors import DataFormatError

TableSource = str | Path | IO[bytes] | IO[str]


def source_name(source: TableSource) -> str:
    """A human-readable name for a path or an uploaded buffer."""
    if isinstance(source, str | Path):
        return str(source)
    return str(getattr(source, "name", "uploaded file"))


def _suffixes(name: str) -> list[str]:
    suffixes = [s.lower() for s in Path(name).suffixes]
    return [s for s in suffixes if s not in (".gz", ".bz2", ".zip", ".xz")] or suffixes


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """Pick the delimiter from a text sample: tab, comma or semicolon, whichever splits the header best."""
    lines = [ln for ln in sample.splitlines() if ln and not ln.startswith(("!", "#"))][:20]
    if not lines:
        return default
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="\t,;").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ("\t", ",", ";")}
        best = max(counts, key=counts.get)
        return best if counts[best] > 0 else default


def read_table(
    source: TableSource,
    *,
    sep: str | None = None,
    comment: str | None = None,
    index_col: int | None = None,
    dtype: dict | None = None,
    usecols: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read csv/tsv/txt (optionally compressed), parquet or xlsx into a DataFrame.

    The delimiter of text files is sniffed unless given. Errors become DataFormatError naming the source.
    """
    name = source_name(source)
    kinds = _suffixes(name)
    try:
        if ".parquet" in kinds or ".pq" in kinds:
            return pd.read_parquet(source)
        if ".xlsx" in kinds or ".xls" in kinds:
            return _reject_duplicate_columns(pd.read_excel(source, index_col=index_col), name)
        if sep is None:
            sep = _sniff_source(source, comment)
        frame = pd.read_csv(
            source,
            sep=sep,
            comment=comment,
            index_col=index_col,
            dtype=dtype,
            usecols=list(usecols) if usecols is not None else None,
            low_memory=False,
        )
        return _reject_duplicate_columns(frame, name)
    except DataFormatError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError(name, "the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, ImportError) as exc:
        raise DataFormatError(
            name, f"could not be read as a table ({exc.__class__.__name__}: {exc})"
        ) from exc


def _reject_duplicate_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """pandas silently renames a repeated header ``X`` to ``X.1``; a repeated column means a broken file."""
    columns = {str(c) for c in frame.columns}
    repeated = sorted({m[1] for c in columns if (m := re.fullmatch(r"(.+)\.(\d+)", c)) and m[1] in columns})
    if repeated:
        raise DataFormatError(name, f"duplicate column name(s) {repeated[:5]}: each column must appear once")
    return frame


def _sniff_source(source: TableSource, comment: str | None) -> str:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise DataFormatError(str(path), "file not found")
        if path.stat().st_size == 0:
            raise DataFormatError(str(path), "the file is empty")
        opener = _open_text(path)
        with opener as handle:
            sample = handle.read(65536)
    else:
        position = source.tell()
        raw = source.read(65536)
        source.seek(position)
        sample = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if not sample.strip():
        raise DataFormatError(source_name(source), "the file is empty")
    if comment:
        sample = "\n".join(ln for ln in sample.splitlines() if not ln.startswith(comment))
    return sniff_delimiter(sample)


def _open_text(path: Path) -> IO[str]:
    import bz2
    import gzip
    import lzma

    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    opener = openers.get(path.suffix.lower())
    if opener is None:
        return open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - returned to a with-block
    return io.TextIOWrapper(opener(path, "rb"), encoding="utf-8", errors="replace")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    """Raise if any required column is absent, listing what is missing and what was found."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, list(frame.columns)[:12]))
        more = " ..." if frame.shape[1] > 12 else ""
        hint = " (only one column was found: is the delimiter right?)" if frame.shape[1] == 1 else ""
        raise DataFormatError(source, f"missing column(s) {missing}; found: {found}{more}{hint}")


def require_rows(frame: pd.DataFrame, source: str) -> None:
    if frame.empty:
        raise DataFormatError(source, "the table has no data rows")


def require_numeric(
    frame: pd.DataFrame, columns: Iterable[str], source: str, allow_missing: bool = True
) -> None:
    """Coerce columns to float in place; raise naming the first offending values if any are not numbers."""
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            examples = frame.loc[bad, column].astype(str).unique()[:3].tolist()
            raise DataFormatError(source, f"column {column!r} has non-numeric values, e.g. {examples}")
        if not allow_missing and values.isna().any():
            raise DataFormatError(source, f"column {column!r} has missing values")
        frame[column] = values.astype(float)
