"""Report: the tumour-board report of the current sample as PDF (for print and case notes) or HTML, previewed here.

Case fields (specimen, tumour type, requester, date) live in this session's widget state only: they go into the
downloaded file and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import streamlit as st

from dashboard import widgets as w
from neurix_core.report.case import CaseDetails
from neurix_core.report.html import build_report
from neurix_core.report.make import model_text, report_bytes, sample_data_quality
from neurix_core.report.pdf import pdf_available

PAPERS = {"a4": "A4", "letter": "US Letter"}


def _file_name(sample: str, generated: dt.datetime, extension: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", sample).strip("_")[:60] or "sample"
    return f"neurix_report_{safe}_{generated:%Y%m%d-%H%M}.{extension}"


def _case_fields(profile: w.LoadedProfile, sample: str) -> CaseDetails:
    """Specimen, tumour type, requester and date for page 1, kept in this session's memory only (and across
    page switches, which would otherwise drop a widget's value)."""
    store = w.case_store(profile, sample)
    defaults = {"tumour_type": profile.sample_info.get(sample, {}).get("primary_disease", "")}
    fields = (
        ("specimen", "Specimen / case id"),
        ("tumour_type", "Tumour type"),
        ("requester", "Requested by"),
    )
    suffix = hashlib.sha256(f"{profile.fingerprint}|{sample}".encode()).hexdigest()[:12]
    cols = st.columns([1.2, 1.2, 1.2, 0.9])
    for col, (name, label) in zip(cols, fields, strict=False):
        key = f"report_{name}_{suffix}"
        if key not in st.session_state:
            st.session_state[key] = store.get(name, defaults.get(name, ""))
        store[name] = col.text_input(label, key=key, max_chars=200)
    if f"report_date_{suffix}" not in st.session_state:
        st.session_state[f"report_date_{suffix}"] = store.get("date", dt.datetime.now(dt.UTC).date())
    store["date"] = cols[3].date_input("Date", key=f"report_date_{suffix}", format="YYYY-MM-DD")
    return CaseDetails(**store)


def render() -> None:
    context = w.profile_page("Report", "a report")
    if context is None:
        return
    neurix, profile, sample = context
    st.markdown(
        "A report for the tumour board and the case notes: page 1 is a one-page summary (case, top drugs, key "
        "genes, data quality, training platform, disclaimer), the pages after it hold the details. The PDF "
        "prints on A4 or US Letter; the HTML opens offline in any browser. Neither contains **expression "
        "values** from your file, and the case fields below are kept only in this browser session."
    )
    case = _case_fields(profile, sample)
    selected = w.drug_picker(
        neurix, profile, sample, "Drugs to explain in the report (shared with the Explain page)", "report"
    )
    cols = st.columns([1, 1, 0.8, 1])
    top_n = cols[0].slider("Drugs in the prediction table", 10, 100, 25, step=5, key="report_top_n")
    per_side = cols[1].slider("Genes per drug and direction", 3, 20, 8, key="report_genes")
    paper = cols[2].radio("Paper", list(PAPERS), format_func=PAPERS.get, key="report_paper", horizontal=True)
    interactive = cols[3].toggle(
        "Interactive HTML charts",
        key="report_interactive",
        help="Adds plotly charts with plotly.js inline to the HTML file (about 4.5 MB more); it still works "
        "offline. The PDF always has vector charts.",
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
            case=case,
            coverage=profile.coverage(sample),
            data_quality=sample_data_quality(profile.quality, sample)
            if profile.quality is not None
            else sample_data_quality(profile.model_input, sample),
            drugs=neurix.bundle.drugs,
            paper=paper,
            model_text=model_text(neurix),
        )

    preview = build(False)
    st.session_state["neurix_report_preview"] = preview  # this session only; lets tests check the content
    cols = st.columns(2)
    cols[0].download_button(
        "Download the PDF report",
        lambda: report_bytes(preview, "pdf"),  # rendered only when clicked (a second or two)
        file_name=_file_name(sample, generated, "pdf"),
        mime="application/pdf",
        type="primary",
        icon=":material/picture_as_pdf:",
        on_click="ignore",
        width="stretch",
        disabled=not pdf_available(),
        help=None if pdf_available() else "PDF rendering is not installed on this server (WeasyPrint).",
    )
    cols[1].download_button(
        "Download the HTML report",
        (lambda: build(True).encode("utf-8")) if interactive else preview.encode("utf-8"),
        file_name=_file_name(sample, generated, "html"),
        mime="text/html",
        icon=":material/description:",
        on_click="ignore",
        width="stretch",
    )
    st.caption(f"Input fingerprint (sha256): `{profile.fingerprint}` · model {neurix.bundle.version}")
    st.subheader("Preview")
    st.iframe(preview, height=720)


w.run_page(render, "report")
