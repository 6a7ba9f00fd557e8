"""Server-side guard in front of Streamlit's own routes (installed by ``dashboard/server.py``).

Why: page-level login (``auth.require_login``) cannot stop requests that never run the script. Streamlit's upload
route stores any bytes PUT for a live session id, and ``/_stcore/metrics`` answers anyone. This ASGI middleware:

* closes ``/_stcore/metrics`` (404): it reveals session counts and memory to anonymous visitors; a monitoring
  system may read it with ``Authorization: Bearer $NEURIX_METRICS_TOKEN`` (set, at least 32 characters);
* accepts an upload only from a session that may see pages (signed in and allowed when login is configured;
  never while the login configuration is broken), and only within a per-session and a process-wide budget of
  upload bytes held in memory (HTTP 403 / 429 / 503 otherwise);
* runs a reaper thread that evicts sessions whose tab closed more than ``server.disconnectedSessionTTL`` ago
  and drops their uploaded files (Streamlit only expires them when another session happens to connect).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

LOG = logging.getLogger("neurix.dashboard.guard")
MIB = 2**20
UPLOAD_PATH = re.compile(r"/_stcore/upload_file/(?P<session>[^/]+)/[^/]+$")
METRICS_PATH = re.compile(r"/_stcore/metrics/?$")
SESSION_UPLOAD_FILES = 2  # upload-size caps held per session: the current file and its replacement
PROCESS_UPLOAD_FILES = 8  # upload-size caps held by the whole process at once
REAP_EVERY_S = 10.0
COALESCE_BYTES = 2 * MIB  # upload bodies reach Streamlit's parser in pieces of at least this size
METRICS_TOKEN_ENV = "NEURIX_METRICS_TOKEN"
MIN_TOKEN = 32

_installed = threading.Event()
_reserved: dict[str, int] = {}  # session id → bytes of uploads in flight (not yet stored)
_lock = threading.Lock()

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def installed() -> bool:
    """True once the middleware wraps this process's server (the app refuses login mode without it)."""
    return _installed.is_set()


def upload_cap() -> int:
    from streamlit import config

    return int(config.get_option("server.maxUploadSize")) * MIB


def _runtime() -> Any:
    from streamlit.runtime import Runtime

    return Runtime.instance()


def _held_bytes(runtime: Any) -> tuple[dict[str, int], int]:
    """Bytes of uploaded files held per session (Streamlit's in-memory upload store), and in total."""
    storage = getattr(runtime.uploaded_file_mgr, "file_storage", {})
    held = {sid: sum(len(rec.data) for rec in files.values()) for sid, files in list(storage.items())}
    return held, sum(held.values())


def _session_user(runtime: Any, session_id: str) -> dict[str, Any] | None:
    """The identity the session's websocket presented (None: no such live session)."""
    info = runtime._session_mgr.get_active_session_info(session_id)  # noqa: SLF001 - no public accessor
    if info is None:
        return None
    user = getattr(info.session, "_user_info", None)
    return dict(user) if isinstance(user, dict) else {}


def upload_refusal(session_id: str, size: int) -> tuple[int, str] | None:
    """(HTTP status, reason) when an upload of ``size`` bytes must be refused, else None."""
    from dashboard import auth

    runtime = _runtime()
    user = _session_user(runtime, session_id)
    if user is None:
        return 400, "unknown session"
    state = auth.login_config()
    if state.mode == "closed":
        return 403, "server closed: login configuration invalid"
    if state.mode == "login" and not (user.get("is_logged_in") and auth.is_allowed(user.get("email"))):
        return 403, "sign in first"
    cap = upload_cap()
    held, total = _held_bytes(runtime)
    with _lock:
        mine = held.get(session_id, 0) + _reserved.get(session_id, 0)
        everyone = total + sum(_reserved.values())
        if mine + size > SESSION_UPLOAD_FILES * cap:
            return 429, "this session holds too many uploads"
        if everyone + size > PROCESS_UPLOAD_FILES * cap:
            return 503, "the server holds too many uploads"
        _reserved[session_id] = _reserved.get(session_id, 0) + size
    return None


def _release(session_id: str, size: int) -> None:
    with _lock:
        left = _reserved.get(session_id, 0) - size
        if left > 0:
            _reserved[session_id] = left
        else:
            _reserved.pop(session_id, None)


def metrics_allowed(headers: dict[bytes, bytes]) -> bool:
    """Only with the monitoring token (constant-time comparison); never without one configured."""
    token = os.environ.get(METRICS_TOKEN_ENV, "")
    if len(token) < MIN_TOKEN:
        return False
    presented = headers.get(b"authorization", b"").decode("latin-1")
    return hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())


def _coalesced(receive: Receive, at_least: int = COALESCE_BYTES) -> Receive:
    """The request body in pieces of at least ``at_least`` bytes (the last may be smaller).

    Why: Starlette's multipart parser spools a file above 1 MiB to disk, one thread-pool call per piece it
    receives, and the server hands the body over in pieces of ~64 KiB: ~700 hand-offs between the event loop and a
    pool thread for a 45 MiB file. With 20 sessions' scripts running, each hand-off waits for the interpreter, so
    such a file took 7-12 s to arrive (0.25 s on an idle server) and delayed its refusal past 10 s.
    """

    async def coalesced_receive() -> dict[str, Any]:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return message
        parts = [message.get("body", b"")]
        size = len(parts[0])
        while size < at_least and message.get("more_body"):
            message = await receive()
            if message["type"] != "http.request":  # the client went away: the request is over
                return message
            parts.append(message.get("body", b""))
            size += len(parts[-1])
        return {"type": "http.request", "body": b"".join(parts), "more_body": bool(message.get("more_body"))}

    return coalesced_receive


async def _respond(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Pure ASGI middleware (no body buffering): checks happen before Streamlit reads an upload."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        _installed.set()
        start_reaper()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if METRICS_PATH.search(path):
            if metrics_allowed(dict(scope.get("headers", []))):
                await self.app(scope, receive, send)
            else:
                await _respond(send, 404, "Not Found")
            return
        match = UPLOAD_PATH.search(path)
        if not match or scope.get("method") != "PUT":
            await self.app(scope, receive, send)
            return
        session_id = match["session"]
        declared = dict(scope.get("headers", [])).get(b"content-length")
        size = int(declared) if declared and declared.isdigit() else upload_cap()
        refusal = upload_refusal(session_id, size)
        if refusal is not None:
            status, reason = refusal
            LOG.warning("upload refused (%s): %s", status, reason)
            await _respond(send, status, reason)
            return
        try:
            await self.app(scope, _coalesced(receive), send)
        finally:
            _release(session_id, size)


# --- release closed tabs' data on time ----------------------------------------------------------------------

_reaper: threading.Thread | None = None
_stored: dict[str, Any] = {}  # disconnected sessions seen on the previous pass: id → AppSession


def reap_once(runtime: Any | None = None) -> int:
    """Expire disconnected sessions past their TTL, shut them down properly, and drop orphaned uploads.

    Streamlit's session store expires entries only when touched, and an expired entry is simply dropped: its
    uploads and download files stay in memory. Listing the store here expires them on time, and each session
    that vanished while disconnected is shut down (uploads, media files, caches released). Returns the number
    of sessions released. Safe to call from the reaper thread at any time.
    """
    runtime = runtime or _runtime()
    manager = runtime._session_mgr  # noqa: SLF001 - the expiry needs the manager's own store
    listed = manager.list_sessions()  # listing expires entries older than the TTL
    known = {info.session.id for info in listed}
    released = 0
    for sid, session in list(_stored.items()):
        if sid not in known:
            _stored.pop(sid, None)
            try:
                session.shutdown()
            except Exception as exc:  # noqa: BLE001 - the next step still drops the uploads
                LOG.warning("shutting down an expired session failed: %s", type(exc).__name__)
            released += 1
    _stored.clear()
    _stored.update({info.session.id: info.session for info in listed if info.client is None})
    storage = getattr(runtime.uploaded_file_mgr, "file_storage", {})
    for sid in [sid for sid in list(storage) if sid not in known]:
        runtime.uploaded_file_mgr.remove_session_files(sid)
        released += 1
    media = runtime.media_file_mgr
    # a session that expired between two passes was dropped without a shutdown: its download files stay referenced
    stale = [sid for sid in list(getattr(media, "_files_by_session_and_coord", {})) if sid not in known]
    for sid in stale:
        media.clear_session_refs(sid)
    released += len(stale)
    if released:
        # Streamlit marks an unreferenced download file on a clean-up pass and deletes it on the next, and a
        # session's shutdown runs only one: the last tab's files stayed until someone else ran a page
        for _ in range(2):
            media.remove_orphaned_files()
        gc.collect()
        _malloc_trim()
    return released


def _malloc_trim() -> None:
    """Give freed heap pages back to the OS (glibc), so memory figures fall when sessions end."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reap_forever() -> None:
    while True:
        time.sleep(REAP_EVERY_S)
        try:
            reap_once()
        except Exception as exc:  # noqa: BLE001 - the reaper must never die; the next pass retries
            LOG.warning("session reaper pass failed: %s", type(exc).__name__)


def start_reaper() -> None:
    global _reaper
    if _reaper is None:
        _reaper = threading.Thread(target=_reap_forever, name="neurix-session-reaper", daemon=True)
        _reaper.start()
