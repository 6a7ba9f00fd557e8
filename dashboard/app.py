"""Neurix dashboard entry point: page setup, navigation and the shared sidebar.

Run from the repository root with ``streamlit run dashboard/app.py``. The repository root is put on
``sys.path`` so the app also works without ``pip install -e .`` (CI installs it; a lab checkout may not).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402 - after the path fix

from dashboard import auth, downloads, guard, present, widgets  # noqa: E402
from dashboard.pacing import PAGE_TURNS  # noqa: E402
from neurix_core.threads import adopt_torch_threads  # noqa: E402

st.set_page_config(page_title="Neurix", page_icon="🧬", layout="wide", initial_sidebar_state="expanded")

HERE = Path(__file__).resolve().parent
# Compact layout for laptop screens (1280×800): less padding above and beside the page, smaller page titles,
# tighter spacing between elements and a one-line file drop zone, so that the Predict page's first bars are visible
# without scrolling and tables get the width. Tables wider than the page sit in a container keyed ``wide_*`` and
# scroll sideways with their identifying columns pinned (tests/test_e2e_browser.py: no other table scrolls sideways).
LAYOUT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.9rem; padding-bottom: 3rem; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.75rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2.1rem; line-height: 1.25; padding: 0 0 0.35rem; }
[data-testid="stMainBlockContainer"] h2 { font-size: 1.6rem; padding: 0.6rem 0 0.3rem; }
[data-testid="stMainBlockContainer"] h3 { font-size: 1.35rem; padding: 0.5rem 0 0.25rem; }
[data-testid="stFileUploaderDropzone"] { padding: 0.2rem 0.6rem; min-height: 0; }
[data-testid="stFileUploaderDropzoneInstructions"] { font-size: 0.85rem; }
@media (max-width: 1500px) {
  [data-testid="stMainBlockContainer"] { padding-left: 2rem; padding-right: 2rem; }
}
</style>"""
PAGES = [
    st.Page(HERE / "views" / "home.py", title="Home", icon=":material/home:", default=True),
    st.Page(HERE / "views" / "predict.py", title="Predict", icon=":material/bar_chart:"),
    st.Page(HERE / "views" / "explain.py", title="Explain", icon=":material/psychology:"),
    st.Page(HERE / "views" / "discover.py", title="Discover", icon=":material/biotech:"),
    st.Page(HERE / "views" / "drug_map.py", title="Drug map", icon=":material/scatter_plot:"),
    st.Page(HERE / "views" / "model.py", title="Model", icon=":material/analytics:"),
    st.Page(HERE / "views" / "report.py", title="Report", icon=":material/description:"),
]


def _real_server() -> bool:
    """False under AppTest (a mock runtime), True in a served process."""
    from streamlit.runtime import Runtime

    return Runtime.exists() and type(Runtime.instance()) is Runtime


def main() -> None:
    adopt_torch_threads()  # each run is a new thread: give it the server's torch thread count (server.py)
    downloads.keep_generated_downloads()  # once per process: files built on click survive other sessions' runs
    state = auth.login_config()
    if state.mode != "open" and _real_server() and not guard.installed():
        auth.closed_page("login is configured but the server was started without dashboard/server.py's guard")
    auth.require_login()
    st.html(LAYOUT_CSS)
    if present.is_on():  # screen-sharing mode: one screen, no navigation, no sidebar
        st.navigation(PAGES, position="hidden")
        present.render(widgets.get_neurix())
    else:
        page = st.navigation(PAGES, position="top")
        page.run()
        with st.sidebar:
            present.switch()
        # After the page, so a profile loaded by the page shows here in the same run.
        widgets.sidebar(widgets.get_neurix(quiet=True))


def _session_account() -> str | None:
    """This browser session's id, the account its runs are charged to on the server's turns."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return context.session_id if context is not None else None


# The wrapper covers start-up too (model loading, navigation, sidebar): never a traceback on any path. The whole
# run takes one of the server's turns (dashboard/pacing.py): a few runs compute at once, the session that used the
# server least lately first.
with PAGE_TURNS.turn(account=_session_account()):
    widgets.run_page(main, "app")
