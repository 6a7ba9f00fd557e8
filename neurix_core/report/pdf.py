"""PDF rendering of the report with WeasyPrint: no browser needed on the server.

The HTML template (``neurix_core.report.html``) carries the print CSS (page size, running header, page numbers,
no split rows); WeasyPrint lays it out and writes vector text and SVG. Its log messages are silenced while it
runs: they are about CSS and fonts, and a report's content must never reach a log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from neurix_core.errors import NeurixError

_QUIET_LOGGERS = ("weasyprint", "weasyprint.progress", "fontTools", "fontTools.subset")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.propagate = propagate


def pdf_available() -> bool:
    """Whether WeasyPrint is installed (checked without importing it: its first import probes the system's
    libraries through subprocesses and temporary files, which ``load_renderer`` does once at start-up)."""
    import importlib.util

    return importlib.util.find_spec("weasyprint") is not None


def load_renderer() -> bool:
    """Import WeasyPrint and the Pango libraries now (a server calls this at start-up, not during a user's
    visit); False when PDF rendering is unavailable on this machine."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def render_pdf(report_html: str) -> bytes:
    """The PDF bytes of a report built by ``build_report`` (no network access: everything is inline)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the system's Pango libraries are missing
        raise NeurixError(
            "PDF reports need WeasyPrint and the Pango libraries (apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0); download the HTML report instead"
        ) from exc
    with _quiet():
        return HTML(string=report_html, url_fetcher=_no_fetch).write_pdf()


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict:
    """Reports are self-contained: refuse to fetch anything (no network, no local files)."""
    raise ValueError("external resources are not allowed in a Neurix report")
