"""Parse an uploaded RNA-seq expression profile (one or many samples) into samples × HGNC symbols.

Why a dedicated parser: uploads come from clinics and core facilities in every shape (csv/tsv/xlsx, gzipped,
genes as rows or columns, symbols or Ensembl/Entrez ids, TPM or counts or log values, quantifier outputs
with extra columns). Each problem must end in a one-sentence ProfileError a clinician can act on, never a
stack trace, and the data itself is never written to disk or logged (only a sha256 fingerprint of the bytes
leaves this module).

Value scale rules (``values="auto"``), applied to the values of the recognised genes:

1. any negative value → ``zscore`` (already centred data: kept on its own scale, the model z-scores within
   sample); unless fewer than 1% are negative, which looks like missing-value codes (-1, -999) and is
   refused;
2. all values ≤ 20 → ``log2tpm`` (log2(TPM+1) of a full transcriptome stays below log2(10^6+1) ≈ 19.93);
3. whole numbers (max > 20) → ``counts``: library-size normalised to counts per million, then log2(CPM+1).
   Gene lengths are not available, so CPM stands in for TPM; the model z-scores within each sample, which
   removes most of the remaining difference;
4. otherwise → ``tpm``: log2(TPM+1).

Pass ``values=`` one of those names to override the detection (for example for a small gene panel in TPM whose
values all happen to be below 20).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurix_core.errors import LimitExceededError, NeurixError, ProfileError
from neurix_core.io.expression import detect_orientation
from neurix_core.io.gene_ids import (
    GENE_TABLE_PIN,
    GeneMapping,
    gene_table,
    map_genes,
    recognised_fraction,
)
from neurix_core.io.tables import sniff_delimiter

VALUE_SCALES = ("log2tpm", "tpm", "counts", "zscore")
LOG_MAX = 20.0
MISSING_CODE_FRACTION = 0.01
SMALL_LIBRARY = 100_000
MIN_BARE_ID_ROWS = 10  # a headerless all-number table is read as Entrez ids + values only when this long
NA_TOKENS = frozenset({"", "na", "nan", "n/a", "#n/a", "null", "none", "."})
# Label-column headers that mark the first row as a header even when the sample names are numbers.
LABEL_HEADERS = frozenset(
    {
        "",
        "gene",
        "genes",
        "gene_id",
        "geneid",
        "gene_name",
        "gene_symbol",
        "symbol",
        "hgnc_symbol",
        "id",
        "name",
        "ensembl",
        "ensembl_id",
        "ensembl_gene_id",
        "entrez",
        "entrez_id",
        "entrezid",
        "sample",
        "sample_id",
        "modelid",
    }
)
# Non-sample columns of quantifier outputs and annotated count tables (featureCounts, RSEM, Salmon, GENCODE).
ANNOTATION_COLUMNS = frozenset(
    {
        "chr",
        "chrom",
        "chromosome",
        "start",
        "end",
        "strand",
        "length",
        "effective_length",
        "effectivelength",
        "eff_length",
        "gene_length",
        "gene_type",
        "gene_biotype",
        "biotype",
        "description",
        "gene_name",
        "symbol",
        "gene_symbol",
        "transcript_id",
        "transcript_id(s)",
        "transcript_ids",
        "gene_id",
        "fpkm",
        "rpkm",
        "pme_tpm",
        "pme_fpkm",
        "posterior_mean_count",
        "posterior_standard_deviation_of_count",
        "tpm_ci_lower_bound",
        "tpm_ci_upper_bound",
        "fpkm_ci_lower_bound",
        "fpkm_ci_upper_bound",
    }
)
# Quantifier value columns: when a file holds only these, one is chosen and fixes the scale.
QUANTIFIER_COLUMNS = {
    "tpm": "tpm",
    "expected_count": "counts",
    "numreads": "counts",
    "est_counts": "counts",
    "counts": "counts",
    "count": "counts",
    "read_count": "counts",
    "reads": "counts",
}
# HTSeq (__no_feature, ...) and STAR ReadsPerGene (N_unmapped, ...) summary rows: not genes.
COUNTER_LABEL = re.compile(r"^(__.*|N_(unmapped|multimapping|noFeature|ambiguous))$", re.IGNORECASE)
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


@dataclass(frozen=True)
class ProfileLimits:
    """Deployment limits on one upload; exceeding any raises LimitExceededError."""

    max_bytes: int = 50 * 2**20
    max_samples: int = 200
    max_genes: int = 100_000


@dataclass
class ParsedProfile:
    """A parsed upload: expression (samples × genes, float64) and what was detected on the way.

    ``n_input_genes`` counts gene labels in the file, ``n_mapped_genes`` those recognised as HGNC genes and
    ``n_duplicate_genes`` the recognised labels that were averaged into another label of the same gene.
    """

    expression: pd.DataFrame
    value_scale: str
    orientation: str
    id_type: str
    n_input_genes: int
    n_mapped_genes: int
    n_duplicate_genes: int
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""


def parse_profile(
    data: bytes,
    filename: str,
    values: str = "auto",
    limits: ProfileLimits = ProfileLimits(),  # noqa: B008 - frozen dataclass, safe as a default
    known_genes: Collection[str] | None = None,
) -> ParsedProfile:
    """Parse uploaded bytes (csv/tsv/txt/xlsx, optionally gzipped) into a ParsedProfile.

    Formats are recognised from the bytes, not from ``filename`` (a gzipped table named .csv still works); the
    name is accepted for the caller's records and never stored.

    ``known_genes`` (the model's genes) helps decide the orientation and makes the output use the model's
    spelling of each gene. Every failure is a ProfileError (LimitExceededError for size limits) with a
    readable message.
    """
    if values not in ("auto", *VALUE_SCALES):
        raise ProfileError(f"Unknown value scale {values!r}: use auto, {', '.join(VALUE_SCALES)}.")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProfileError("The upload must be the raw bytes of a file.")
    data = bytes(data)
    known = tuple(str(g) for g in known_genes) if known_genes is not None else None  # list, set or Index
    if len(data) > limits.max_bytes:
        raise LimitExceededError(
            f"The file is {_mib(len(data))}, more than the {_mib(limits.max_bytes)} allowed: upload fewer "
            "samples per file or compress it."
        )
    if not data.strip():
        raise ProfileError("The file is empty: upload a table with gene names and expression values.")
    fingerprint = hashlib.sha256(data).hexdigest()
    try:
        parsed = _parse(data, values, limits, known or None)
    except NeurixError:
        raise
    except MemoryError as exc:
        raise LimitExceededError(
            "The file is too large to process here: split it into smaller files."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - the contract is: never an unhandled exception
        raise ProfileError(
            f"The file could not be read as an expression table ({exc.__class__.__name__}): save it as a CSV "
            "with gene names in the first column and one column per sample."
        ) from exc
    parsed.fingerprint = fingerprint
    return parsed


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# --- bytes → grid of strings -------------------------------------------------------------------------------


def _parse(
    data: bytes, values: str, limits: ProfileLimits, known_genes: Collection[str] | None
) -> ParsedProfile:
    warnings: list[str] = []
    data = _decompress(data, limits)
    if data[:8] == b"\x89HDF\r\n\x1a\n":  # AnnData .h5ad
        from neurix_core.io.h5ad import parse_h5ad_upload

        return parse_h5ad_upload(data, values, limits, known_genes)
    if data[:4] == b"PK\x03\x04":
        grid, decimal_comma = _read_xlsx(data, limits, warnings), False
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ProfileError("Old Excel .xls files are not supported: save the sheet as .xlsx or CSV.")
    else:
        grid, decimal_comma = _read_text(data, warnings)
    return _build_profile(grid, decimal_comma, values, limits, known_genes, warnings)


def _decompress(data: bytes, limits: ProfileLimits) -> bytes:
    """Gunzip when the bytes are gzip (whatever the file name says), refusing decompression bombs."""
    if data[:2] != b"\x1f\x8b":
        return data
    ceiling = 4 * limits.max_bytes
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            out = handle.read(ceiling + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ProfileError(
            "The .gz file is damaged or incomplete: compress the table again and re-upload."
        ) from exc
    if len(out) > ceiling:
        raise LimitExceededError(
            f"The decompressed file is larger than {_mib(ceiling)}: upload fewer samples per file."
        )
    if not out.strip():
        raise ProfileError("The file is empty: upload a table with gene names and expression values.")
    return out


def _read_xlsx(data: bytes, limits: ProfileLimits, warnings: list[str]) -> np.ndarray:
    """First sheet of an .xlsx file as a grid of strings (empty cells → '')."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise ProfileError(
            "The file looks like a damaged .xlsx workbook: save it again or export it as CSV."
        ) from exc
    if unpacked > 5 * limits.max_bytes:
        raise LimitExceededError(
            "The workbook is too large once unpacked: upload fewer samples per file or a CSV."
        )
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as book:
            if len(book.sheet_names) > 1:
                warnings.append(f"The workbook has {len(book.sheet_names)} sheets; only the first was read.")
            frame = pd.read_excel(book, sheet_name=0, header=None, dtype=object)
    except NeurixError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many unrelated types for damaged files
        raise ProfileError(
            "The .xlsx workbook could not be read: save it again or export it as CSV."
        ) from exc
    cells = frame.to_numpy(dtype=object)
    return np.where(pd.isna(cells), "", cells).astype(str).astype(object)


def _decode(data: bytes, warnings: list[str]) -> str:
    """Text is UTF-16 given a byte-order mark (Excel 'Unicode text'), else UTF-8 (BOM optional) or latin-1."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ProfileError(
                "The file claims to be UTF-16 text but is damaged: save it as UTF-8 CSV."
            ) from exc
    for encoding in ("utf-8", "utf-8-sig"):
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
    warnings.append("The file is not UTF-8; it was read as latin-1 (check accented sample names).")
    return data.decode("latin-1")


def _read_text(data: bytes, warnings: list[str]) -> tuple[np.ndarray, bool]:
    """A delimited text table as a grid of strings, plus whether numbers use decimal commas (';' files).

    The csv module is used rather than pandas: it is much faster for wide files (one column per gene) and lets
    ragged rows get a message naming the line.
    """
    text = _decode(data, warnings)
    sample = text[:65536]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if "\x00" in text or control > 0.01 * max(len(sample), 1):
        raise ProfileError(
            "The file is not a text table (binary data or an unsupported encoding): save it as UTF-8 CSV "
            "or .xlsx."
        )
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (not lines[start].strip() or lines[start].lstrip().startswith(("#", "!"))):
        start += 1  # featureCounts/GEO style comment lines before the header
    head = [ln[:4096] for ln in lines[start : start + 20] if ln.strip()]
    if not head:
        raise ProfileError("The file is empty: upload a table with gene names and expression values.")
    body = [(number, line) for number, line in enumerate(lines[start:], start + 1) if line.strip()]
    if any(d in ln for ln in head for d in "\t,;"):
        sep = sniff_delimiter("\n".join(head))
        try:
            rows = list(csv.reader((line for _, line in body), delimiter=sep))
        except csv.Error as exc:
            raise ProfileError(
                "The table could not be split into fields (unbalanced quotes or a field longer than 128 kB): "
                "save it again as CSV."
            ) from exc
    else:
        sep = " "
        rows = [line.split() for _, line in body]
    return _rectangle(rows, [number for number, _ in body]), sep == ";"


def _rectangle(rows: list[list[str]], line_numbers: list[int]) -> np.ndarray:
    """Make rows equally long: pad short rows, ignore empty trailing fields, and accept R's header without
    a corner cell (``write.table`` writes one field fewer there); refuse rows with extra values, naming the
    line."""
    if len(rows) != len(line_numbers):  # quoted fields spanning lines: positions no longer match
        line_numbers = list(range(1, len(rows) + 1))
    kept = [i for i, row in enumerate(rows) if _last_filled(row)]  # rows of bare separators are blank lines
    if not kept:
        raise ProfileError("The file is empty: upload a table with gene names and expression values.")
    rows, line_numbers = [rows[i] for i in kept], [line_numbers[i] for i in kept]
    raw = [len(row) for row in rows]
    filled = [_last_filled(row) for row in rows]
    body = raw[1:] or raw
    width = max(filled[0], max(set(body), key=lambda n: (body.count(n), -n)))
    if len(rows) > 1 and raw[0] == width - 1 and all(n == width for n in raw[1:]):
        rows[0], raw[0], filled[0] = ["", *rows[0]], width, filled[0] + 1
    long = [i for i, n in enumerate(filled) if n > width]
    if long:
        i = long[0]
        raise ProfileError(
            f"Line {line_numbers[i]} has {filled[i]} fields but most lines have {width}: check the delimiter "
            "(comma, tab or semicolon) and remove stray separators."
        )
    grid = np.full((len(rows), width), "", dtype=object)
    for i, row in enumerate(rows):
        grid[i, : min(raw[i], width)] = row[:width]
    return grid


def _last_filled(row: list[str]) -> int:
    end = len(row)
    while end > 0 and not row[end - 1].strip():
        end -= 1
    return end


# --- grid → labelled samples × genes -----------------------------------------------------------------------


def _numbers(cells: np.ndarray, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """Parse a grid of strings: (float values with NaN for missing, mask of cells holding text)."""
    if not decimal_comma:
        try:  # fast path: every cell is a plain number
            return cells.astype(float), np.zeros(cells.shape, dtype=bool)
        except (ValueError, TypeError):
            pass
    flat = pd.Series(cells.ravel(), dtype=object).astype(str).str.strip()
    if decimal_comma:
        flat = flat.where(~flat.str.match(DECIMAL_COMMA), flat.str.replace(",", ".", regex=False))
    parsed = pd.to_numeric(flat, errors="coerce")
    missing = flat.str.lower().isin(NA_TOKENS)
    text = (parsed.isna() & ~missing).to_numpy()
    return parsed.to_numpy(dtype=float).reshape(cells.shape), text.reshape(cells.shape)


def _is_text(cells: np.ndarray) -> np.ndarray:
    flat = pd.Series(cells.ravel(), dtype=object).astype(str).str.strip()
    return (pd.to_numeric(flat, errors="coerce").isna() & ~flat.str.lower().isin(NA_TOKENS)).to_numpy()


def _mostly_text(cells: np.ndarray) -> bool:
    filled = [c for c in cells if str(c).strip().lower() not in NA_TOKENS]
    return bool(filled) and _is_text(np.asarray(filled, dtype=object)).mean() >= 0.5


def _is_label_header(cell: str) -> bool:
    """A corner cell such as 'gene_id', 'Entrez' or '' names a label column."""
    text = cell.strip().lower()
    return text in LABEL_HEADERS or any(word in text for word in ("gene", "entrez", "symbol", "id"))


def _gene_fraction(labels: list[str], known_genes: Collection[str] | None) -> float:
    """Fraction of labels recognised as genes (row numbers 0..n / 1..n never count)."""
    if not labels:
        return 0.0
    if all(str(v).strip().isdigit() for v in labels):
        numbers = [int(str(v).strip()) for v in labels]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))) and numbers[0] in (0, 1):
            return 0.0
    return recognised_fraction(labels[:: max(1, len(labels) // 2000)], known_genes)


def _label_axes(
    grid: np.ndarray, known_genes: Collection[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    """Decide whether the first row holds column labels and the first column row labels (None where not)."""
    n_rows, n_cols = grid.shape
    first_row = [str(c).strip() for c in grid[0]]
    first_col = [str(c).strip() for c in grid[:, 0]]
    has_header = n_rows > 1 and (
        _mostly_text(grid[0, 1:]) or (first_row[0].lower() in LABEL_HEADERS and n_cols > 1)
    )
    body_col = first_col[1:] if has_header else first_col
    if n_cols < 2:
        has_labels = False
    elif _mostly_text(np.asarray(body_col, dtype=object)):
        has_labels = True
    else:  # a numeric first column holds labels only if they look like Entrez ids
        looks_like_ids = len(set(body_col)) == len(body_col) and _gene_fraction(body_col, known_genes) >= 0.5
        has_labels = looks_like_ids and (
            _is_label_header(first_row[0]) if has_header else len(body_col) >= MIN_BARE_ID_ROWS
        )
    columns = (first_row[1:] if has_labels else first_row) if has_header else None
    rows = body_col if has_labels else None
    return columns, rows


def _orient(
    grid: np.ndarray, known_genes: Collection[str] | None
) -> tuple[np.ndarray, list[str], list[str], str]:
    """Return (cells as samples × genes, gene labels, sample labels, orientation)."""
    columns, rows = _label_axes(grid, known_genes)
    if columns is None and rows is None:
        raise ProfileError(
            "No gene names were found: put gene names in the first column (one row per gene) or in the "
            "first row."
        )
    body = grid[1 if columns is not None else 0 :, 1 if rows is not None else 0 :]
    if columns is None:
        orientation = "genes_by_samples"
    elif rows is None:
        orientation = "samples_by_genes"
    else:
        column_score = _gene_fraction(columns, known_genes)
        row_score = _gene_fraction(rows, known_genes)
        if abs(column_score - row_score) > 0.05:
            orientation = "samples_by_genes" if column_score > row_score else "genes_by_samples"
        else:
            frame = pd.DataFrame(index=pd.Index(rows), columns=pd.Index(columns))
            orientation = detect_orientation(frame, known_genes)
    if orientation == "genes_by_samples":
        genes = rows if rows is not None else []
        samples = columns if columns is not None else [f"sample_{i + 1}" for i in range(body.shape[1])]
        return body.T, genes, samples, orientation
    genes = columns if columns is not None else []
    samples = rows if rows is not None else [f"sample_{i + 1}" for i in range(body.shape[0])]
    return body, genes, samples, orientation


def _select_samples(
    cells: np.ndarray, samples: list[str], values: str, warnings: list[str]
) -> tuple[np.ndarray, list[str], str]:
    """Drop annotation columns (lengths, biotypes...) and pick the TPM/count column of quantifier outputs.

    A quantifier's value column (RSEM/Salmon ``TPM``, ``expected_count``...) also fixes the value scale,
    unless the caller forced one.
    """
    names = [s.strip().lower() for s in samples]
    keep = [i for i, n in enumerate(names) if n not in ANNOTATION_COLUMNS]
    if len(keep) < len(names):
        warnings.append(f"Ignored {len(names) - len(keep)} annotation column(s) (lengths, biotypes, ...).")
    kept_names = [names[i] for i in keep]
    if not kept_names or not all(n in QUANTIFIER_COLUMNS for n in kept_names):
        return cells[keep, :], [samples[i] for i in keep], values
    chosen = "tpm" if "tpm" in kept_names else kept_names[0]
    if len(kept_names) > 1:
        warnings.append(
            f"Quantifier output detected: used its {samples[keep[kept_names.index(chosen)]]!r} column."
        )
    keep = [keep[kept_names.index(chosen)]]
    return cells[keep, :], ["sample_1"], QUANTIFIER_COLUMNS[chosen] if values == "auto" else values


def _unique_sample_names(samples: list[str], warnings: list[str]) -> list[str]:
    names = [s.strip() or f"sample_{i + 1}" for i, s in enumerate(samples)]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    if len(set(names)) < len(names):
        warnings.append("Some sample names were repeated; later copies were numbered, e.g. 'S1 (2)'.")
    return out


# --- values: checks, scale, conversion ---------------------------------------------------------------------


def _detect_scale(values: np.ndarray) -> str:
    """Apply the value-scale rules of the module docstring to the finite values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ProfileError(
            "No expression values were found for the recognised genes: the value cells are empty."
        )
    negative = float((finite < 0).mean())
    if negative > 0:
        if negative < MISSING_CODE_FRACTION:
            raise ProfileError(
                f"{int((finite < 0).sum())} value(s) are negative while the rest are not: if these are "
                "missing-value codes (such as -1 or -999) leave those cells empty instead."
            )
        return "zscore"
    if finite.max() <= LOG_MAX:
        return "log2tpm"
    if np.all(finite == np.round(finite)):
        return "counts"
    return "tpm"


def _to_log2tpm(
    matrix: np.ndarray, mapped: np.ndarray, scale: str, samples: list[str], warnings: list[str]
) -> np.ndarray:
    """Convert the recognised genes' values (samples × genes) to log2(TPM+1); z-scores are left as they are.

    Library sizes for counts use every gene row of the file, recognised or not: CPM is relative to all reads.
    """
    values = matrix[:, mapped]
    if scale in ("tpm", "counts", "log2tpm") and np.nanmin(values, initial=0.0) < 0:
        label = {"tpm": "TPM", "counts": "read counts", "log2tpm": "log2(TPM+1) values"}[scale]
        raise ProfileError(f"The file has negative values, which {label} cannot be: check the value scale.")
    if scale == "tpm":
        return np.log2(values + 1.0)
    if scale == "counts":
        library = np.nansum(np.where(matrix > 0, matrix, 0.0), axis=1)
        empty = [samples[i] for i in np.flatnonzero(library <= 0)]
        if empty:
            raise ProfileError(f"Sample {empty[0]!r} has no reads (all counts are zero or empty).")
        median = float(np.median(library))
        if median < SMALL_LIBRARY:
            warnings.append(
                f"The counts are small (median {median:,.0f} reads per sample): if they are rounded TPM "
                "rather than read counts, pass the value scale 'tpm'."
            )
        warnings.append(
            "Read counts were normalised to counts per million (CPM), because gene lengths are not "
            "available; CPM stands in for TPM (the model z-scores within each sample)."
        )
        return np.log2(values / library[:, None] * 1e6 + 1.0)
    if scale == "log2tpm" and np.nanmax(values, initial=0.0) > 30:
        warnings.append(
            "Values above 30 are unusual for log2(TPM+1): check that the data are log-transformed."
        )
    return values


def _build_profile(
    grid: np.ndarray,
    decimal_comma: bool,
    values: str,
    limits: ProfileLimits,
    known_genes: Collection[str] | None,
    warnings: list[str],
) -> ParsedProfile:
    grid = _trim(grid)
    if grid.shape[1] < 2:
        raise ProfileError(
            "The table has a single column: it needs gene names and at least one column of expression "
            "values, separated by commas, tabs or semicolons."
        )
    if min(grid.shape) > limits.max_samples + 1:
        raise _too_many_samples(min(grid.shape) - 1, limits)
    cells, genes, samples, orientation = _orient(grid, known_genes)
    counters = [i for i, g in enumerate(genes) if COUNTER_LABEL.match(g)]
    if counters:
        keep = [i for i in range(len(genes)) if not COUNTER_LABEL.match(genes[i])]
        cells, genes = cells[:, keep], [genes[i] for i in keep]
        warnings.append(f"Ignored {len(counters)} read-counter summary row(s) (HTSeq/STAR).")
    if orientation == "genes_by_samples":
        cells, samples, values = _select_samples(cells, samples, values, warnings)
    if len(samples) > limits.max_samples:
        raise _too_many_samples(len(samples), limits)
    if len(genes) > limits.max_genes:
        raise LimitExceededError(
            f"The file has {len(genes):,} genes; at most {limits.max_genes:,} are allowed: keep one row "
            "per gene."
        )
    if not samples or not genes:
        raise ProfileError("The table needs gene names and at least one column of expression values.")
    matrix, text = _numbers(cells, decimal_comma)
    return profile_from_matrix(matrix, genes, samples, values, known_genes, warnings, text, orientation)


def profile_from_matrix(
    matrix: np.ndarray,
    genes: list[str],
    samples: list[str],
    values: str = "auto",
    known_genes: Collection[str] | None = None,
    warnings: list[str] | None = None,
    text: np.ndarray | None = None,
    orientation: str = "samples_by_genes",
    mapping: GeneMapping | None = None,
) -> ParsedProfile:
    """The numeric half of the parser: samples × gene labels (float, NaN = missing) → ParsedProfile.

    Uploads reach it after their text was split into cells; cohort readers (.h5ad, Parquet) call it directly
    with each partition, so id mapping, unit rules and checks are the same everywhere. ``text`` marks cells
    that held text (none for numeric sources); ``mapping`` skips re-mapping the same gene labels.
    """
    warnings = [] if warnings is None else warnings
    matrix = np.asarray(matrix, dtype=np.float64)
    text = np.zeros(matrix.shape, dtype=bool) if text is None else text
    mapping = map_genes(genes, known_genes) if mapping is None else mapping
    warnings.extend(mapping.warnings)
    if gene_table() is None:
        warnings.append(
            f"The gene table is not installed ({GENE_TABLE_PIN}): gene symbols were used as written, without "
            "updating previous or alias symbols."
        )
    mapped = np.array([s is not None for s in mapping.symbols])
    # aliases alone are no evidence of genes: a sample called 'S2' is an alias of RPS2
    if not mapped.any() or _gene_fraction(genes, known_genes) == 0:
        raise ProfileError(
            "No recognisable genes were found: use HGNC symbols (e.g. TP53), Entrez ids or Ensembl gene ids "
            "(ENSG...) as gene names."
        )
    samples = _unique_sample_names(samples, warnings)
    matrix, text, samples = _drop_annotation_samples(matrix, text, mapped, samples, warnings)
    _check_text(text, mapped, orientation)
    if np.isinf(matrix[:, mapped]).any():
        raise ProfileError(
            "Some values are infinite (inf): replace them with numbers or leave the cells empty."
        )
    matrix = np.where(np.isinf(matrix), np.nan, matrix)  # unrecognised columns are ignored, not judged

    if values == "auto":
        values = _detect_scale(matrix[:, mapped])
    converted = _to_log2tpm(matrix, mapped, values, samples, warnings)

    expression = pd.DataFrame(converted, index=pd.Index(samples, name="sample"))
    expression.columns = [s for s in mapping.symbols if s is not None]
    n_mapped = int(mapped.sum())
    if not expression.columns.is_unique:  # labels of one gene (alias + symbol...) are averaged
        expression = expression.T.groupby(level=0, sort=False).mean().T
    n_duplicates = n_mapped - expression.shape[1]
    expression = expression.loc[:, expression.notna().any(axis=0)].astype(np.float64)
    if expression.shape[1] == 0:
        raise ProfileError("All recognised genes have empty values: fill in the expression values.")
    _add_summary_warnings(
        warnings, len(genes), n_mapped, n_duplicates, mapping.n_renamed, expression, known_genes
    )
    return ParsedProfile(
        expression=expression,
        value_scale=values,
        orientation=orientation,
        id_type=mapping.id_type,
        n_input_genes=len(genes),
        n_mapped_genes=n_mapped,
        n_duplicate_genes=n_duplicates,
        warnings=warnings,
    )


def _trim(grid: np.ndarray) -> np.ndarray:
    """Drop rows and columns that are entirely empty (trailing separators, spacer rows)."""
    if grid.size == 0:
        return grid.reshape(0, 0)
    filled = grid != ""
    return grid[filled.any(axis=1)][:, filled.any(axis=0)]


def _too_many_samples(n: int, limits: ProfileLimits) -> LimitExceededError:
    return LimitExceededError(
        f"The file has {n:,} samples; at most {limits.max_samples:,} can be scored at once: split it into "
        "smaller files."
    )


def _drop_annotation_samples(
    matrix: np.ndarray, text: np.ndarray, mapped: np.ndarray, samples: list[str], warnings: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Samples whose recognised-gene cells are all text (a Description column, a units row) are annotation."""
    keep = ~text[:, mapped].all(axis=1)
    if not keep.any():
        raise ProfileError("No expression values were found: the value cells hold text only.")
    if not keep.all():
        warnings.append(
            f"Ignored {int((~keep).sum())} column(s) or row(s) of text that hold no expression values."
        )
    matrix, text = matrix[keep], text[keep]
    samples = [s for s, k in zip(samples, keep, strict=True) if k]
    empty = np.isnan(matrix[:, mapped]).all(axis=1) & ~text[:, mapped].any(axis=1)
    if empty.any():
        raise ProfileError(f"Sample {samples[int(np.flatnonzero(empty)[0])]!r} has no values for any gene.")
    return matrix, text, samples


def _check_text(text: np.ndarray, mapped: np.ndarray, orientation: str) -> None:
    """Refuse text in recognised genes' value cells, naming the first cell's position (never its content)."""
    bad = np.argwhere(text[:, mapped])
    if bad.size == 0:
        return
    sample_index, gene_index = bad[0]
    gene_position = int(np.flatnonzero(mapped)[gene_index])
    if orientation == "genes_by_samples":
        where = f"gene row {gene_position + 1}, sample column {int(sample_index) + 1}"
    else:
        where = f"sample row {int(sample_index) + 1}, gene column {gene_position + 1}"
    raise ProfileError(
        f"{len(bad)} value cell(s) hold text instead of a number (first at {where} of the values): every "
        "value must be a number or empty; use '.' as the decimal point and no thousands separators."
    )


def _add_summary_warnings(
    warnings: list[str],
    n_input: int,
    n_mapped: int,
    n_duplicates: int,
    n_renamed: int,
    expression: pd.DataFrame,
    known_genes: Collection[str] | None,
) -> None:
    if n_mapped < n_input:
        warnings.append(
            f"{n_input - n_mapped:,} of {n_input:,} gene labels were not recognised and were ignored."
        )
    if n_renamed:
        warnings.append(f"{n_renamed:,} previous or alias gene symbols were updated to current HGNC symbols.")
    if n_duplicates:
        warnings.append(
            f"{n_duplicates:,} duplicate gene label(s) were averaged with another label of the same gene."
        )
    if known_genes:
        present = len(set(expression.columns) & set(known_genes))
        if present < 0.5 * len(set(known_genes)):
            warnings.append(
                f"Only {present:,} of the model's {len(set(known_genes)):,} genes are in the file: "
                "predictions rely on imputed values for the rest."
            )
