"""Parse an uploaded RNA-seq expression profile (one or many samples) into samples × HGNC symbols.

Why a dedicated parser: uploads come from clinics and core facilities in every shape (csv/tsv/xlsx, gzipped,
genes as rows or columns, symbols or Ensembl/Entrez ids, TPM or counts or log values, quantifier outputs
with extra columns). Each problem must end in a one-sentence ProfileError a clinician can act on, never a
stack trace, and the data itself is never written to disk or logged (only a sha256 fingerprint of the bytes
leaves this module).

Value scales are detected and converted in ``neurix_core.io.units`` (rules in its docstring).
"""

from __future__ import annotations

import hashlib
import re
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
from neurix_core.io.readers import ProfileLimits, precheck, read_grid
from neurix_core.io.units import VALUE_SCALES, ScaleDetection, _to_log2tpm, detect_scale

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
    scale_detection: ScaleDetection | None = None  # what the values looked like and why the scale was chosen
    unrecognised_labels: list[str] = field(default_factory=list)  # gene labels not recognised (ignored)


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
    _check_size(data, limits)
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


def _check_size(data: bytes, limits: ProfileLimits) -> None:
    if len(data) > limits.max_bytes:
        raise LimitExceededError(
            f"The file is {_mib(len(data))}, more than the {_mib(limits.max_bytes)} allowed: upload fewer "
            "samples per file or compress it."
        )
    if not data.strip():
        raise ProfileError("The file is empty: upload a table with gene names and expression values.")


def precheck_upload(data: bytes, limits: ProfileLimits) -> None:
    """Refuse, in milliseconds and with ``parse_profile``'s own messages, what it would refuse before reading:
    the byte cap, empty files, decompression bombs (gzip ratio/size, xlsx declared sizes) and far oversized
    tables. A server runs this before its parse queue (``neurix_core/admission.py``), so such files do not wait
    behind other users' parses; anything else is left to ``parse_profile``."""
    data = bytes(data)
    _check_size(data, limits)
    try:
        precheck(data, limits)
    except NeurixError:
        raise
    except Exception:  # noqa: BLE001, S110 - not a refusal of ours: parse_profile reports it properly
        return


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# --- bytes → grid of strings -------------------------------------------------------------------------------


def _parse(
    data: bytes, values: str, limits: ProfileLimits, known_genes: Collection[str] | None
) -> ParsedProfile:
    warnings: list[str] = []
    if data[:8] == b"\x89HDF\r\n\x1a\n":  # AnnData .h5ad (HDF5 signature)
        from neurix_core.io.h5ad import parse_h5ad_upload

        return parse_h5ad_upload(data, values, limits, known_genes)
    grid, decimal_comma = read_grid(data, limits, warnings)
    return _build_profile(grid, decimal_comma, values, limits, known_genes, warnings)


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


# A character no number pandas parses can hold (digits, sign, point, exponent, inf/infinity/nan in any case).
_NOT_IN_NUMBERS = r"[^0-9+\-.eEiInNfFtTyYaA]"


def _is_text(cells: np.ndarray) -> np.ndarray:
    """Cells that are neither a number (as ``pd.to_numeric`` reads it) nor a missing-value token.

    Cells with a character that cannot occur in a number (a gene symbol's 'G', 'P', a space...) are text without
    trying to parse them; only the rest go through ``to_numeric`` (5× faster for a column of 20,000 symbols).
    """
    flat = pd.Series(cells.ravel(), dtype=object).astype(str).str.strip()
    text = flat.str.contains(_NOT_IN_NUMBERS, regex=True).to_numpy(dtype=bool, copy=True)
    undecided = ~text
    if undecided.any():
        text[undecided] = pd.to_numeric(flat[undecided], errors="coerce").isna().to_numpy()
    return text & ~flat.str.lower().isin(NA_TOKENS).to_numpy()


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
    grid: np.ndarray, known_genes: Collection[str] | None, warnings: list[str] | None = None
) -> tuple[list[str] | None, list[str] | None]:
    """Decide whether the first row holds column labels and the first column row labels (None where not)."""
    n_rows, n_cols = grid.shape
    first_row = [str(c).strip() for c in grid[0]]
    first_col = [str(c).strip() for c in grid[:, 0]]
    numeric_header = False
    has_header = n_rows > 1 and (
        _mostly_text(grid[0, 1:]) or (first_row[0].lower() in LABEL_HEADERS and n_cols > 1)
    )
    if not has_header and n_rows > 1 and n_cols > 1:
        numeric_header = _numeric_header(grid, warnings)
        has_header = numeric_header
    body_col = first_col[1:] if has_header else first_col
    if n_cols < 2:
        has_labels = False
    elif _mostly_text(np.asarray(body_col, dtype=object)):
        has_labels = True
    else:  # a numeric first column holds labels only if they look like Entrez ids, or, under a header row of
        # genes, if they are unique sample ids (numbered samples keep their names)
        unique = len(set(body_col)) == len(body_col)
        looks_like_ids = unique and _gene_fraction(body_col, known_genes) >= 0.5
        looks_like_ids = looks_like_ids or (
            unique and has_header and _gene_fraction(first_row[1:], known_genes) >= 0.5
        )
        has_labels = looks_like_ids and (
            _is_label_header(first_row[0]) or numeric_header
            if has_header
            else len(body_col) >= MIN_BARE_ID_ROWS
        )
    columns = (first_row[1:] if has_labels else first_row) if has_header else None
    rows = body_col if has_labels else None
    return columns, rows


def _numeric_header(grid: np.ndarray, warnings: list[str] | None) -> bool:
    """A first row of distinct whole numbers above non-integer values is a header of numeric sample names.

    Read as data it would add a gene and could flip the value scale of the whole file. When the values below
    are whole numbers too (read counts) the row stays data, and the user is told how to make it a header.
    """
    names = [str(c).strip() for c in grid[0, 1:]]
    if not names or not all(n.isdigit() for n in names) or len(set(names)) < len(names):
        return False
    values, _ = _numbers(grid[1 : min(grid.shape[0], 501), 1:], decimal_comma=True)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return False
    header = not np.all(finite == np.round(finite))
    if warnings is not None:
        if header:
            warnings.append(
                "Row 1 holds only whole numbers while the values below it have decimals, so it was read as "
                "the header (numeric sample names), not as a gene."
            )
        else:
            warnings.append(
                "Row 1 holds only whole numbers and was read as data, like the rows below it; if these are "
                "sample names, put a label such as 'gene' in its first cell."
            )
    return header


def _orient(
    grid: np.ndarray, known_genes: Collection[str] | None, warnings: list[str] | None = None
) -> tuple[np.ndarray, list[str], list[str], str]:
    """Return (cells as samples × genes, gene labels, sample labels as written, orientation)."""
    columns, rows = _label_axes(grid, known_genes, warnings)
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
    first = 1 if columns is not None and rows is not None else 0  # skip the corner cell
    if orientation == "genes_by_samples":
        genes = rows if rows is not None else []
        verbatim = [str(c) for c in grid[0, first:]] if columns is not None else None
        samples = verbatim or [f"sample_{i + 1}" for i in range(body.shape[1])]
        return body.T, genes, samples, orientation
    genes = columns if columns is not None else []
    verbatim = [str(c) for c in grid[first:, 0]] if rows is not None else None
    samples = verbatim or [f"sample_{i + 1}" for i in range(body.shape[0])]
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
        ignored = ", ".join(repr(samples[i]) for i in range(len(names)) if i not in set(keep))
        warnings.append(
            f"Ignored {len(names) - len(keep)} annotation column(s) (lengths, biotypes, ...): {ignored}. "
            "A sample with such a name was not read: rename it to include it."
        )
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
    """Sample names exactly as written (line breaks and spaces included); blank ones are numbered."""
    names = [s if s.strip() else f"sample_{i + 1}" for i, s in enumerate(samples)]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    if len(set(names)) < len(names):
        warnings.append("Some sample names were repeated; later copies were numbered, e.g. 'S1 (2)'.")
    return out


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
    cells, genes, samples, orientation = _orient(grid, known_genes, warnings)
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
    # aliases alone are no evidence of genes: a sample called 'S2' is an alias of RPS2. Labels mapped as written
    # are, so the label test runs only when every mapped label was an alias or previous symbol.
    mapped_as_written = int(mapped.sum()) - mapping.n_renamed
    if not mapped.any() or (mapped_as_written <= 0 and _gene_fraction(genes, known_genes) == 0):
        raise ProfileError(
            "No recognisable genes were found: use HGNC symbols (e.g. TP53), Entrez ids or Ensembl gene ids "
            "(ENSG...) as gene names."
        )
    samples = _unique_sample_names(samples, warnings)
    matrix, text, samples = _drop_annotation_samples(matrix, text, mapped, samples, warnings)
    _check_text(text, mapped, orientation)
    every_label_mapped = bool(mapped.all())  # cohort partitions: a view, not copies of ~10⁷ values
    recognised = matrix if every_label_mapped else np.compress(mapped, matrix, axis=1)
    if np.isinf(recognised).any():
        raise ProfileError(
            "Some values are infinite (inf): replace them with numbers or leave the cells empty."
        )
    if not every_label_mapped:
        matrix = np.where(np.isinf(matrix), np.nan, matrix)  # unrecognised columns are ignored, not judged

    detection = detect_scale(recognised, values)
    values = detection.scale
    if detection.warning:
        warnings.append(detection.warning)
    converted = _to_log2tpm(matrix, mapped, values, samples, warnings)

    # ``converted`` is a fresh array of this call: no defensive copy (pandas 3 copies by default; ~5 % of a cohort)
    expression = pd.DataFrame(converted, index=pd.Index(samples, name="sample"), copy=False)
    expression.columns = [s for s in mapping.symbols if s is not None]
    n_mapped = int(mapped.sum())
    if not expression.columns.is_unique:  # labels of one gene (alias + symbol...) are averaged
        expression = expression.T.groupby(level=0, sort=False).mean().T
    n_duplicates = n_mapped - expression.shape[1]
    measured_anywhere = expression.notna().any(axis=0)
    if not measured_anywhere.all():  # (a copy only when some gene is empty in every sample)
        expression = expression.loc[:, measured_anywhere]
    expression = expression.astype(np.float64)  # lazy (copy-on-write): no copy when already float64
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
        scale_detection=detection,
        unrecognised_labels=[g for g, s in zip(genes, mapping.symbols, strict=True) if s is None],
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
    has_text = bool(text.any())  # numeric sources (.h5ad, Parquet partitions) have no text cells: no copies
    keep = ~text[:, mapped].all(axis=1) if has_text else np.ones(len(samples), dtype=bool)
    if not keep.any():
        raise ProfileError("No expression values were found: the value cells hold text only.")
    if not keep.all():
        warnings.append(
            f"Ignored {int((~keep).sum())} column(s) or row(s) of text that hold no expression values."
        )
    if not keep.all():
        matrix, text = matrix[keep], text[keep]
        samples = [s for s, k in zip(samples, keep, strict=True) if k]
    empty = np.isnan(matrix if mapped.all() else matrix[:, mapped]).all(axis=1)  # no column copy when all map
    if has_text:
        empty &= ~text[:, mapped].any(axis=1)
    if empty.any():
        raise ProfileError(f"Sample {samples[int(np.flatnonzero(empty)[0])]!r} has no values for any gene.")
    return matrix, text, samples


def _check_text(text: np.ndarray, mapped: np.ndarray, orientation: str) -> None:
    """Refuse text in recognised genes' value cells, naming the first cell's position (never its content)."""
    if not text.any():
        return
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
        known = set(known_genes)
        present = len(set(expression.columns.tolist()) & known)
        if present < 0.5 * len(known):
            warnings.append(
                f"Only {present:,} of the model's {len(known):,} genes are in the file: "
                "predictions rely on imputed values for the rest."
            )
