"""Access control for a shared deployment: Streamlit's built-in OIDC login when ``[auth]`` is configured.

Without a secrets file (a laptop) the dashboard stays open; with an ``[auth]`` section in
``.streamlit/secrets.toml`` every visitor signs in with the institution's identity provider and passes the optional
``[neurix]`` allow-list before any page renders, direct links such as ``/predict`` included.

Fail closed: a secrets file that exists but cannot be read or parsed, an incomplete ``[auth]`` section, an
allow-list without ``[auth]``, or ``NEURIX_REQUIRE_LOGIN=1`` without ``[auth]`` all serve an error page and nothing
else (the reason goes to the server log, never to the visitor). Streamlit reports a TOML syntax error as a
``FileNotFoundError`` subclass, the same type as "no file", so the files are checked here, not the exception type.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

LOG = logging.getLogger("neurix.dashboard.auth")
REQUIRE_LOGIN_ENV = "NEURIX_REQUIRE_LOGIN"
# What a provider needs besides [auth]'s own redirect_uri and cookie_secret (Streamlit's OIDC set-up).
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
MIN_COOKIE_SECRET = 32
CLOSED_MESSAGE = (
    "Neurix is closed because this server's login configuration is invalid. An administrator must correct "
    "it; the reason is in the server log."
)
_logged: set[str] = set()


@dataclass(frozen=True)
class LoginConfig:
    """``mode``: "open" (no login configured), "login" (OIDC required) or "closed" (misconfigured)."""

    mode: str
    reason: str = ""


def secrets_files() -> list[Path]:
    """The secrets files Streamlit reads (``secrets.files``); only existing ones count."""
    try:
        from streamlit import config

        paths = config.get_option("secrets.files") or []
    except Exception:  # noqa: BLE001 - outside a Streamlit runtime: the default locations
        paths = [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]
    return [Path(p) for p in paths if Path(p).exists()]


def login_config(secrets: Mapping | None = None, files: list[Path] | None = None) -> LoginConfig:
    """Decide open / login / closed from the secrets; any doubt is "closed"."""
    secrets = st.secrets if secrets is None else secrets
    files = secrets_files() if files is None else files
    try:
        has_auth = "auth" in secrets
        auth = secrets["auth"] if has_auth else None
        policy = secrets.get("neurix") if "neurix" in secrets else None
    except FileNotFoundError:  # Streamlit's "not found" AND "could not parse" (a subclass)
        if files:
            return LoginConfig(
                "closed", f"the secrets file {files[0].name} exists but could not be read or parsed"
            )
        has_auth, auth, policy = False, None, None
    except Exception as exc:  # noqa: BLE001 - any other failure to read secrets is a misconfiguration
        return LoginConfig("closed", f"the secrets could not be read ({type(exc).__name__})")
    if not has_auth:
        if policy is not None:
            return LoginConfig("closed", "[neurix] sets an allow-list but there is no [auth] section")
        if os.environ.get(REQUIRE_LOGIN_ENV, "").strip() not in ("", "0"):
            return LoginConfig("closed", f"{REQUIRE_LOGIN_ENV} is set but there is no [auth] section")
        return LoginConfig("open")
    problem = _auth_problem(auth) or _policy_problem(policy)
    return LoginConfig("closed", problem) if problem else LoginConfig("login")


def _filled(section: Mapping, key: str) -> bool:
    value = section.get(key)
    return isinstance(value, str) and bool(value.strip())


def _auth_problem(auth: object) -> str:
    """What is missing from [auth] (key names only, never values)."""
    if not isinstance(auth, Mapping):
        return "[auth] is not a table"
    missing = [key for key in ("redirect_uri", "cookie_secret") if not _filled(auth, key)]
    if missing:
        return f"[auth] lacks {', '.join(missing)}"
    if len(str(auth["cookie_secret"])) < MIN_COOKIE_SECRET:
        return f"[auth] cookie_secret is shorter than {MIN_COOKIE_SECRET} characters"
    providers = [auth] + [v for v in auth.values() if isinstance(v, Mapping)]
    complete = [p for p in providers if all(_filled(p, key) for key in PROVIDER_KEYS)]
    if not complete:
        return f"[auth] has no provider with all of {', '.join(PROVIDER_KEYS)}"
    return ""


def _policy_problem(policy: object) -> str:
    if policy is None:
        return ""
    if not isinstance(policy, Mapping):
        return "[neurix] is not a table"
    for key in ("allowed_emails", "allowed_domains"):
        value = policy.get(key, [])
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return f"[neurix] {key} must be a list of strings"
    return ""


def auth_configured() -> bool:
    """True when visitors must sign in (or the server is closed): the pages may then assume a signed-in user."""
    return login_config().mode != "open"


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


def session_may_upload() -> bool:
    """Uploads are accepted only where pages render: open mode, or a signed-in, allowed user."""
    state = login_config()
    if state.mode == "open":
        return True
    return state.mode == "login" and logged_in() and is_allowed(st.user.get("email"))


def closed_page(reason: str) -> None:
    """The only thing a misconfigured server shows; the reason is logged once per process, not shown."""
    if reason not in _logged:
        _logged.add(reason)
        LOG.error("Neurix is closed: login configuration invalid: %s", reason)
    st.title("Neurix")
    st.error(CLOSED_MESSAGE, icon=":material/lock:")
    st.stop()


def require_login() -> None:
    """Call before st.navigation: no page renders for anonymous or unauthorised visitors."""
    state = login_config()
    if state.mode == "open":
        return
    if state.mode == "closed":
        closed_page(state.reason)
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
    if login_config().mode == "login" and logged_in():
        st.button("Sign out", on_click=st.logout, key="sign_out")
