"""Downloads built on click (``st.download_button(data=callable)``) stay downloadable while other sessions run.

Why: Streamlit keeps the generated file unreferenced, and the clean-up at the end of any session's script run
deletes it on its second pass; on a shared server the browser's GET then got a 404 (``dashboard/downloads.py``).
"""

from __future__ import annotations

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.media_file_storage import MediaFileKind, MediaFileStorageError
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from dashboard.downloads import keep_generated_downloads


def _manager() -> tuple[MediaFileManager, MemoryMediaFileStorage]:
    storage = MemoryMediaFileStorage("/media")
    return MediaFileManager(storage), storage


def _click(manager: MediaFileManager) -> tuple[str, str]:
    """A page run renders the button (its callable registered), then the user clicks it: the file's URL."""
    placeholder = manager.add_deferred(lambda: b"drug,z\nA,-1.5\n", "text/csv", "1.2.3", file_name="p.csv")
    return placeholder, manager.execute_deferred(placeholder)


def _other_sessions_finish_runs(manager: MediaFileManager, n: int = 2) -> None:
    for _ in range(n):
        manager.remove_orphaned_files()  # what the end of every script run of any session does


def test_streamlit_alone_deletes_a_generated_file_before_the_browser_fetches_it() -> None:
    """The bug the fix is for (if a Streamlit upgrade fixes it, this test says so and the fix can go)."""
    keep_generated_downloads()
    manager, storage = _manager()
    placeholder = manager.add_deferred(lambda: b"x", "text/csv", "1.2.3")
    url = MediaFileManager.execute_deferred.__wrapped__(manager, placeholder)  # Streamlit's own
    _other_sessions_finish_runs(manager)
    with pytest.raises(MediaFileStorageError):
        storage.get_file(url.rsplit("/", 1)[1])


def test_generated_file_lives_until_its_session_runs_again() -> None:
    assert keep_generated_downloads() and keep_generated_downloads()  # idempotent
    manager, storage = _manager()
    placeholder, url = _click(manager)
    name = url.rsplit("/", 1)[1]
    _other_sessions_finish_runs(manager, 3)
    assert storage.get_file(name).content == b"drug,z\nA,-1.5\n"
    assert storage.get_file(name).kind == MediaFileKind.DOWNLOADABLE
    second = manager.execute_deferred(placeholder)  # a second click builds it again
    assert storage.get_file(second.rsplit("/", 1)[1]).content == b"drug,z\nA,-1.5\n"
    manager.clear_session_refs()  # the session's next run (or its end) drops its references...
    _other_sessions_finish_runs(manager)
    with pytest.raises(MediaFileStorageError):  # ...and the file goes like any other download's
        storage.get_file(name)
