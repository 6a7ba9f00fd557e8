"""Neurix's server entry point for shared deployments: ``streamlit run dashboard/server.py``.

It serves the same dashboard (``dashboard/app.py``) with Neurix's guard in front of Streamlit's routes
(``dashboard/guard.py``: metrics endpoint closed, uploads only from sessions allowed to see pages and within
memory budgets, closed tabs released on time). With login configured the app refuses to serve pages unless this
guard is installed, so a server started as ``streamlit run dashboard/app.py`` fails closed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402 - after the path fix
from starlette.middleware import Middleware  # noqa: E402

from dashboard.guard import GuardMiddleware  # noqa: E402

app = st.App(Path(__file__).resolve().parent / "app.py", middleware=[Middleware(GuardMiddleware)])
