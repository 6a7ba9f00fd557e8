"""The Neurix Streamlit dashboard: a thin view over ``neurix_core.api.Neurix`` (run ``streamlit run
dashboard/app.py`` from the repository root)."""
