"""Optional access control: with an [auth] section every visitor must sign in before any page renders."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

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
    from dashboard import auth

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
