"""No silent misreads: numeric header rows, xlsx formulas without saved values, sample names kept verbatim.

Each misread changed predictions without a word in a review: a header row of numbers read as a gene flipped a
whole file's value scale, formula cells without values were dropped, a sample name with a line break was
altered. Property tests generate many shapes of each case; every outcome must be the right reading, or a
message that says what was done.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurix_core.errors import ProfileError
from neurix_core.io.profile import ANNOTATION_COLUMNS, QUANTIFIER_COLUMNS, parse_profile

SETTINGS = settings(
    deadline=None, database=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow]
)
# Entrez ids of well-known genes (TP53, KRAS, EGFR, BRAF, MYC, PTEN, CDKN2A, ERBB2, PIK3CA, AKT1, ...).
ENTREZ = ["7157", "3845", "1956", "673", "4609", "5728", "1029", "2064", "5290", "207", "2099", "367"]
SYMBOLS = ["TP53", "KRAS", "EGFR", "BRAF", "MYC", "PTEN", "CDKN2A", "ERBB2", "PIK3CA", "AKT1", "ESR1", "AR"]


def _csv(rows: list[list[str]], delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n", quoting=quoting).writerows(rows)
    return buffer.getvalue().encode("utf-8")


# --- numeric header rows ---------------------------------------------------------------------------------------


@SETTINGS
@given(
    names=st.lists(st.integers(1, 10**6), min_size=1, max_size=6, unique=True),
    corner=st.sampled_from(["7157", "", "1", "0"]),
    seed=st.integers(0, 2**16),
    delimiter=st.sampled_from([",", "\t"]),
)
def test_a_numeric_header_above_log_values_is_a_header_not_a_gene(
    names: list[int], corner: str, seed: int, delimiter: str
) -> None:
    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(0.1, 14.0, size=(len(ENTREZ), len(names))), 3) + 0.001
    rows = [[corner, *map(str, names)]] + [
        [gene, *map(str, row)] for gene, row in zip(ENTREZ, values, strict=True)
    ]
    parsed = parse_profile(_csv(rows, delimiter), "p.csv")
    assert list(parsed.expression.index) == [str(n) for n in names]  # the row is the samples' names
    assert parsed.value_scale == "log2tpm"  # no header values (≥ 1) turned the file into TPM
    assert parsed.n_input_genes == len(ENTREZ)  # and no extra gene
    if corner:  # an empty corner cell marks a header by itself; a number there needs the numeric-header rule
        assert any("Row 1" in w and "header" in w for w in parsed.warnings)


@SETTINGS
@given(names=st.lists(st.integers(1, 10**6), min_size=1, max_size=5, unique=True), seed=st.integers(0, 2**16))
def test_a_numeric_first_row_above_counts_stays_data_and_the_user_is_told(
    names: list[int], seed: int
) -> None:
    """Above whole-number counts a row of numbers is ambiguous: it stays data, with a warning saying so."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 5000, size=(len(SYMBOLS), len(names)))
    rows = [["TP53", *map(str, names)]] + [
        [gene, *map(str, row)] for gene, row in zip(SYMBOLS[1:], counts[1:], strict=True)
    ]
    parsed = parse_profile(_csv(rows), "p.csv")
    assert parsed.n_input_genes == len(SYMBOLS)  # TP53's row is data
    assert any("Row 1" in w and "read as data" in w for w in parsed.warnings)


# --- sample names kept verbatim ------------------------------------------------------------------------------

NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12
).filter(
    lambda s: s.strip() != "" and s.strip().lower() not in {"na", "nan", "n/a", "#n/a", "null", "none", "."}
)


@SETTINGS
@given(names=st.lists(NAMES, min_size=1, max_size=4, unique=True), transpose=st.booleans())
@example(names=["0", "1", "2", "7"], transpose=True)  # numeric ids under a 'gene' corner (found in CI)
@example(names=["0", "START"], transpose=False)  # an annotation column's name (found in CI)
@example(names=["0", "CHR"], transpose=True)  # the same name on a sample row is a sample
def test_sample_names_are_kept_verbatim(names: list[str], transpose: bool) -> None:
    """Quoted names keep line breaks, quotes, separators and surrounding spaces, in either orientation."""
    values = [[f"{1 + i + j / 10:.2f}" for j in range(len(names))] for i in range(len(SYMBOLS))]
    rows = [["gene", *names]] + [[g, *v] for g, v in zip(SYMBOLS, values, strict=True)]
    if transpose:
        rows = [list(r) for r in zip(*rows, strict=True)]
    try:
        parsed = parse_profile(_csv(rows, quoting=csv.QUOTE_ALL), "p.csv")  # quoted as spreadsheets write
    except ProfileError:
        return  # a name that is itself a gene or an annotation word may change the reading, with a message
    if parsed.orientation != ("samples_by_genes" if transpose else "genes_by_samples"):
        return  # names that look like genes (e.g. 'A1') may flip the orientation: reported, not silent
    # in a genes-by-samples table, columns named like featureCounts/RSEM annotations ('start', 'length'...) are not
    # samples, and quantifier columns ('TPM', 'counts'...) are one sample's values (tested in test_profile.py)
    named = [n.strip().lower() for n in names] if not transpose else []
    ignored = [n for n, low in zip(names, named, strict=True) if low in ANNOTATION_COLUMNS] if named else []
    if named and all(low in QUANTIFIER_COLUMNS for low in named if low not in ANNOTATION_COLUMNS):
        return
    assert list(parsed.expression.index) == [n for n in names if n not in ignored]
    assert all(any(repr(n) in w for w in parsed.warnings) for n in ignored)  # each named to the user


def test_a_name_with_a_line_break_inside_quotes() -> None:
    data = b'gene,"tumour\nday 1","tumour\r\nday 2"\nTP53,5.1,4.2\nKRAS,3.3,2.9\nEGFR,1.5,7.5\n'
    parsed = parse_profile(data, "p.csv")
    assert list(parsed.expression.index) == ["tumour\nday 1", "tumour\r\nday 2"]


# --- xlsx formulas ---------------------------------------------------------------------------------------------


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)  # openpyxl never computes formulas: formula cells have no saved value
    return buffer.getvalue()


@SETTINGS
@given(
    formula_rows=st.sets(st.integers(0, len(SYMBOLS) - 1), min_size=1, max_size=4), seed=st.integers(0, 99)
)
def test_xlsx_formula_cells_without_values_are_reported_not_dropped(
    formula_rows: set[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    rows: list[list[object]] = [["gene", "S1", "S2"]]
    for i, gene in enumerate(SYMBOLS):
        a, b = (float(v) for v in np.round(rng.uniform(0.5, 12, 2), 2))
        rows.append([gene, a, f"=B{i + 2}*2" if i in formula_rows else b])
    with pytest.raises(ProfileError, match=rf"^{len(formula_rows)} formula cell\(s\) have no saved value"):
        parse_profile(_xlsx(rows), "p.xlsx")


def test_xlsx_without_formulas_still_reads() -> None:
    rows: list[list[object]] = [["gene", "S1"]] + [[g, 1.5 + i] for i, g in enumerate(SYMBOLS)]
    parsed = parse_profile(_xlsx(rows), "p.xlsx")
    assert parsed.n_mapped_genes == len(SYMBOLS)
    assert parsed.expression.loc["S1", "TP53"] == pytest.approx(1.5)


NUMBER_LIKE = st.text(alphabet="0123456789+-.eEiInNfFtTyYaAxX_ ,#/lDGP\t１−é", max_size=8) | st.sampled_from(
    [
        "inf",
        "-Infinity",
        "nan",
        "NULL",
        "1.#IND",
        "n/a",
        ".",
        "1e5",
        "+1.5E-3",
        " 7 ",
        "1 000",
        "0x10",
        "TP53",
    ]
)


@given(cells=st.lists(NUMBER_LIKE, min_size=1, max_size=60))
def test_text_cells_are_exactly_those_pandas_cannot_read_as_numbers(cells: list[str]) -> None:
    """The header/label decision's shortcut (a character no number holds = text) agrees with ``pd.to_numeric``."""
    import pandas as pd

    from neurix_core.io.profile import NA_TOKENS, _is_text

    flat = pd.Series(cells, dtype=object).astype(str).str.strip()
    expected = pd.to_numeric(flat, errors="coerce").isna() & ~flat.str.lower().isin(NA_TOKENS)
    assert _is_text(np.array(cells, dtype=object)).tolist() == expected.tolist()
