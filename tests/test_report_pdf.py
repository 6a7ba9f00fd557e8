"""The tumour-board report as a PDF: one-page summary, details after it, print layout that holds on A4 and US
Letter, vector figures, optional columns shown only where present, and case fields that never reach a log.

The PDF is read back with poppler (``pdftotext``, ``pdfinfo``, ``pdfimages``, ``pdftoppm``), so the checks are on
what a printer gets. Page images go to ``test-output/`` for a human to look at.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurix_core import cli
from neurix_core.api import Neurix
from neurix_core.report import build_report
from neurix_core.report.case import CaseDetails
from neurix_core.report.pdf import render_pdf
from neurix_core.report.text import DISCLAIMER

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "test-output"
GENERATED = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
SPECIMEN, TUMOUR, REQUESTER, DATE = (
    "SPEC-7731-Q",
    "Glioblastoma multiforme",
    "Dr Quentin Zarlow",
    "2025-03-14",
)
MM = 72 / 25.4  # points per millimetre
POPPLER = ("pdftotext", "pdfinfo", "pdfimages", "pdftoppm")


def _poppler() -> None:
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: install poppler-utils (apt-get install poppler-utils)")


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _pages(pdf: Path) -> list[str]:
    return _run("pdftotext", "-layout", str(pdf), "-").split("\f")[:-1]


def _page_size(pdf: Path) -> tuple[float, float]:
    match = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", _run("pdfinfo", str(pdf)))
    assert match
    return float(match.group(1)), float(match.group(2))


@pytest.fixture(scope="module")
def example(neurix: Neurix, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two example cell lines written as a genes × samples CSV (test data, not user data)."""
    examples = neurix.example_profiles().iloc[:2]
    path = tmp_path_factory.mktemp("report") / "tumour.csv"
    examples.T.rename_axis("gene").to_csv(path, float_format="%.4f")
    return {"csv": path, "sample": str(examples.index[0])}


@pytest.fixture(scope="module")
def cli_pdf(example: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`neurix report` → A4 PDF with the case fields, and what the command printed."""
    _poppler()
    out = tmp_path_factory.mktemp("pdf") / "report.pdf"
    argv = ["report", "--input", str(example["csv"]), "--sample", example["sample"], "--out", str(out)]
    argv += ["--specimen", SPECIMEN, "--tumour-type", TUMOUR, "--requester", REQUESTER, "--date", DATE]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(argv)
    assert code == 0, stderr.getvalue()
    return {"path": out, "printed": stdout.getvalue() + stderr.getvalue()}


def test_page_one_is_a_complete_summary(cli_pdf: dict, example: dict, neurix: Neurix) -> None:
    pages = _pages(cli_pdf["path"])
    assert 3 <= len(pages) <= 10, f"{len(pages)} pages"  # summary + 25-drug table, 5 explained drugs, methods
    first = " ".join(pages[0].split())
    for text in (example["sample"], SPECIMEN, TUMOUR, REQUESTER, DATE, neurix.bundle.version):
        assert text in first, f"{text!r} missing from page 1"
    assert " ".join(DISCLAIMER.split()[:12]) in first
    for heading in ("Top 8 predicted drugs", "Key genes", "Input, data quality and domain", "Training data"):
        assert heading in first, f"{heading!r} is not on page 1"
    assert "microarray" in first, "the training platform is stated"
    assert "Gene coverage" in first and "100% of the model's genes measured" in first
    assert "predicted drugs: details" not in first, "page 1 holds the summary only"
    assert "Top 25 predicted drugs: details" in " ".join(pages[1].split())


def test_every_page_has_running_header_and_page_x_of_y(cli_pdf: dict, example: dict, neurix: Neurix) -> None:
    pages = _pages(cli_pdf["path"])
    for number, page in enumerate(pages, start=1):
        text = " ".join(page.split())
        assert f"Neurix report · sample {example['sample']}" in text
        assert f"model {neurix.bundle.version}" in text
        assert f"page {number} of {len(pages)}" in text


def test_nothing_runs_off_the_page_and_figures_are_vectors(cli_pdf: dict) -> None:
    pdf = cli_pdf["path"]
    width, height = _page_size(pdf)
    assert (round(width), round(height)) == (595, 842), "A4"
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">',
        _run("pdftotext", "-bbox", str(pdf), "-"),
    )
    assert len(words) > 500
    boxes = np.array(words, dtype=float)
    margin = 13 * MM - 1  # the side margins of the page
    assert boxes[:, 0].min() >= margin - 1 and boxes[:, 2].max() <= width - margin + 1, (
        "text outside the margins"
    )
    assert boxes[:, 1].min() >= 0 and boxes[:, 3].max() <= height
    images = _run("pdfimages", "-list", str(pdf)).strip().splitlines()
    assert len(images) <= 2, "charts are vector graphics, not raster images"  # header lines only


def test_no_escaping_or_raw_annotation_artefacts(cli_pdf: dict) -> None:
    text = " ".join(" ".join(_pages(cli_pdf["path"])).split())
    assert "&gt;" not in text and "&amp;" not in text and "ρ > 0.2" in text
    assert "|" not in text, "multi-valued annotations are written with commas"
    assert not re.search(r"\b(None|nan|NaN|n/a)\b", text), "missing values are shown as a dash"


def test_headings_stay_with_their_tables(cli_pdf: dict) -> None:
    """Every per-drug heading in the gene section is followed by its table on the same page."""
    pages = _pages(cli_pdf["path"])
    start = next(i for i, page in enumerate(pages) if "Genes behind the predictions" in page)
    headings = 0
    for page in pages[start:]:
        for match in re.finditer(r"^\s*(\S[^\n]*· rank \d+ · predicted z log AUC[^\n]*)$", page, flags=re.M):
            headings += 1
            assert "Pushes towards" in page[match.end() :], f"{match.group(1)!r} is separated from its table"
    assert headings == 5, "one heading per explained drug (the top 5 by default)"


def test_case_fields_reach_the_file_only(cli_pdf: dict, caplog: pytest.LogCaptureFixture) -> None:
    for value in (SPECIMEN, TUMOUR, REQUESTER):
        assert value not in cli_pdf["printed"]
    case = CaseDetails(specimen=SPECIMEN, tumour_type=TUMOUR, requester=REQUESTER)
    assert SPECIMEN not in repr(case) and REQUESTER not in str(case) and TUMOUR not in f"{case!r}"
    predictions = pd.DataFrame(
        {
            "sample": ["S1"] * 2,
            "drug_key": ["GDSC2:1", "GDSC2:2"],
            "drug_id": [1, 2],
            "drug_name": ["Alpha", "Beta"],
            "screen": ["GDSC2"] * 2,
            "drug_class": ["targeted"] * 2,
            "z_log_auc": [-1.0, 0.5],
            "cv_rho": [0.4, np.nan],
            "rank": [1, 2],
            "targets": ["EGFR|ERBB2", None],
            "moa": ["", "kinase inhibitor"],
        }
    )
    html = build_report(
        "S1", predictions, pd.DataFrame(), fingerprint="0" * 64, case=case, generated=GENERATED
    )
    with caplog.at_level(logging.DEBUG):
        pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF")
    logged = " ".join(record.getMessage() for record in caplog.records)
    for value in (SPECIMEN, TUMOUR, REQUESTER):
        assert value not in logged


def test_us_letter_and_page_images(example: dict, tmp_path: Path) -> None:
    _poppler()
    out = tmp_path / "letter.html"
    argv = ["report", "--input", str(example["csv"]), "--sample", example["sample"], "--out", str(out)]
    assert cli.main([*argv, "--paper", "letter", "--top", "10", "--drugs", "Cisplatin"]) == 0
    html = out.read_text()
    assert "size: letter" in html and DISCLAIMER.split(";")[0].replace("'", "&#x27;") in html
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(render_pdf(html))
    assert tuple(round(v) for v in _page_size(pdf)) == (612, 792)
    assert len(_pages(pdf)) >= 2
    OUTPUT.mkdir(exist_ok=True)
    prefix = OUTPUT / "report_letter_page"
    _run("pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "2", str(pdf), str(prefix))
    images = sorted(OUTPUT.glob("report_letter_page-*.png"))
    assert len(images) >= 2
    from PIL import Image

    first = np.asarray(Image.open(images[0]).convert("L"), dtype=float)
    assert first.shape[0] > first.shape[1], "portrait"
    assert first.std() > 10, "the page image is not blank"


def test_bad_report_arguments_fail_with_one_sentence(example: dict, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    base = ["report", "--input", str(example["csv"])]
    assert cli.main([*base, "--out", str(tmp_path / "r.docx")]) == 2
    assert "--out must end in .pdf or .html" in capsys.readouterr().err
    assert cli.main([*base, "--out", str(tmp_path / "r.html")]) == 2
    assert "choose one with --sample" in capsys.readouterr().err
    assert (
        cli.main([*base, "--sample", example["sample"], "--date", "14/03", "--out", str(tmp_path / "r.html")])
        == 2
    )
    assert "--date must be a date" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


# --- optional content from newer bundles: shown where present, cleanly absent otherwise ----------------------


def _rows(extra: bool) -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "sample": ["S1"] * 3,
            "drug_key": ["GDSC2:1", "GDSC2:2", "GDSC1:3"],
            "drug_id": [1, 2, 3],
            "drug_name": ["Alpha", "Beta", "Gamma"],
            "screen": ["GDSC2", "GDSC2", "GDSC1"],
            "drug_class": ["targeted", "chemotherapy", "non-oncology"],
            "z_log_auc": [-1.4, -0.2, 0.7],
            "cv_rho": [0.41, 0.22, np.nan],
            "rank": [1, 2, 3],
            "targets": ["EGFR|ERBB2", "", None],
            "moa": ["EGFR inhibitor", None, "statin|HMGCR inhibitor"],
            "pathway": ["EGFR signaling", "DNA replication", None],
        }
    )
    if extra:
        rows = rows.assign(
            interval_low=[-2.31, -1.12, -0.35],
            interval_high=[-0.52, 0.77, 1.62],
            percentile=[93.0, 58.0, 21.0],
            in_domain=[False] * 3,
            domain_distance=[4.87] * 3,
            platform=["RNA-seq (TPM)"] * 3,
            scaling=["cohort-centred"] * 3,
        )
    return rows


def test_optional_columns_are_shown_where_present() -> None:
    drugs = pd.DataFrame({"drug_key": ["GDSC2:1", "GDSC2:2", "GDSC1:3"], "hit_rate": [0.61, 0.44, np.nan]})
    quality = {"genes_missing": 212, "values_imputed": "3.1%", "unrecognised_labels": ["X1", "X2"]}
    html = build_report(
        "S1",
        _rows(True),
        pd.DataFrame(),
        fingerprint="0" * 64,
        generated=GENERATED,
        drugs=drugs,
        data_quality=quality,
        coverage=0.96,
    )
    for text in (
        "80% interval",
        "−2.31".replace("−", "-") + " to -0.52",
        "Percentile",
        ">93<",
        "Hit rate",
        "61%",
    ):
        assert text in html, text
    assert "OUTSIDE the training domain" in html and "4.87" in html and 'class="alert"' in html
    assert "RNA-seq (TPM)" in html and "cohort-centred" in html
    assert "Genes missing" in html and "212" in html and "X1, X2" in html
    assert "96% of the model&#x27;s genes measured" in html and "filled with the training mean" in html
    assert "whiskers: 80% interval" in html
    assert "EGFR, ERBB2" in html and "statin, HMGCR inhibitor" in html


def test_optional_columns_are_left_out_cleanly() -> None:
    html = build_report("S1", _rows(False), pd.DataFrame(), fingerprint="0" * 64, generated=GENERATED)
    for text in ("80% interval", "Percentile", "Hit rate", "training domain", "Input platform", "whiskers"):
        assert text not in html, text
    assert not re.search(r">\s*(None|nan|NaN|n/a)\s*<", html)
    assert "–" in html, "missing values are a dash"
    with pytest.raises(ValueError, match="paper"):
        build_report("S1", _rows(False), pd.DataFrame(), fingerprint="0" * 64, paper="A3")
