"""Property tests: parse_profile on random and malformed uploads ends in a ParsedProfile or a NeurixError.

Why: uploads are untrusted; whatever the bytes, the dashboard and CLI must get either a usable profile or a
message they can show, never another exception. Successful parses must also keep the documented invariants.
The last test prints how many generated cases ran and how they ended, with or without ``-s``.
"""

from __future__ import annotations

import gzip
import io
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurix_core.errors import NeurixError
from neurix_core.io.profile import ParsedProfile, ProfileLimits, parse_profile

LIMITS = ProfileLimits(max_bytes=2 * 2**20, max_samples=50, max_genes=20_000)
SETTINGS = settings(
    deadline=None,
    database=None,  # no example database: runs are independent; a failure prints its reproducing example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OUTCOMES: Counter[str] = Counter()
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

REAL_GENES = ["TP53", "KRAS", "EGFR", "BRAF", "MYC", "PTEN", "CDKN2A", "ERBB2", "AFDN", "VSIR"]
GENE_LABELS = st.one_of(
    st.sampled_from(REAL_GENES),
    st.sampled_from(REAL_GENES).map(str.lower),
    st.sampled_from(["MLLT4", "C10orf54", "HLA.DPA1", "1-Sep", "S1", "__no_feature", "ENSG00000141510.17"]),
    st.sampled_from(["7157", "3845", "TP53 (7157)", "ENSG00000133703.12_PAR_Y", "ENSG99999999999"]),
    st.text(min_size=0, max_size=12),
)
SAMPLE_NAMES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8),
    st.sampled_from(["S1", "patient 1", "TCGA-AB-1234", "Échantillon", "患者", "1", "", "TP53"]),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(min_value=-(10**9), max_value=10**12),
    st.floats(min_value=0, max_value=20),
)
CELLS = st.one_of(
    NUMBERS.map(str),
    st.sampled_from(["", "NA", "nan", "N/A", "null", "-", "inf", "-inf", "1,5", "1e400", '"', "'", "#N/A"]),
    st.text(max_size=8),
    GENE_LABELS,
)
DELIMITERS = st.sampled_from([",", "\t", ";", "|", " "])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "utf-16-le", "cp1252", "utf-32"])


def check(data: bytes, filename: str = "upload.csv", **kwargs: str) -> None:
    """The contract: a ParsedProfile with its invariants, or a NeurixError; anything else fails the test."""
    try:
        parsed = parse_profile(data, filename, limits=LIMITS, **kwargs)
    except NeurixError as exc:
        assert str(exc).strip(), "error messages must not be empty"
        OUTCOMES[f"{type(exc).__name__}"] += 1
        return
    assert isinstance(parsed, ParsedProfile)
    values = parsed.expression.to_numpy()
    assert parsed.expression.dtypes.eq(np.float64).all()
    assert not np.isinf(values).any()
    assert parsed.expression.columns.is_unique and parsed.expression.index.is_unique
    assert parsed.expression.shape[0] <= LIMITS.max_samples
    assert parsed.expression.notna().any(axis=0).all(), "genes missing in every sample must be dropped"
    assert parsed.value_scale in ("log2tpm", "tpm", "counts", "zscore", "log2")
    assert parsed.orientation in ("samples_by_genes", "genes_by_samples")
    assert parsed.n_mapped_genes <= parsed.n_input_genes
    assert len(parsed.fingerprint) == 64
    OUTCOMES["ParsedProfile"] += 1


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@settings(SETTINGS, max_examples=300)
@given(st.binary(max_size=3000), st.sampled_from(["x.csv", "x.tsv", "x.txt", "x.xlsx", "x.csv.gz", "noext"]))
@example(b"PK\x03\x04" + b"\x00" * 100, "x.xlsx")
@example(b"\x1f\x8b\x08\x00" + b"\x00" * 20, "x.csv.gz")
@example(b"\xff\xfe" + b"\x00\xd8" * 10, "x.txt")
def test_random_bytes(data: bytes, filename: str) -> None:
    check(data, filename)


@settings(SETTINGS, max_examples=600)
@given(
    rows=st.lists(st.lists(CELLS, min_size=1, max_size=8), min_size=1, max_size=12),
    delimiter=DELIMITERS,
    encoding=ENCODINGS,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    compress=st.booleans(),
    values=st.sampled_from(["auto", "auto", "log2tpm", "tpm", "counts", "zscore", "log2"]),
)
def test_malformed_delimited_tables(
    rows: list[list[str]], delimiter: str, encoding: str, newline: str, compress: bool, values: str
) -> None:
    """Ragged rows, mixed types, stray quotes, unicode, NaN/inf, every delimiter and encoding."""
    data = encode(newline.join(delimiter.join(row) for row in rows), encoding)
    check(gzip.compress(data) if compress else data, "upload.csv", values=values)


@st.composite
def expression_tables(draw: st.DrawFn) -> pd.DataFrame:
    """Plausible profiles (real genes, duplicates, NaN/inf, negative values) that may still break rules."""
    genes = draw(st.lists(GENE_LABELS, min_size=1, max_size=25))
    n_samples = draw(st.integers(min_value=1, max_value=6))
    kind = draw(st.sampled_from(["log", "tpm", "counts", "z", "mixed"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (len(genes), n_samples)
    values = {
        "log": rng.uniform(0, 15, shape),
        "tpm": rng.gamma(0.5, 200, shape),
        "counts": rng.poisson(500, shape).astype(float),
        "z": rng.normal(size=shape),
        "mixed": rng.normal(100, 200, shape),
    }[kind]
    holes = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]))
    values[rng.random(shape) < holes] = np.nan
    if draw(st.booleans()):
        values[rng.integers(shape[0]), rng.integers(shape[1])] = draw(
            st.sampled_from([np.inf, -np.inf, -999.0])
        )
    samples = draw(st.lists(SAMPLE_NAMES, min_size=n_samples, max_size=n_samples))
    return pd.DataFrame(values, index=genes, columns=samples)


@settings(SETTINGS, max_examples=400)
@given(
    frame=expression_tables(),
    transpose=st.booleans(),
    sep=st.sampled_from([",", "\t", ";"]),
    header=st.booleans(),
    index=st.booleans(),
    encoding=ENCODINGS,
)
def test_plausible_tables_either_parse_or_explain(
    frame: pd.DataFrame, transpose: bool, sep: str, header: bool, index: bool, encoding: str
) -> None:
    table = frame.T if transpose else frame
    text = table.to_csv(sep=sep, header=header, index=index)
    check(encode(text, encoding), "upload.txt")


@settings(SETTINGS, max_examples=40)
@given(frame=expression_tables(), transpose=st.booleans())
def test_xlsx_tables(frame: pd.DataFrame, transpose: bool) -> None:
    buffer = io.BytesIO()
    table = (frame.T if transpose else frame).replace([np.inf, -np.inf], np.nan)
    table.index = [CONTROL.sub("", str(v)) for v in table.index]  # worksheets cannot hold control characters
    table.columns = [CONTROL.sub("", str(v)) for v in table.columns]
    table.to_excel(buffer)
    check(buffer.getvalue(), "upload.xlsx")


@settings(SETTINGS, max_examples=10)
@given(
    n=st.integers(min_value=2_000, max_value=25_000),
    wide=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_very_wide_and_very_long_files(n: int, wide: bool, seed: int) -> None:
    """Thousands of columns or rows, some beyond the gene limit: parse or LimitExceededError, quickly."""
    rng = np.random.default_rng(seed)
    genes = [REAL_GENES[i % len(REAL_GENES)] if i % 7 else f"G{i}" for i in range(n)]
    values = rng.uniform(0, 15, size=(n, 2)).round(3)
    frame = pd.DataFrame(values, index=genes, columns=["S1", "S2"])
    check((frame.T if wide else frame).to_csv().encode(), "big.csv")


def test_nan_and_inf_spellings() -> None:
    """Deterministic spot checks of the value tokens that broke parsers before."""
    for token in ["nan", "NaN", "inf", "-Infinity", "1e400", "", "NA", "#N/A", "1,5", "0x10", "1_000", "½"]:
        check(f"gene,S1\nTP53,{token}\nKRAS,3\n".encode(), "upload.csv")


def test_cases_ran(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: report how many generated cases ran and how they ended (shown without -s)."""
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(OUTCOMES.items()))
    with capsys.disabled():
        print(f"\nparse_profile property cases: {sum(OUTCOMES.values())} ({summary})")
    assert sum(OUTCOMES.values()) >= 500, OUTCOMES
    assert OUTCOMES["ParsedProfile"] > 0 and OUTCOMES["ProfileError"] > 0, OUTCOMES
