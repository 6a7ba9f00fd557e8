"""Report: a self-contained HTML report of the current sample, previewed here and downloadable."""

from __future__ import annotations

import datetime as dt
import re

import streamlit as st

from dashboard import widgets as w
from neurix_core.report.html import build_report
from neurix_core.report.text import training_data_text


def _file_name(sample: str, generated: dt.datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", sample).strip("_")[:60] or "sample"
    return f"neurix_report_{safe}_{generated:%Y%m%d-%H%M}.html"


def render() -> None:
    context = w.profile_page("Report", "a report")
    if context is None:
        return
    neurix, profile, sample = context
    st.markdown(
        "A single HTML file that opens offline in any browser and prints to PDF: top predictions, the "
        "genes behind the selected drugs, the model version and the input's sha256 fingerprint. It "
        "contains **no expression values** from your file."
    )
    selected = w.drug_picker(
        neurix, profile, sample, "Drugs to explain in the report (shared with the Explain page)", "report"
    )
    cols = st.columns(3)
    top_n = cols[0].slider("Drugs in the prediction table", 10, 100, 25, step=5, key="report_top_n")
    per_side = cols[1].slider("Genes per drug and direction", 3, 20, 8, key="report_genes")
    interactive = cols[2].toggle(
        "Embed interactive charts (+4.5 MB)",
        key="report_interactive",
        help="Adds plotly charts with plotly.js inline; the file still works offline.",
    )
    with st.spinner("Preparing the report…"):
        explanations = w.explanation(neurix, profile, sample, selected) if selected else None
    generated = dt.datetime.now(dt.UTC).replace(microsecond=0)
    summary = profile.summary()
    summary["Model genes measured"] = f"{profile.coverage(sample):.0%}"
    measured = w.measured_responses(neurix, profile, sample)
    info = profile.sample_info.get(sample, {})
    description = " · ".join(v for v in (info.get("cell_line_name"), info.get("primary_disease")) if v)

    def build(figures: bool) -> str:
        import pandas as pd

        return build_report(
            sample,
            profile.predictions,
            explanations if explanations is not None else pd.DataFrame(columns=["sample", "drug_key"]),
            fingerprint=profile.fingerprint,
            manifest=neurix.bundle.manifest,
            validation=neurix.bundle.validation,
            input_summary=summary,
            sample_description=description,
            measured=None if measured is None else measured.to_dict(),
            top_n=top_n,
            genes_per_drug=per_side,
            generated=generated,
            interactive=figures,
            data_quality=profile.quality.table() if profile.quality is not None else None,
            model_text=training_data_text(
                len(neurix.bundle.genes),
                len(neurix.bundle.drugs),
                neurix.bundle.drugs["compound_id"].nunique(),
            ),
        )

    preview = build(False)
    st.session_state["neurix_report_preview"] = preview  # this session only; lets tests check the content
    st.download_button(
        "Download the HTML report",
        (lambda: build(True)) if interactive else preview.encode("utf-8"),
        file_name=_file_name(sample, generated),
        mime="text/html",
        type="primary",
        icon=":material/description:",
        on_click="ignore",
    )
    st.caption(f"Input fingerprint (sha256): `{profile.fingerprint}` · model {neurix.bundle.version}")
    st.subheader("Preview")
    st.iframe(preview, height=720)


w.run_page(render, "report")
