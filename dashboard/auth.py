"""Access control for a shared deployment: Streamlit's built-in OIDC login when ``[auth]`` is configured.

Without an ``[auth]`` section in ``.streamlit/secrets.toml`` (a laptop) the dashboard stays open; with it, every
visitor signs in with the institution's identity provider and passes the optional ``[neurix]`` allow-list before any
page renders, direct links such as ``/predict`` included.
"""

from __future__ import annotations

import streamlit as st


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml (StreamlitSecretNotFoundError subclasses it)
        return False


def is_allowed(email: str | None) -> bool:
    """Allow-list by e-mail address or domain; an empty list allows every signed-in user."""
    policy = st.secrets.get("neurix", {})
    emails = {str(e).lower() for e in policy.get("allowed_emails", [])}
    domains = {str(d).lower().lstrip("@") for d in policy.get("allowed_domains", [])}
    if not emails and not domains:
        return True
    address = (email or "").lower()
    return address in emails or address.rpartition("@")[2] in domains


def logged_in() -> bool:
    return bool(st.user.get("is_logged_in", False))  # absent outside a real server session: not logged in


def require_login() -> None:
    """Call before st.navigation: no page renders for anonymous or unauthorised visitors."""
    if not auth_configured():
        return
    if not logged_in():
        st.title("Neurix")
        st.info("Sign in with your institutional account to use Neurix.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    if not is_allowed(st.user.get("email")):
        st.error("This account is not authorised to use this Neurix server.")
        st.button("Sign out", on_click=st.logout)
        st.stop()


def sign_out_button() -> None:
    if auth_configured() and logged_in():
        st.button("Sign out", on_click=st.logout, key="sign_out")
