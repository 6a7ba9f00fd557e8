"""Screen-sharing mode: one sample, its top drugs with intervals and key genes, in large type, nothing else.

Made for a tumour board watching a shared screen (readable at 1280×720): no sidebar, no navigation, no filters.
It shows what the other pages compute (same ``neurix_core`` calls, same session caches) and is switched on and off
with one toggle (``PRESENT_KEY``), also reachable as ``?present=1``.
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from dashboard import widgets as w
from neurix_core.api import Neurix
from neurix_core.report.figures import prediction_bars
from neurix_core.report.text import DISCLAIMER, MODERATE_RHO, TARGET_MARK, reliability

PRESENT_KEY = "neurix_present_mode"  # canonical on/off (the toggles below only mirror it)
TOGGLE_KEY = "neurix_present_toggle"
TOP_DRUGS = 8
GENE_DRUGS = 3
GENES = 3
FONT = 22  # chart font in px; the page's base font is set in STYLE

STYLE = """
<style>
html { font-size: 21px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header [data-testid="stToolbar"] {
  display: none !important; }
.block-container, [data-testid="stMainBlockContainer"] { padding-top: 1.2rem !important;
  padding-bottom: 0.5rem !important; max-width: 100% !important; }
[data-testid="stHeaderActionElements"] { display: none; }
.neurix-genes { width: 100%; border-collapse: collapse; }
.neurix-genes td { padding: 0.2rem 0.4rem; vertical-align: top; border-bottom: 1px solid #e2e8f0; }
.neurix-genes .drug { font-weight: 700; }
.neurix-genes .sens { color: #2166ac; } .neurix-genes .res { color: #b2182b; }
.neurix-out { border: 3px solid #b7791f; background: #fffaf0; padding: 0.3rem 0.6rem; border-radius: 6px;
  font-weight: 700; }
</style>
"""


def is_on() -> bool:
    """Whether screen-sharing mode is on for this session (first visit: from ``?present=1``)."""
    if PRESENT_KEY not in st.session_state:
        st.session_state[PRESENT_KEY] = st.query_params.get("present") == "1"
    return bool(st.session_state[PRESENT_KEY])


def switch(label: str = "Screen-sharing mode") -> None:
    """The one switch (sidebar in normal mode, top right in screen-sharing mode)."""
    st.session_state[TOGGLE_KEY] = is_on()

    def _changed() -> None:
        st.session_state[PRESENT_KEY] = bool(st.session_state[TOGGLE_KEY])

    st.toggle(
        label,
        key=TOGGLE_KEY,
        on_change=_changed,
        help="Large type, one sample, the top drugs with intervals and key genes, no sidebar: for sharing "
        "the screen at a tumour board.",
    )


def _key_genes(neurix: Neurix, profile: w.LoadedProfile, sample: str, rows: pd.DataFrame) -> str:
    """An HTML table: for the top reliable drugs, the strongest sensitising and resistance genes."""
    names = w.drug_names(neurix)
    reliable = rows[rows["cv_rho"].fillna(-1) >= MODERATE_RHO].head(GENE_DRUGS)
    chosen = (reliable if len(reliable) else rows.head(GENE_DRUGS))["drug_key"].tolist()
    explained = w.explanation(neurix, profile, sample, chosen)
    lines = []
    for key in chosen:
        frame = explained[explained["drug_key"] == key].sort_values("relevance")

        def genes(part: pd.DataFrame) -> str:
            return ", ".join(
                html.escape(str(g)) + (f" {TARGET_MARK}" if t else "")
                for g, t in zip(part["gene"], part["is_target"], strict=True)
            )

        sensitising = genes(frame[frame["relevance"] < 0].head(GENES)) or "–"
        resistance = genes(frame[frame["relevance"] > 0].tail(GENES).iloc[::-1]) or "–"
        lines.append(
            f'<tr><td class="drug" colspan="2">{html.escape(names.get(key, key))}</td></tr>'
            f'<tr><td class="sens">sensitising</td><td>{sensitising}</td></tr>'
            f'<tr><td class="res">resistance</td><td>{resistance}</td></tr>'
        )
    return f'<table class="neurix-genes">{"".join(lines)}</table>'


def _domain_banner(rows: pd.DataFrame) -> None:
    if "in_domain" not in rows.columns or rows["in_domain"].isna().all():
        return
    if str(rows["in_domain"].dropna().iloc[0]).lower() in {"false", "0", "no"}:
        st.html(
            '<div class="neurix-out">This sample is unlike the training cell lines: its predictions are '
            "extrapolations.</div>"
        )


def render(neurix: Neurix | None) -> None:
    """The whole screen in screen-sharing mode."""
    st.html(STYLE)
    # The picker column is wide enough for a full sample label at 1280×720 (a cut name misleads).
    head, pick, toggle = st.columns([3.3, 3, 1.6], vertical_alignment="center")
    with toggle:
        switch("Screen-sharing")
    profile = w.current_profile()
    if neurix is None:
        return
    if profile is None:
        head.subheader("Neurix · no profile loaded")
        st.info(
            "Load a profile or an example first; the screen then shows its top drugs.", icon=":material/info:"
        )
        if w.load_example_button(neurix, key="example_button_present"):
            st.rerun()
        return
    sample = w.current_sample(profile) or profile.samples[0]
    if len(profile.samples) > 1:
        with pick:
            sample = w.sample_switcher(profile)
    case = w.case_store(profile, sample)
    tumour = case.get("tumour_type") or profile.sample_info.get(sample, {}).get("primary_disease", "")
    head.markdown(
        f"#### {html.escape(profile.sample_label(sample))}"
        + (f" · {html.escape(str(tumour))}" if tumour else "")
        + f"  \n<span style='color:#4a5568'>Neurix {html.escape(neurix.bundle.version)} · response relative to "
        "cancer cell lines · research use only</span>",
        unsafe_allow_html=True,
    )
    rows = profile.sample_predictions(sample)
    _domain_banner(rows)
    top = rows.head(TOP_DRUGS)
    left, right = st.columns([3, 2], gap="medium")
    with left:
        fig = prediction_bars(top, w.measured_responses(neurix, profile, sample), labels=w.drug_names(neurix))
        fig.update_layout(font={"size": FONT}, height=100 + 40 * len(top), margin={"t": 36, "b": 4})
        fig.update_yaxes(tickfont={"size": FONT})
        fig.update_xaxes(
            tickfont={"size": FONT - 2},
            title={"text": "predicted z log AUC (← more sensitive)", "font": {"size": FONT - 2}},
        )
        st.plotly_chart(fig, key="present_bars", config={"displayModeBar": False})
    with right:
        st.markdown("**Key genes** (LRP)")
        st.html(_key_genes(neurix, profile, sample, rows))
        tiers = ", ".join(
            f"{names} {reliability(r).symbol}"
            for names, r in zip(["#1", "#2", "#3"], top["cv_rho"].head(3), strict=False)
        )
        st.caption(f"Reliability of the top three: {tiers} (●●● high · ●●○ moderate · ●○○ low).")
    st.caption(f":material/warning: {DISCLAIMER}")
