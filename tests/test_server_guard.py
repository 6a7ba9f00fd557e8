"""The deployment guard on a real server (``streamlit run dashboard/server.py``), spoken to like a browser.

What page-level login cannot stop, tested over HTTP: the metrics endpoint, uploads from sessions that never
signed in, uploads beyond a session's and the process's memory budget, and closed tabs' uploads outliving the
session TTL. One server per configuration, started once per module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20
AUTH_TOML = """[auth]
redirect_uri = "http://127.0.0.1/oauth2callback"
cookie_secret = "a-test-cookie-secret-that-is-long-enough-0123456789"
client_id = "neurix-test"
client_secret = "not-a-secret"
server_metadata_url = "https://idp.invalid/.well-known/openid-configuration"
"""


@pytest.fixture(scope="module")
def open_server(load_test: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """No login configured; 1 MiB upload cap (budgets: 2 MiB per session); sessions expire 1 s after closing."""
    log = tmp_path_factory.mktemp("guard") / "server.log"
    args = ["--server.maxUploadSize", "1", "--server.disconnectedSessionTTL", "1"]
    with load_test.StreamlitServer(log, extra_args=args) as server:
        yield server


@pytest.fixture(scope="module")
def login_server(load_test: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("guard_login")
    secrets = folder / "secrets.toml"
    secrets.write_text(AUTH_TOML, encoding="utf-8")
    with load_test.StreamlitServer(
        folder / "server.log", extra_args=["--secrets.files", str(secrets)]
    ) as server:
        yield server


def _session(load_test: ModuleType, server: Any) -> Any:
    client = load_test.BrowserSession(server.base_url, timeout=60)
    client.connect()
    client.open_session("predict")
    return client


def _put(client: Any, size: int) -> requests.Response:
    urls = client.request_upload_url("p.csv")
    return client.put(urls.upload_url, "p.csv", b"x" * size)


def test_metrics_are_closed_to_visitors_and_open_to_the_monitoring_token(open_server: Any) -> None:
    url = open_server.base_url + "/_stcore/metrics"
    assert requests.get(url, timeout=10).status_code == 404
    wrong = {"Authorization": "Bearer " + "x" * 43}
    assert requests.get(url, headers=wrong, timeout=10).status_code == 404
    assert "active_sessions" in " ".join(open_server.metrics())


def test_uploads_are_budgeted_per_session(load_test: ModuleType, open_server: Any) -> None:
    client = _session(load_test, open_server)
    try:
        assert _put(client, 900 * 1024).status_code == 204
        assert _put(client, 900 * 1024).status_code == 204
        third = _put(client, 900 * 1024)
        assert third.status_code == 429, "a session holds at most two upload-size caps"
        other = _session(load_test, open_server)  # the budget is per session: another tab is unaffected
        try:
            assert _put(other, 900 * 1024).status_code == 204
        finally:
            other.close()
    finally:
        client.close()


def test_a_closed_tabs_uploads_are_released_after_the_ttl(load_test: ModuleType, open_server: Any) -> None:
    client = _session(load_test, open_server)
    assert _put(client, 512 * 1024).status_code == 204
    client.close()  # the tab closes; no other session connects afterwards

    def held() -> float:
        return sum(v for k, v in open_server.metrics().items() if "UploadedFileManager" in k)

    deadline = time.monotonic() + 40  # TTL 1 s + one reaper period (10 s), generously
    while held() > 0 and time.monotonic() < deadline:
        time.sleep(1)
    assert held() == 0


def test_a_closed_tabs_download_files_are_released_after_the_ttl(
    load_test: ModuleType, open_server: Any, examples: Any
) -> None:
    """The predictions CSV (built on click) goes with the session, although no other session runs a page
    afterwards (Streamlit deletes an unreferenced download file only on its second clean-up pass)."""
    profile = load_test.make_profiles(examples, 1, "guard")[0]
    tab = load_test.BrowserSession(open_server.base_url, timeout=120)
    tab.connect()
    page = tab.run(page="predict")
    shown = tab.run(
        widgets=[tab.upload(page.elements("file_uploader")[0].id, profile.filename, profile.data)]
    )
    button = next(b for label, b in shown.download_buttons().items() if "this sample" in label)
    url = open_server.base_url + tab.download_url(button)
    assert profile.sample.encode() in tab.fetch(url)
    assert profile.sample.encode() in tab.fetch(url)  # still there for a second GET (a retried download)
    tab.close()  # no other session connects or runs a page afterwards

    def status() -> int:
        return requests.get(url, timeout=10).status_code

    deadline = time.monotonic() + 40  # TTL 1 s + one reaper period (10 s), generously
    while status() == 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert status() == 404


def test_a_session_that_has_not_signed_in_cannot_upload(load_test: ModuleType, login_server: Any) -> None:
    client = _session(load_test, login_server)
    try:
        refused = _put(client, 1024)
        assert refused.status_code == 403
        assert "sign in" in refused.text
    finally:
        client.close()
    url = login_server.base_url + "/_stcore/metrics"
    assert requests.get(url, timeout=10).status_code == 404
    assert "upload refused (403)" in Path(login_server.log_path).read_text()


def test_without_the_guard_a_login_server_fails_closed(
    load_test: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``streamlit run dashboard/app.py`` with login configured: the error page only, for everyone."""
    from dashboard.auth import CLOSED_MESSAGE

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(AUTH_TOML, encoding="utf-8")
    args = ["--secrets.files", str(secrets)]
    with load_test.StreamlitServer(
        tmp_path / "server.log", args, script=ROOT / "dashboard" / "app.py"
    ) as server:
        client = load_test.BrowserSession(server.base_url, timeout=60)
        client.connect()
        try:
            result = client.run("predict")
        finally:
            client.close()
        assert any(CLOSED_MESSAGE in e for e in result.errors())
        assert "Sign in" not in result.text()
        assert "without dashboard/server.py's guard" in (tmp_path / "server.log").read_text()
