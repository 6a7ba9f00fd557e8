"""Resource limits of a shared deployment: every limit is documented here and tested at its boundary.

One Streamlit process serves every user of a lab, so one upload must not be able to exhaust memory or CPU for
the others, and every refusal must be a one-sentence message a user can act on (``LimitExceededError``, a
``ProfileError``), never a stack trace.

=============================  ==================  =========================================================
limit                          value               where it is enforced
=============================  ==================  =========================================================
upload size                    50 MiB              ``.streamlit/config.toml`` ``server.maxUploadSize`` (the
                                                   browser widget and HTTP 413 in Streamlit's upload route)
                                                   = ``ProfileLimits.max_bytes`` (the parser; the dashboard
                                                   reads the config value, so they cannot drift apart)
samples per upload             200                 ``ProfileLimits.max_samples`` (either orientation)
gene rows/columns per upload   100,000             ``ProfileLimits.max_genes``
gzip decompressed size         4 × upload (200 MiB) ``readers.grid._check_gzip``, measured before parsing
                               and 20 × compressed (every gzip member; a gzip inside is never unpacked)
xlsx unpacked size             5 × upload (250 MiB) ``readers.grid._read_xlsx`` (zip bombs, declared sizes)
                               and 100 × compressed
rows / fields / cells          100,064 / 100,064   ``readers.bounds.RowBounds``: checked row by row while
                               / 5,000,000         reading, so junk is refused at the first row too many
one csv field                  128 kB              Python's ``csv`` field limit → ProfileError
drugs explained per request    12                  Explain and Report pages (``max_selections``)
cached results per session     4 profiles, 40      ``widgets.MAX_RESULTS`` / ``widgets.MAX_EXPLANATIONS``
                               drug explanations   (LRU in ``st.session_state``)
session data after disconnect  120 s               Streamlit default ``server.disconnectedSessionTTL``
compute time per request       none                no timeout exists in Streamlit, the dashboard or the API;
                                                   the limits above bound it instead (measured below: the
                                                   largest allowed upload of model genes parses and predicts
                                                   in a few seconds on 2 cores)
=============================  ==================  =========================================================

Concurrent parses are admitted by ``neurix_core.admission.PARSING`` (two small or one large at a time) and
uploads held in memory are budgeted per session and per process by ``dashboard/guard.py``
(``tests/test_server_guard.py``). The API/CLI ``explain`` work is capped at 2,000 (sample, drug) pairs.
"""

from __future__ import annotations

import gzip
import io
import sys
import time
import tomllib
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
import streamlit
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import widgets  # noqa: E402
from neurix_core.api import Neurix  # noqa: E402
from neurix_core.errors import LimitExceededError, ProfileError  # noqa: E402
from neurix_core.io.profile import ProfileLimits, parse_profile  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
CONFIG = ROOT / ".streamlit" / "config.toml"
MIB = 2**20
DEFAULT = ProfileLimits()
WORST_CASE_BUDGET_S = 60.0  # the largest allowed upload of model genes (200 samples): parse + predict


@pytest.fixture(scope="module")
def genes(neurix: Neurix) -> list[str]:
    return list(neurix.bundle.genes)


def _table(genes: list[str], n_samples: int, seed: int = 0) -> bytes:
    """genes × samples TPM-like CSV."""
    values = np.random.default_rng(seed).gamma(0.6, 40.0, (len(genes), n_samples))
    frame = pd.DataFrame(
        values, index=pd.Index(genes, name="gene"), columns=[f"S{i}" for i in range(n_samples)]
    )
    return frame.to_csv(float_format="%.2f").encode()


def _app(page: str = "predict") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page(f"views/{page}.py")
    return at.run()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return at.run()


# --- deployment configuration ------------------------------------------------------------------------------


def test_upload_cap_is_the_same_in_config_widget_and_parser() -> None:
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] * MIB == DEFAULT.max_bytes == 50 * MIB
    assert widgets.profile_limits() == DEFAULT


def test_deployment_settings_that_limit_exposure() -> None:
    """The shipped config keeps the protections a shared server needs (and does not switch others on)."""
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    server, client = config["server"], config["client"]
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert client["showErrorDetails"] == "none", "tracebacks could echo uploaded values"
    assert not server.get("enableStaticServing", False)
    assert not server.get("enableAgentApi", False), "the agent API would expose sessions over plain HTTP"
    assert server.get("fileWatcherType") == "none" and server.get("runOnSave") is False
    assert config["logger"]["level"] in ("warning", "error"), "debug logging must stay off in production"
    assert config["browser"]["gatherUsageStats"] is False
    assert "disconnectedSessionTTL" not in server  # the documented 120 s default applies
    assert streamlit.config.get_option("server.disconnectedSessionTTL") == 120


# --- upload size -------------------------------------------------------------------------------------------


def test_bytes_over_the_cap_are_refused_with_a_readable_message() -> None:
    with pytest.raises(
        LimitExceededError, match=r"^The file is 51\.0 MiB, more than the 50\.0 MiB allowed: upload"
    ):
        parse_profile(b"a" * (51 * MIB), "big.csv")
    with pytest.raises(LimitExceededError, match="allowed"):
        parse_profile(b"a" * (DEFAULT.max_bytes + 1), "big.csv")


def test_the_size_cap_boundary(genes: list[str]) -> None:
    data = _table(genes[:300], 1)
    assert parse_profile(data, "p.csv", limits=ProfileLimits(max_bytes=len(data))).expression.shape[0] == 1
    with pytest.raises(LimitExceededError):
        parse_profile(data, "p.csv", limits=ProfileLimits(max_bytes=len(data) - 1))


def test_the_dashboard_takes_its_cap_from_the_config(
    genes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``server.maxUploadSize`` = 1 MiB the widget announces 1 MiB and the parser refuses 1.5 MiB with a
    readable message (so the dashboard path enforces whatever the deployment configures)."""
    original = streamlit.get_option
    monkeypatch.setattr(
        streamlit, "get_option", lambda name: 1 if name == "server.maxUploadSize" else original(name)
    )
    at = _app()
    assert at.file_uploader[0].proto.max_upload_size_mb == 1
    at = _upload(at, "big.csv", b"gene,S1\n" + b"TP53,1.0\n" * (MIB * 3 // 2 // 9))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "more than the 1.0 MiB allowed" in errors[0], errors
    assert widgets.PROFILE_KEY not in at.session_state


@pytest.fixture(scope="module")
def server(load_test: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real ``streamlit run dashboard/app.py`` with the shipped config."""
    with load_test.StreamlitServer(tmp_path_factory.mktemp("server") / "server.log") as running:
        yield running


def test_the_server_refuses_oversize_uploads_before_the_app_sees_them(
    server: Any, load_test: ModuleType
) -> None:
    """Streamlit's upload route answers 413 above ``server.maxUploadSize``, by Content-Length and while
    streaming a chunked body; uploads need the XSRF token and a live session."""
    tab = load_test.BrowserSession(server.base_url)
    try:
        tab.connect()
        tab.open_session("predict")
        url = tab.request_upload_url("big.csv").upload_url
        assert tab.put(url, "big.csv", b"a" * (DEFAULT.max_bytes + 1)).status_code == 413
        boundary = "neurixboundary"

        def chunked() -> Iterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            for _ in range(DEFAULT.max_bytes // MIB + 2):
                yield b"a" * MIB
            yield f"\r\n--{boundary}--\r\n".encode()

        response = tab.http.put(
            server.base_url + tab.request_upload_url("big2.csv").upload_url,
            data=chunked(),  # no Content-Length: only the streaming cap can stop it
            headers={
                "X-Xsrftoken": tab.xsrf,
                "Origin": server.base_url,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            timeout=60,
        )
        assert response.status_code == 413
        small = tab.request_upload_url("small.csv").upload_url
        assert tab.put(small, "small.csv", b"gene,S1\nTP53,1\n").status_code == 204
        no_token = requests.put(server.base_url + small, files={"file": ("x.csv", b"x")}, timeout=30)
        assert no_token.status_code == 403, "uploads without the XSRF token are refused"
        unknown = tab.http.put(
            server.base_url + "/_stcore/upload_file/no-such-session/f",
            files={"file": ("x.csv", b"x")},
            headers={"X-Xsrftoken": tab.xsrf},
            timeout=30,
        )
        assert unknown.status_code == 400, "uploads into a session that does not exist are refused"
    finally:
        tab.close()


def test_the_agent_api_is_off(server: Any) -> None:
    """Streamlit 1.67's experimental agent API (drive sessions over plain HTTP) stays off in the deployment."""
    response = requests.post(server.base_url + "/_stcore/agent/interact", json={}, timeout=30)
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_available"


# --- samples and genes -------------------------------------------------------------------------------------


def test_too_many_samples_are_refused(genes: list[str]) -> None:
    data = _table(genes[:60], DEFAULT.max_samples + 1)
    with pytest.raises(
        LimitExceededError, match=r"The file has 201 samples; at most 200 can be scored at once"
    ):
        parse_profile(data, "wide.csv", known_genes=genes)
    transposed = pd.read_csv(io.BytesIO(data), index_col=0).T.rename_axis("sample").to_csv().encode()
    with pytest.raises(LimitExceededError, match=r"at most 200 can be scored at once"):
        parse_profile(transposed, "tall.csv", known_genes=genes)


def test_the_sample_limit_boundary(genes: list[str]) -> None:
    limits = ProfileLimits(max_samples=3)
    assert (
        parse_profile(_table(genes[:60], 3), "p.csv", limits=limits, known_genes=genes).expression.shape[0]
        == 3
    )
    with pytest.raises(LimitExceededError, match="4 samples; at most 3"):
        parse_profile(_table(genes[:60], 4), "p.csv", limits=limits, known_genes=genes)


def test_the_dashboard_refuses_too_many_samples(genes: list[str]) -> None:
    at = _upload(_app(), "cohort.csv", _table(genes[:60], DEFAULT.max_samples + 1))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "at most 200 can be scored at once" in errors[0], errors
    assert not at.exception


def test_too_many_genes_are_refused() -> None:
    rows = "\n".join(f"ENSG{i:011d},{i % 97}.5" for i in range(DEFAULT.max_genes + 1))
    with pytest.raises(LimitExceededError, match=r"The file has 100,001 genes; at most 100,000 are allowed"):
        parse_profile(f"gene,S1\n{rows}\n".encode(), "long.csv")
    labels = ",".join(f"ENSG{i:011d}" for i in range(DEFAULT.max_genes + 1))
    values = ",".join("1.5" for _ in range(DEFAULT.max_genes + 1))
    with pytest.raises(LimitExceededError, match="100,001 genes"):
        parse_profile(f"sample,{labels}\nS1,{values}\n".encode(), "wide.csv")


def test_the_gene_limit_boundary(genes: list[str]) -> None:
    limits = ProfileLimits(max_genes=50)
    assert parse_profile(_table(genes[:50], 1), "p.csv", limits=limits).n_input_genes == 50
    with pytest.raises(LimitExceededError, match="51 genes; at most 50"):
        parse_profile(_table(genes[:51], 1), "p.csv", limits=limits)


# --- compressed inputs -------------------------------------------------------------------------------------


def _gzip_of_zeros(size: int) -> bytes:
    """A gzip stream that inflates to ``size`` bytes of '0' (built in 1 MiB pieces: ~1000× compression)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31 = gzip container
    chunk = b"0" * MIB
    parts = [packer.compress(chunk) for _ in range(size // MIB)]
    parts += [packer.compress(b"0" * (size % MIB)), packer.flush()]
    return b"".join(parts)


@pytest.fixture(scope="module")
def default_bomb() -> bytes:
    """Built once per module: compressing 201 MiB of zeros takes seconds."""
    return _gzip_of_zeros(4 * DEFAULT.max_bytes + MIB)


def test_a_gzip_bomb_is_refused_at_the_default_limit(default_bomb: bytes) -> None:
    bomb = default_bomb
    assert len(bomb) < DEFAULT.max_bytes // 100, "the bomb itself is small: the upload cap cannot catch it"
    with pytest.raises(LimitExceededError, match=r"unpacks to more than 20 times its compressed size"):
        parse_profile(bomb, "tumour.csv.gz")


def test_a_gzip_bomb_is_measured_without_keeping_its_output(default_bomb: bytes) -> None:
    """The ratio/size check inflates in 1 MiB pieces and keeps nothing: memory stays flat whatever the bomb."""
    bomb = default_bomb
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError):
            parse_profile(bomb, "tumour.csv.gz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MIB


def test_a_bomb_in_a_later_gzip_member_is_refused() -> None:
    """gzip reads concatenated members as one file, so every member counts towards the limits."""
    small = gzip.compress(b"gene,S1\nTP53,1.5\n")
    with pytest.raises(LimitExceededError):
        parse_profile(small + _gzip_of_zeros(100 * MIB), "tumour.csv.gz")


def test_a_sparse_count_table_is_within_the_ratio(genes: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Real tables, even mostly zeros, compress far less than 20×; the ratio applies here from the first byte."""
    from neurix_core.io.readers import grid

    monkeypatch.setattr(grid, "RATIO_FLOOR", 0)
    counts = "\n".join(f"{g},{i % 5 // 4},{i % 3 // 2},1" for i, g in enumerate(genes))  # mostly zeros
    data = gzip.compress(f"gene,S1,S3,S4\n{counts}\n".encode())
    assert parse_profile(data, "p.csv.gz", values="counts").n_input_genes == len(genes)
    with pytest.raises(LimitExceededError, match="20 times"):
        parse_profile(_gzip_of_zeros(2 * MIB), "p.csv.gz")


def test_reading_stops_at_the_first_row_beyond_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """46 MiB of text junk is refused after the first row too many, not after building the whole table."""
    from neurix_core.io.readers import bounds

    seen: list[int] = []
    original = bounds.RowBounds.add

    def counting(self: bounds.RowBounds, n_fields: int, line: int) -> None:
        seen.append(line)
        original(self, n_fields, line)

    monkeypatch.setattr(bounds.RowBounds, "add", counting)
    limits = ProfileLimits(max_genes=1_000, max_samples=20)
    junk = b"lorem ipsum dolor sit amet consectetur\n" * 1_300  # near the limit: the exact check decides
    with pytest.raises(LimitExceededError, match="rows"):
        parse_profile(junk, "junk.txt", limits=limits)
    assert len(seen) == 1_000 + bounds.SLACK + 1
    seen.clear()
    far = b"lorem ipsum dolor sit amet consectetur\n" * 200_000  # far beyond: refused before reading a row
    with pytest.raises(LimitExceededError, match="about 200,000 lines"):
        parse_profile(far, "junk.txt", limits=limits)
    assert seen == []
    wide = b",".join([b"x"] * 5_000) + b"\n" + b"1,2\n" * 10
    with pytest.raises(LimitExceededError, match="Line 1 has more than"):
        parse_profile(wide, "wide.csv", limits=limits)


def test_the_cell_limit_bounds_any_shape(genes: list[str]) -> None:
    limits = ProfileLimits(max_cells=10_000)
    with pytest.raises(LimitExceededError, match="more than 10,000 values"):  # exact, while reading
        parse_profile(_table(genes[:2000], 4), "p.csv", limits=limits)
    with pytest.raises(LimitExceededError, match="about 4,001 lines of 5 field"):  # estimated, before reading
        parse_profile(_table(genes[:4000], 4), "p.csv", limits=limits)
    with pytest.raises(LimitExceededError, match="about 4,001 lines of 5 field"):  # the same inside gzip
        parse_profile(gzip.compress(_table(genes[:4000], 4)), "p.csv.gz", limits=limits)
    assert parse_profile(_table(genes[:1000], 4), "p.csv", limits=limits).n_input_genes == 1000


def test_the_gzip_limit_boundary(genes: list[str]) -> None:
    limits = ProfileLimits(max_bytes=MIB)
    table = _table(genes[:2000], 1)
    assert len(table) < 2 * MIB  # a valid file that inflates to well below the 4 MiB ceiling
    assert parse_profile(gzip.compress(table), "p.csv.gz", limits=limits).n_input_genes == 2000
    with pytest.raises(LimitExceededError, match=r"larger than 4\.0 MiB"):
        parse_profile(_gzip_of_zeros(4 * MIB + 1), "p.csv.gz", limits=limits)


def test_gzip_is_unpacked_once_not_recursively() -> None:
    """A gzip inside a gzip stays compressed (binary) after one pass: refused as not a table, not inflated."""
    nested = gzip.compress(_gzip_of_zeros(50 * MIB))
    with pytest.raises(ProfileError, match="not a text table") as error:
        parse_profile(nested, "nested.csv.gz")
    assert not isinstance(error.value, LimitExceededError)


def test_a_damaged_gzip_is_a_profile_error(genes: list[str]) -> None:
    data = gzip.compress(_table(genes[:500], 1))
    with pytest.raises(ProfileError, match=r"The \.gz file is damaged or incomplete"):
        parse_profile(data[: len(data) // 2], "p.csv.gz")


def test_an_xlsx_zip_bomb_is_refused() -> None:
    limits = ProfileLimits(max_bytes=MIB)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (5 * MIB + 1))
    bomb = buffer.getvalue()
    assert len(bomb) < MIB
    with pytest.raises(LimitExceededError, match="too large once unpacked"):
        parse_profile(bomb, "tumour.xlsx", limits=limits)


def test_a_giant_csv_field_is_a_profile_error() -> None:
    data = b'gene,S1\nTP53,"' + b"1" * 200_000 + b'"\nEGFR,2.0\n'
    with pytest.raises(ProfileError, match="longer than 128 kB"):
        parse_profile(data, "p.csv")


# --- work per request (there is no timeout: these caps bound it) --------------------------------------------


@pytest.mark.parametrize("page", ["explain", "report"])
def test_pages_explain_at_most_12_drugs_per_request(page: str) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.button(key="example_button").click().run()
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception and not at.error
    picker = at.multiselect[0]
    assert picker.proto.max_selections == 12
    assert len(picker.value) <= 12


def test_per_session_caches_are_bounded(genes: list[str]) -> None:
    """Uploading more profiles than the LRU holds keeps only the newest ``MAX_RESULTS`` in the session."""
    at = _app()
    for i in range(widgets.MAX_RESULTS + 2):
        at = _upload(at, f"p{i}.csv", _table(genes, 1, seed=i))
        assert not at.error, [e.value for e in at.error]
    assert len(at.session_state[widgets.RESULTS_KEY]) == widgets.MAX_RESULTS
    assert widgets.MAX_EXPLANATIONS == 40


def test_the_largest_allowed_cohort_is_processed_within_budget(neurix: Neurix, genes: list[str]) -> None:
    """200 samples (the limit) × all model genes: parse + predict, as the dashboard does per upload. Without a
    timeout, this measured worst case is the bound (printed for the deployment notes)."""
    data = _table(genes, DEFAULT.max_samples, seed=3)
    start = time.perf_counter()
    parsed = neurix.read_profile(data, "cohort.csv", limits=DEFAULT)
    predictions = neurix.predict(parsed)
    elapsed = time.perf_counter() - start
    print(
        f"\nlargest allowed cohort: {len(data) / MIB:.1f} MiB, {len(predictions):,} predictions in {elapsed:.1f} s"
    )
    assert predictions["sample"].nunique() == DEFAULT.max_samples
    assert elapsed < WORST_CASE_BUDGET_S
