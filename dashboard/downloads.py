"""Downloads generated on click stay downloadable on a busy server (a work-around for Streamlit 1.67).

Why: a download button whose ``data`` is a callable builds its file only when clicked (Neurix's per-sample CSV,
top-genes CSV and all-samples CSV: building them for every upload was ~8 % of its CPU). Streamlit stores the
generated file without any session reference, and the clean-up that ends every script run of *any* session
marks unreferenced files on its first pass and deletes them on its second. On a shared server, two other
sessions finishing a run between the click and the browser's GET of the file is enough for a 404: in the load
test (20 simultaneous sessions) 11 of 25 downloads failed. ``keep_generated_downloads`` makes the generated file
a reference of the session that clicked, under the button's position, so it lives exactly as long as an
ordinary download button's file: until that session's next run, then two clean-up passes.
"""

from __future__ import annotations

import functools
from pathlib import PurePosixPath

GENERATED_SUFFIX = "#generated"  # the reference's key: the button's position plus this suffix


def keep_generated_downloads() -> bool:
    """Install the fix once per process (idempotent); True when it is in place."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    original = MediaFileManager.execute_deferred
    if getattr(original, "keeps_generated_file", False):
        return True

    @functools.wraps(original)
    def execute_deferred(self: MediaFileManager, file_id: str) -> str:
        with self._lock:  # noqa: SLF001 - the manager's own bookkeeping, read as Streamlit does
            entry = self._deferred_callables.get(file_id)  # noqa: SLF001
        url = original(self, file_id)
        generated = PurePosixPath(url).stem  # "/media/<file id>.csv"
        if entry is not None:
            with self._lock:  # noqa: SLF001
                if generated in self._file_metadata:  # noqa: SLF001 - else Streamlit changed: its own behaviour
                    references = self._files_by_session_and_coord[entry["session_id"]]  # noqa: SLF001
                    references[entry["coordinates"] + GENERATED_SUFFIX] = generated
        return url

    execute_deferred.keeps_generated_file = True  # type: ignore[attr-defined]
    MediaFileManager.execute_deferred = execute_deferred  # type: ignore[method-assign]
    return True
