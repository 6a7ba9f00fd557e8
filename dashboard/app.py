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

from dashboard import auth, widgets  # noqa: E402

st.set_page_config(page_title="Neurix", page_icon="🧬", layout="wide", initial_sidebar_state="expanded")

HERE = Path(__file__).resolve().parent
PAGES = [
    st.Page(HERE / "views" / "home.py", title="Home", icon=":material/home:", default=True),
    st.Page(HERE / "views" / "predict.py", title="Predict", icon=":material/bar_chart:"),
    st.Page(HERE / "views" / "explain.py", title="Explain", icon=":material/psychology:"),
    st.Page(HERE / "views" / "discover.py", title="Discover", icon=":material/biotech:"),
    st.Page(HERE / "views" / "drug_map.py", title="Drug map", icon=":material/scatter_plot:"),
    st.Page(HERE / "views" / "model.py", title="Model", icon=":material/analytics:"),
    st.Page(HERE / "views" / "report.py", title="Report", icon=":material/description:"),
]

auth.require_login()
page = st.navigation(PAGES, position="top")
page.run()
# After the page, so a profile loaded by the page shows here in the same run.
widgets.sidebar(widgets.get_neurix(quiet=True))
