"""Read upload bytes (csv/tsv/txt/xlsx, optionally gzipped) into a rectangular grid of strings, within limits.

Memory is bounded by construction: a gzip stream is measured (size and compression ratio) before anything is
parsed, text is decoded and split row by row from a stream (never one big string or list of lines), xlsx sheets
are streamed cell by cell (openpyxl read-only), and ``RowBounds`` stops the read as soon as the rows, columns or
cells seen so far exceed what a valid upload may hold. Names are kept verbatim: quoted fields may hold line
breaks, and nothing is stripped here.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import IO

import numpy as np

from neurix_core.errors import LimitExceededError, NeurixError, ProfileError
from neurix_core.io.readers.bounds import SLACK, ProfileLimits, RowBounds, mib
from neurix_core.io.tables import sniff_delimiter

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # AnnData .h5ad
RATIO_FLOOR = 16 * 2**20  # small files may compress very well (a column of zeros); the ratio cap starts here
CHUNK = 2**20
SNIFF_CHARS = 65536
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # below 32, except tab, line feed, return
EMPTY = "The file is empty: upload a table with gene names and expression values."


def read_grid(data: bytes, limits: ProfileLimits, warnings: list[str]) -> tuple[np.ndarray, bool]:
    """The first sheet / the table as an object array of strings, plus whether numbers use decimal commas."""
    if data[:2] == GZIP_MAGIC:
        lines = _check_gzip(data, limits)
        head = _gunzip_head(data)
        if head[:4] == ZIP_MAGIC or head[:8] == OLE_MAGIC:
            raise ProfileError("A gzipped workbook cannot be read: upload the .xlsx file itself, or a CSV.")
        _check_estimate(lines, head, limits)
        return _read_text(lambda: gzip.GzipFile(fileobj=io.BytesIO(data)), head, limits, warnings)
    if data[:4] == ZIP_MAGIC:
        return _read_xlsx(data, limits, warnings), False
    if data[:8] == OLE_MAGIC:
        raise ProfileError("Old Excel .xls files are not supported: save the sheet as .xlsx or CSV.")
    _check_estimate(data.count(b"\n"), data[:SNIFF_CHARS], limits)
    return _read_text(lambda: io.BytesIO(data), data[:SNIFF_CHARS], limits, warnings)


def precheck(data: bytes, limits: ProfileLimits) -> None:
    """The checks ``read_grid`` makes before reading, on their own: gzip size and ratio (streamed, nothing kept),
    xlsx declared sizes, and the byte-level size estimate. Milliseconds and little memory for any input.

    Why separately: a server admits parses through a queue (``neurix_core/admission.py``); running these first,
    outside it, refuses a decompression bomb or a far oversized table at once instead of after other users' parses.
    """
    if data[:2] == GZIP_MAGIC:
        _check_estimate(_check_gzip(data, limits), _gunzip_head(data), limits)
    elif data[:4] == ZIP_MAGIC:
        _check_xlsx_size(data, limits)
    elif data[:8] not in (
        OLE_MAGIC,
        HDF5_MAGIC,
    ):  # .xls is refused by read_grid; .h5ad has a reader of its own
        _check_estimate(data.count(b"\n"), data[:SNIFF_CHARS], limits)


def _check_estimate(n_lines: int, head: bytes, limits: ProfileLimits) -> None:
    """Refuse in milliseconds what is far beyond the limits (line count × typical width of the first lines),
    before any string is built; borderline files get the exact row-by-row check while reading."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return  # UTF-16: byte counts do not apply; the exact check still runs
    sample = [line for line in head.split(b"\n")[1:-1] if line.strip()][:50]
    if not sample:
        return
    widths = sorted(1 + max(line.count(d) for d in (b",", b"\t", b";")) for line in sample)
    width = widths[len(widths) // 2]
    if n_lines > 1.5 * (limits.max_genes + SLACK) or n_lines * width > 1.5 * limits.max_cells:
        raise LimitExceededError(
            f"The file has about {n_lines:,} lines of {width:,} field(s), far more than an upload may hold (at "
            f"most {limits.max_genes:,} genes, {limits.max_samples:,} samples and {limits.max_cells:,} values): "
            "split it into smaller files."
        )


# --- gzip ----------------------------------------------------------------------------------------------------


def _check_gzip(data: bytes, limits: ProfileLimits) -> int:
    """Inflate once without keeping the output: refuse a bomb by size or ratio before any parsing.

    Every gzip member counts (``gzip`` reads concatenated members as one file); a gzip inside stays packed.
    Returns the number of line breaks, for the size estimate.
    """
    lines = 0
    ceiling = limits.max_unpacked_bytes
    ratio_cap = max(RATIO_FLOOR, int(limits.max_ratio * len(data)))
    total = 0
    pending = data
    try:
        while pending:
            inflater = zlib.decompressobj(wbits=31)
            chunk = inflater.decompress(pending, CHUNK)
            while True:
                total += len(chunk)
                lines += chunk.count(b"\n")
                _check_unpacked(total, ceiling, ratio_cap, limits)
                if not inflater.unconsumed_tail:
                    break
                chunk = inflater.decompress(inflater.unconsumed_tail, CHUNK)
            total += len(inflater.flush())
            _check_unpacked(total, ceiling, ratio_cap, limits)
            if not inflater.eof:
                raise _damaged_gzip()
            pending = inflater.unused_data.lstrip(b"\x00")  # gzip ignores trailing zero padding
    except zlib.error as exc:
        raise _damaged_gzip() from exc
    if total == 0:
        raise ProfileError(EMPTY)
    return lines


def _check_unpacked(total: int, ceiling: int, ratio_cap: int, limits: ProfileLimits) -> None:
    if total > ceiling:
        raise LimitExceededError(
            f"The decompressed file is larger than {mib(ceiling)}: upload fewer samples per file."
        )
    if total > ratio_cap:
        raise LimitExceededError(
            f"The file unpacks to more than {limits.max_ratio:.0f} times its compressed size, which "
            "expression tables never do: re-compress the table itself, or upload it uncompressed."
        )


def _damaged_gzip() -> ProfileError:
    return ProfileError("The .gz file is damaged or incomplete: compress the table again and re-upload.")


def _gunzip_head(data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            return handle.read(SNIFF_CHARS)
    except (OSError, EOFError, zlib.error) as exc:
        raise _damaged_gzip() from exc


# --- text ----------------------------------------------------------------------------------------------------


def _encoding(head: bytes) -> str:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    return "utf-8-sig"  # also reads plain UTF-8


def _read_text(
    open_binary, head: bytes, limits: ProfileLimits, warnings: list[str]
) -> tuple[np.ndarray, bool]:
    """Delimited text → grid. UTF-16 given a byte-order mark (Excel 'Unicode text'), else UTF-8 or latin-1."""
    encoding = _encoding(head)
    try:
        return _read_text_as(open_binary, encoding, head, limits)
    except UnicodeDecodeError as exc:
        if encoding == "utf-16":
            raise ProfileError(
                "The file claims to be UTF-16 text but is damaged: save it as UTF-8 CSV."
            ) from exc
    warnings.append("The file is not UTF-8; it was read as latin-1 (check accented sample names).")
    return _read_text_as(open_binary, "latin-1", head, limits)


def _read_text_as(open_binary, encoding: str, head: bytes, limits: ProfileLimits) -> tuple[np.ndarray, bool]:
    sample = codecs.decode(head, encoding, errors="ignore" if encoding != "latin-1" else "strict")
    control = len(CONTROL_CHARACTERS.findall(sample))  # in C: a Python loop over 64k characters cost ~15 ms
    if "\x00" in sample or control > 0.01 * max(len(sample), 1):
        raise _not_text()
    try:
        with open_binary() as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            return _split(text, limits)
    except (OSError, EOFError, zlib.error) as exc:
        raise _damaged_gzip() from exc


def _not_text() -> ProfileError:
    return ProfileError(
        "The file is not a text table (binary data or an unsupported encoding): save it as UTF-8 CSV or .xlsx."
    )


def _checked_lines(text: IO[str]) -> Iterator[str]:
    for line in text:
        if "\x00" in line:
            raise _not_text()
        yield line


def _split(text: IO[str], limits: ProfileLimits) -> tuple[np.ndarray, bool]:
    lines = _checked_lines(text)
    skipped = 0
    first = None
    for line in lines:  # featureCounts/GEO style comment lines before the header
        if line.strip() and not line.lstrip().startswith(("#", "!")):
            first = line
            break
        skipped += 1
    if first is None:
        raise ProfileError(EMPTY)
    head = [first]
    for line in lines:
        head.append(line)
        if sum(1 for h in head if h.strip()) >= 20:
            break
    sniff = [h.rstrip("\r\n")[:4096] for h in head if h.strip()]
    stream = itertools.chain(head, lines)
    bounds = RowBounds(limits)
    rows: list[list[str]] = []
    numbers: list[int] = []
    filled: list[int] = []
    if any(d in h for h in sniff for d in "\t,;"):
        sep = sniff_delimiter("\n".join(sniff))
        reader = csv.reader(stream, delimiter=sep)
        try:
            for row in reader:
                _keep(row, skipped + reader.line_num, rows, numbers, filled, bounds)
        except csv.Error as exc:
            raise ProfileError(
                "The table could not be split into fields (unbalanced quotes or a field longer than 128 kB): "
                "save it again as CSV."
            ) from exc
    else:
        sep = " "
        for number, line in enumerate(stream, skipped + 1):
            _keep(line.split(), number, rows, numbers, filled, bounds)
    return rectangle(rows, numbers, filled), sep == ";"


def _keep(
    row: list[str], line: int, rows: list[list[str]], numbers: list[int], filled: list[int], bounds: RowBounds
) -> None:
    # a filled last field (most rows) needs no scan for trailing empty cells
    n = len(row) if row and row[-1].strip() else last_filled(row)
    if n == 0:  # blank lines and rows of bare separators
        return
    bounds.add(n, line)
    rows.append(row)
    numbers.append(line)
    filled.append(n)


def rectangle(rows: list[list[str]], line_numbers: list[int], filled: list[int] | None = None) -> np.ndarray:
    """Make rows equally long: pad short rows, ignore empty trailing fields, and accept R's header without
    a corner cell (``write.table`` writes one field fewer there); refuse rows with extra values, naming the
    line."""
    if not rows:
        raise ProfileError(EMPTY)
    raw = [len(row) for row in rows]
    filled = filled if filled is not None else [last_filled(row) for row in rows]
    body = raw[1:] or raw
    counts: dict[int, int] = {}
    for n in body:
        counts[n] = counts.get(n, 0) + 1
    width = max(filled[0], max(counts, key=lambda n: (counts[n], -n)))
    if len(rows) > 1 and raw[0] == width - 1 and all(n == width for n in raw[1:]):
        rows[0], raw[0], filled[0] = ["", *rows[0]], width, filled[0] + 1
    long = [i for i, n in enumerate(filled) if n > width]
    if long:
        i = long[0]
        raise ProfileError(
            f"Line {line_numbers[i]} has {filled[i]} fields but most lines have {width}: check the delimiter "
            "(comma, tab or semicolon) and remove stray separators."
        )
    if all(n == width for n in raw):  # every row as wide as the table (the usual file): one copy in C
        grid = np.empty((len(rows), width), dtype=object)
        grid[:] = rows
        rows.clear()
        return grid
    grid = np.full((len(rows), width), "", dtype=object)
    for i, row in enumerate(rows):
        grid[i, : min(raw[i], width)] = row[:width]
        rows[i] = []  # release each row's list as soon as it is copied
    return grid


def last_filled(row: Sequence[object]) -> int:
    """Length of ``row`` without its trailing empty cells (None or blank)."""
    end = len(row)
    while end > 0:
        cell = row[end - 1]
        if cell is not None and (cell if isinstance(cell, str) else str(cell)).strip():
            break
        end -= 1
    return end


# --- xlsx ----------------------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, limits: ProfileLimits, warnings: list[str]) -> np.ndarray:
    """First sheet of an .xlsx file, streamed; formula cells without a saved value are refused, not dropped."""
    _check_xlsx_size(data, limits)
    try:
        return _stream_sheet(data, limits, warnings)
    except NeurixError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many unrelated types for damaged files
        raise _damaged_xlsx(read=True) from exc


def _check_xlsx_size(data: bytes, limits: ProfileLimits) -> None:
    """Refuse a workbook whose declared unpacked size is beyond the size or ratio cap (nothing is inflated)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise _damaged_xlsx() from exc
    ratio_cap = max(RATIO_FLOOR, int(limits.max_xlsx_ratio * len(data)))
    if unpacked > min(limits.max_xlsx_unpacked_bytes, ratio_cap):
        raise LimitExceededError(
            "The workbook is too large once unpacked: upload fewer samples per file or a CSV."
        )


def _damaged_xlsx(read: bool = False) -> ProfileError:
    if read:
        return ProfileError("The .xlsx workbook could not be read: save it again or export it as CSV.")
    return ProfileError("The file looks like a damaged .xlsx workbook: save it again or export it as CSV.")


def _is_formula(value: object) -> bool:
    return (isinstance(value, str) and value.startswith("=")) or type(value).__name__ in (
        "ArrayFormula",
        "DataTableFormula",
    )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _stream_sheet(data: bytes, limits: ProfileLimits, warnings: list[str]) -> np.ndarray:
    import openpyxl

    values = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        if len(values.sheetnames) > 1:
            warnings.append(f"The workbook has {len(values.sheetnames)} sheets; only the first was read.")
        sheet, formula_sheet = values.worksheets[0], formulas.worksheets[0]
        bounds = RowBounds(limits)
        rows: list[list[str]] = []
        missing = 0
        first_missing: tuple[int, int] | None = None
        pairs = itertools.zip_longest(
            sheet.iter_rows(values_only=True), formula_sheet.iter_rows(values_only=True), fillvalue=()
        )
        for number, (row, formula_row) in enumerate(pairs, 1):
            for column, (value, formula) in enumerate(itertools.zip_longest(row, formula_row), 1):
                if value is None and _is_formula(formula):
                    missing += 1
                    first_missing = first_missing or (number, column)
            filled = last_filled(row)
            if filled == 0:  # spacer rows are dropped later anyway; keeping them would cost memory
                continue
            bounds.add(filled, number)
            rows.append([_cell_text(v) for v in row[:filled]])
    finally:
        values.close()
        formulas.close()
    if missing and first_missing:
        raise ProfileError(
            f"{missing} formula cell(s) have no saved value (first at row {first_missing[0]}, column "
            f"{first_missing[1]}), so their numbers cannot be read: open the workbook in Excel, let it "
            "calculate and save it, or export it as CSV."
        )
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        raise ProfileError(EMPTY)
    grid = np.full((len(rows), width), "", dtype=object)
    for i, row in enumerate(rows):
        grid[i, : len(row)] = row
    return grid
