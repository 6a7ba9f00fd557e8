"""Privacy: an uploaded profile never leaves the user's session (no files, no logs, no other session, no echo).

A shared lab deployment receives patient expression profiles. The guarantees tested here:

* a whole dashboard visit (upload → Predict → Explain → Report → Drug map → Model) opens **no file for
  writing** (a Python audit hook watches every ``open``/``os.open``/tempfile call of the process), and no file
  under the temp dir, the repository or ``~/.streamlit`` modified during the visit holds the upload's unique
  sample name, its raw bytes or its parsed values (text or float64 bytes);
* nothing of the upload reaches any logger (captured at DEBUG on every logger, propagating or not) or
  stdout/stderr (captured at the file-descriptor level);
* two sessions never see each other's upload, and nothing process-wide keeps a session's profile alive after
  the session is gone;
* error messages (CLI and dashboard) describe *where* a bad cell is, never its content; the HTML report
  holds no input values.

The upload's sample name is a random marker, so files written concurrently by other processes cannot give
false positives.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import struct
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import widgets  # noqa: E402
from neurix_core import cli  # noqa: E402
from neurix_core.api import Neurix  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 60
PAGES = ("predict", "explain", "report", "drug_map", "model", "home")
MAX_SCANNED_FILE = 256 * 2**20  # bigger files modified during a test are not ours


# --- the marked upload -------------------------------------------------------------------------------------


class Upload:
    """A one-sample profile whose sample name and value strings occur nowhere else.

    Values are an example cell line's z-scores written with a random 5-digit tail, e.g. ``0.1234`` →
    ``0.123481735``, so every value string is unique to this upload while the profile stays realistic."""

    def __init__(self, examples: pd.DataFrame, row: int = 0) -> None:
        token = uuid.uuid4().hex[:12]
        self.sample = f"NXPRIV-{token}"
        tail = f"{int(token[:5], 16) % 90000 + 10000}"
        values = examples.iloc[row].to_numpy(dtype=float)
        self.value_strings = [f"{v:.4f}{tail}" for v in values]
        lines = [f"gene,{self.sample}"] + [
            f"{g},{s}" for g, s in zip(examples.columns, self.value_strings, strict=True)
        ]
        self.data = ("\n".join(lines) + "\n").encode()
        self.filename = f"{self.sample}.csv"
        self.floats = [float(s) for s in self.value_strings]

    def needles(self) -> dict[str, bytes]:
        """Byte patterns whose presence anywhere means the upload leaked."""
        body = self.data.split(b"\n")
        patterns = {"sample name": self.sample.encode(), "raw lines": b"\n".join(body[5:9])}
        for i in (0, 100, 1000):
            patterns[f"value {i} (text)"] = self.value_strings[i].encode()
            patterns[f"value {i} (float64)"] = struct.pack("<d", self.floats[i])
        return patterns


def find_needles(data: bytes, needles: dict[str, bytes]) -> list[str]:
    return [name for name, pattern in needles.items() if pattern in data]


def scan_files(roots: list[Path], since: float, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Files under ``roots`` modified at or after ``since`` that contain any needle (symlinks not followed)."""
    hits: dict[str, list[str]] = {}
    seen: set[Path] = set()
    for root in roots:
        if not root.exists():
            continue
        for directory, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = [d for d in dirnames if d not in (".git", "__pycache__")]
            for name in filenames:
                path = Path(directory, name)
                if path in seen:
                    continue
                seen.add(path)
                with contextlib.suppress(OSError):
                    info = path.lstat()
                    if path.is_symlink() or info.st_mtime < since or info.st_size > MAX_SCANNED_FILE:
                        continue
                    found = find_needles(path.read_bytes(), needles)
                    if found:
                        hits[str(path)] = found
    return hits


def scan_roots() -> list[Path]:
    return [Path(tempfile.gettempdir()), ROOT, Path.home() / ".streamlit"]


# --- watching the process: file writes and log records -----------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_WRITE_EVENTS = frozenset(
    {"os.rename", "os.replace", "shutil.copyfile", "shutil.move", "tempfile.mkstemp", "os.symlink"}
)
_TEXT_ELEMENTS = (
    "markdown",
    "title",
    "subheader",
    "caption",
    "info",
    "warning",
    "error",
    "success",
    "metric",
)


class WriteWatcher:
    """Records every file the process opens for writing while ``active`` (a ``sys.addaudithook`` hook: it
    sees ``open()``, ``os.open()``, tempfile and rename calls from any module, Streamlit's included).

    Audit hooks cannot be removed, so one hook is installed per test session and switched on and off."""

    _instance: WriteWatcher | None = None

    def __init__(self) -> None:
        self.active = False
        self.writes: list[str] = []

    @classmethod
    def get(cls) -> WriteWatcher:
        if cls._instance is None:
            cls._instance = cls()
            sys.addaudithook(cls._instance._hook)
        return cls._instance

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open" and len(args) == 3:
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and path is not None:
                self.writes.append(f"open {path!s} mode={mode} flags={flags}")
        elif event in _WRITE_EVENTS:
            self.writes.append(f"{event} {args!r}")

    @contextlib.contextmanager
    def watching(self) -> Iterator[list[str]]:
        self.writes = []
        self.active = True
        try:
            yield self.writes
        finally:
            self.active = False


class Records(logging.Handler):
    """Keeps every formatted record (message, arguments and exception text)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.texts.append(f"{record.name}: {text}")


@contextlib.contextmanager
def all_logs_at_debug() -> Iterator[Records]:
    """Attach one handler at DEBUG to the root logger and to every logger that does not propagate
    (Streamlit's), so even debug-level logging is checked; restores levels afterwards."""
    handler = Records()
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level) for logger in loggers]
    attached = [logging.getLogger()] + [lg for lg in loggers[1:] if not lg.propagate]
    try:
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
        for logger in attached:
            logger.addHandler(handler)
        yield handler
    finally:
        for logger in attached:
            logger.removeHandler(handler)
        for logger, level in saved:
            logger.setLevel(level)


# --- fixtures and AppTest helpers --------------------------------------------------------------------------


def _app(page: str = "predict") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.switch_page(f"views/{page}.py")
    return at.run()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return at.run()


def _shown(at: AppTest) -> str:
    """Every text-bearing element of the last run, plus the proto of every element (tables, charts)."""
    parts: list[str] = []
    for kind in _TEXT_ELEMENTS:
        parts += [str(getattr(e, "value", "")) + " " + str(getattr(e, "label", "")) for e in at.get(kind)]
    for kind in ("dataframe", "plotly_chart", "selectbox", "multiselect"):
        parts += [str(e.proto) for e in at.get(kind)]
    return "\n".join(parts)


def _visit_every_page(at: AppTest) -> AppTest:
    for page in PAGES:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
    return at


# --- tests -------------------------------------------------------------------------------------------------


def test_the_scanner_finds_a_planted_marker(examples: pd.DataFrame, tmp_path: Path) -> None:
    """Positive control: the scan below is not vacuous."""
    upload = Upload(examples)
    since = time.time() - 1
    planted = tmp_path / "planted.bin"
    planted.write_bytes(b"xx" + struct.pack("<d", upload.floats[100]) + upload.sample.encode())
    hits = scan_files([tmp_path], since, upload.needles())
    assert set(hits[str(planted)]) == {"sample name", "value 100 (float64)"}


def test_a_dashboard_visit_writes_nothing_and_logs_nothing(
    neurix: Neurix, examples: pd.DataFrame, capfd: pytest.CaptureFixture[str]
) -> None:
    upload = Upload(examples)
    needles = upload.needles()
    _app("home")  # page scripts compiled and the model warm before watching: only the visit is measured
    since = time.time() - 1
    with WriteWatcher.get().watching() as writes, all_logs_at_debug() as logs:
        at = _upload(_app(), upload.filename, upload.data)
        profile = at.session_state[widgets.PROFILE_KEY]
        assert profile.samples == [upload.sample], "the marked upload was used"
        assert upload.sample in _shown(at), "positive control: the session itself shows the sample"
        _visit_every_page(at)
        report = at.session_state["neurix_report_preview"]
    out, err = capfd.readouterr()
    assert writes == [], f"the visit opened files for writing: {writes[:10]}"
    assert scan_files(scan_roots(), since, needles) == {}
    leaked = [text for text in logs.texts if find_needles(text.encode(), needles)]
    assert leaked == [], leaked[:3]
    assert find_needles((out + err).encode(), needles) == []
    values_in_report = [s for s in upload.value_strings if s in report]
    assert values_in_report == [], "the HTML report must hold no input values"


def test_two_sessions_never_share_an_upload(examples: pd.DataFrame) -> None:
    first, second = Upload(examples, 0), Upload(examples, 1)
    a = _upload(_app(), first.filename, first.data)
    b = _app()
    assert widgets.PROFILE_KEY not in b.session_state and widgets.RESULTS_KEY not in b.session_state
    _visit_every_page(b)  # B on every page, with nothing loaded
    assert first.sample not in _shown(b)
    b.switch_page("views/predict.py").run()
    b = _upload(b, second.filename, second.data)
    assert b.session_state[widgets.PROFILE_KEY].samples == [second.sample]
    _visit_every_page(b)
    assert first.sample not in _shown(b)
    results_b = b.session_state[widgets.RESULTS_KEY]
    assert all(first.sample not in p.samples for p in results_b.values())
    # A is untouched by B's upload, also after a rerun
    a.run()
    assert a.session_state[widgets.PROFILE_KEY].samples == [first.sample]
    assert second.sample not in _shown(a)


def test_nothing_process_wide_keeps_a_session_profile_alive(examples: pd.DataFrame) -> None:
    """When a session is gone its profile is garbage: no global cache (st.cache_data/resource, module
    globals, the shared Neurix) holds on to uploaded data."""
    upload = Upload(examples)
    at = _upload(_app(), upload.filename, upload.data)
    _visit_every_page(at)
    ref = weakref.ref(at.session_state[widgets.PROFILE_KEY])
    predictions = weakref.ref(at.session_state[widgets.PROFILE_KEY].predictions)
    del at
    gc.collect()
    assert ref() is None and predictions() is None, "something outside the session keeps the upload alive"


# --- error messages never echo cell content ----------------------------------------------------------------


def _tpm_table(genes: list[str], cells: list[str], sep: str = ",", header: str = "gene") -> bytes:
    lines = [f"{header}{sep}S1"] + [f"{g}{sep}{c}" for g, c in zip(genes, cells, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def _bad_files(genes: list[str]) -> dict[str, tuple[bytes, str, list[str], str]]:
    """name → (file bytes, --values, secrets that must not be echoed, expected words in the message)."""
    cells = [f"{x:.3f}" for x in np.random.default_rng(7).gamma(2.0, 20.0, len(genes))]
    files: dict[str, tuple[bytes, str, list[str], str]] = {}
    text = list(cells)
    text[10] = "SECRETCELL4242"
    files["text_cell"] = (_tpm_table(genes, text), "auto", ["SECRETCELL4242", cells[9], cells[11]], "text")
    code = list(cells)
    code[11] = "-98765.4321"
    files["missing_code"] = (_tpm_table(genes, code), "auto", ["98765.4321", cells[12]], "negative")
    files["negative_counts"] = (_tpm_table(genes, code), "counts", ["98765.4321"], "negative")
    inf = list(cells)
    inf[12] = "1e999"
    files["infinite"] = (_tpm_table(genes, inf), "auto", ["1e999", cells[13]], "infinite")
    ragged = _tpm_table(genes, cells).decode().splitlines()
    ragged[20] += ",31415.9265"
    files["extra_field"] = (("\n".join(ragged) + "\n").encode(), "auto", ["31415.9265", cells[19]], "fields")
    few = b"gene,S1\nTP53,27182.8182\nEGFR,16180.3398\nMYC,14142.1356\n"
    files["too_few_genes"] = (few, "auto", ["27182.8182", "16180.3398", "14142.1356"], "at least 50%")
    semicolon = [c.replace(".", ",") for c in cells]  # European Excel export: ';' and decimal commas
    semicolon[30] = "SECRETSEMICOLON77"
    files["decimal_comma_text"] = (
        _tpm_table(genes, semicolon, sep=";"),
        "auto",
        ["SECRETSEMICOLON77", semicolon[29]],
        "text",
    )
    frame = pd.DataFrame({"gene": genes, "S1": [float(c) for c in cells]}, dtype=object)
    frame.loc[40, "S1"] = "SECRETXLSXCELL99"
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    files["xlsx_text_cell"] = (buffer.getvalue(), "auto", ["SECRETXLSXCELL99"], "text")
    return files


@pytest.fixture(scope="module")
def bad_files(neurix: Neurix) -> dict[str, tuple[bytes, str, list[str], str]]:
    return _bad_files(list(neurix.bundle.genes))


@pytest.mark.parametrize(
    "case",
    [
        "text_cell",
        "missing_code",
        "negative_counts",
        "infinite",
        "extra_field",
        "too_few_genes",
        "decimal_comma_text",
        "xlsx_text_cell",
    ],
)
def test_cli_errors_do_not_echo_cell_values(
    case: str,
    bad_files: dict[str, tuple[bytes, str, list[str], str]],
    neurix: Neurix,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, values, secrets, expected = bad_files[case]
    path = tmp_path / (f"{case}.xlsx" if case.startswith("xlsx") else f"{case}.csv")
    path.write_bytes(data)
    # the already loaded model: no bundle load per case
    monkeypatch.setattr(Neurix, "load", classmethod(lambda cls, bundle_dir=None: neurix))
    code = cli.main(["predict", "--input", str(path), "--values", values, "--out", str(tmp_path / "p.csv")])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "neurix: error:" in err and expected.lower() in err.lower(), err
    echoed = [s for s in secrets if s in out + err]
    assert echoed == [], f"the message echoes cell content {echoed}: {err}"
    assert not (tmp_path / "p.csv").exists()


def test_cli_success_output_holds_no_values(
    neurix: Neurix,
    examples: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the CLI prints on success (coverage, detected format, warnings) names no values."""
    upload = Upload(examples)
    path = tmp_path / upload.filename
    path.write_bytes(upload.data)
    monkeypatch.setattr(Neurix, "load", classmethod(lambda cls, bundle_dir=None: neurix))
    assert cli.main(["predict", "--input", str(path), "--out", str(tmp_path / "p.csv")]) == 0
    out, err = capsys.readouterr()
    assert "written to" in err
    assert [s for s in upload.value_strings if s in out + err] == []


@pytest.mark.parametrize("case", ["text_cell", "missing_code", "infinite", "extra_field", "xlsx_text_cell"])
def test_dashboard_errors_do_not_echo_cell_values(
    case: str, bad_files: dict[str, tuple[bytes, str, list[str], str]]
) -> None:
    data, _, secrets, expected = bad_files[case]
    at = _upload(_app(), f"{case}.{'xlsx' if case.startswith('xlsx') else 'csv'}", data)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and expected.lower() in errors[0].lower(), errors
    assert [s for s in secrets if s in _shown(at)] == []
