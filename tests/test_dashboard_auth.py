"""Optional access control: with an [auth] section every visitor must sign in before any page renders."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from streamlit import config
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

from dashboard import auth

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-not-used-for-anything",
    "client_id": "neurix-test",
    "client_secret": "not-a-secret",
    "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
}


def test_without_auth_config_the_dashboard_is_open() -> None:
    at = AppTest.from_file("../dashboard/app.py", default_timeout=60).run()
    assert not at.exception
    assert not any(b.label == "Sign in" for b in at.button)


def test_with_auth_config_anonymous_visitors_only_see_sign_in() -> None:
    at = AppTest.from_file("../dashboard/app.py", default_timeout=60)
    at.secrets["auth"] = AUTH
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert all("Predict" not in t.value for t in at.title)


def test_allow_list() -> None:
    class Secrets(dict):
        pass

    original = auth.st.secrets
    try:
        auth.st.secrets = Secrets(
            neurix={"allowed_domains": ["lab.example.org"], "allowed_emails": ["pi@x.org"]}
        )
        assert auth.is_allowed("someone@lab.example.org")
        assert auth.is_allowed("PI@x.org")
        assert not auth.is_allowed("someone@elsewhere.org")
        assert not auth.is_allowed(None)
        auth.st.secrets = Secrets()
        assert auth.is_allowed("anyone@anywhere.org")
    finally:
        auth.st.secrets = original


# --- fail closed ---------------------------------------------------------------------------------------------

MALFORMED = {
    "no_cookie_secret": {k: v for k, v in AUTH.items() if k != "cookie_secret"},
    "no_redirect_uri": {k: v for k, v in AUTH.items() if k != "redirect_uri"},
    "empty_client_secret": {**AUTH, "client_secret": "  "},
    "no_provider": {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"]},
    "short_cookie_secret": {**AUTH, "cookie_secret": "short"},
    "not_a_table": "oops",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_an_incomplete_auth_section_closes_the_server(case: str) -> None:
    state = auth.login_config({"auth": MALFORMED[case]}, files=[])
    assert state.mode == "closed"
    assert "[auth]" in state.reason
    assert "not-a-secret" not in state.reason  # key names only, never values


def test_a_named_provider_section_is_complete_too() -> None:
    provider = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    section = {
        "redirect_uri": AUTH["redirect_uri"],
        "cookie_secret": AUTH["cookie_secret"],
        "entra": provider,
    }
    assert auth.login_config({"auth": section}, files=[]).mode == "login"


def test_an_allow_list_without_auth_or_a_bad_allow_list_closes_the_server() -> None:
    assert auth.login_config({"neurix": {"allowed_domains": ["lab.org"]}}, files=[]).mode == "closed"
    bad = {"auth": AUTH, "neurix": {"allowed_domains": "lab.org"}}  # a string, not a list
    assert auth.login_config(bad, files=[]).mode == "closed"


def test_require_login_without_auth_closes_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(auth.REQUIRE_LOGIN_ENV, "1")
    assert auth.login_config({}, files=[]).mode == "closed"
    monkeypatch.setenv(auth.REQUIRE_LOGIN_ENV, "0")
    assert auth.login_config({}, files=[]).mode == "open"


def _file_secrets(monkeypatch: pytest.MonkeyPatch, path: Path) -> Secrets:
    """Streamlit's own Secrets object reading ``path`` (as ``secrets.files`` would make it)."""
    original = config.get_option

    def get_option(key: str):  # noqa: ANN202 - mirrors config.get_option
        return [str(path)] if key == "secrets.files" else original(key)

    monkeypatch.setattr(config, "get_option", get_option)
    return Secrets()


@pytest.mark.parametrize(
    "text",
    [
        '[auth]\nredirect_uri = "http://x/oauth2callback"\ncookie_secret = "a\\qb"\n',  # bad escape
        "[auth\nclient_id = 1\n",  # unclosed table
        "\xff\xfe garbage",  # not UTF-8
    ],
)
def test_a_secrets_file_that_cannot_be_parsed_closes_the_server(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.toml"
    path.write_bytes(text.encode("latin-1"))
    secrets = _file_secrets(monkeypatch, path)
    with pytest.raises((FileNotFoundError, UnicodeDecodeError)):  # TOML errors are FileNotFoundErrors too
        _ = "auth" in secrets
    state = auth.login_config(secrets)
    assert state.mode == "closed"
    assert "could not be read" in state.reason


def test_no_secrets_file_leaves_a_laptop_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = _file_secrets(monkeypatch, tmp_path / "absent.toml")
    assert auth.login_config(secrets).mode == "open"


def test_a_closed_server_serves_the_error_page_and_nothing_else(caplog: pytest.LogCaptureFixture) -> None:
    at = AppTest.from_file("../dashboard/app.py", default_timeout=60)
    at.secrets["auth"] = MALFORMED["no_cookie_secret"]
    with caplog.at_level(logging.ERROR, logger="neurix.dashboard.auth"):
        at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [auth.CLOSED_MESSAGE]
    assert not at.button and not at.get("file_uploader") and not at.sidebar.children
    assert [t.value for t in at.title] == ["Neurix"]
    assert any("cookie_secret" in r.getMessage() for r in caplog.records) or "cookie_secret" in "".join(
        auth._logged
    )


def test_the_secrets_file_is_ignored_by_git() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        ["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=root, check=False, capture_output=True
    )
    assert result.returncode == 0, ".streamlit/secrets.toml must be in .gitignore"


def test_uploads_need_a_session_that_may_see_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "login_config", lambda: auth.LoginConfig("login"))
    monkeypatch.setattr(auth, "logged_in", lambda: False)
    assert not auth.session_may_upload()
    monkeypatch.setattr(auth, "login_config", lambda: auth.LoginConfig("closed", "x"))
    monkeypatch.setattr(auth, "logged_in", lambda: True)
    assert not auth.session_may_upload()
    monkeypatch.setattr(auth, "login_config", lambda: auth.LoginConfig("open"))
    assert auth.session_may_upload()
