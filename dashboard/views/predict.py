"""Predict: upload a profile, check what was detected, see ranked drug sensitivities and their reliability."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboard import widgets as w
from neurix_core.api import Neurix
from neurix_core.report.cohort_figure import TOP_DRUGS, cohort_heatmap
from neurix_core.report.figures import prediction_bars
from neurix_core.report.text import MODERATE_RHO, RELIABILITY_EXPLANATION, SIGN_CONVENTION, reliability

TABLE_COLUMNS = {
    "rank": st.column_config.NumberColumn("Rank", width="small"),
    "drug": st.column_config.TextColumn("Drug"),
    "drug_class": st.column_config.TextColumn("Class"),
    "z_log_auc": st.column_config.NumberColumn("Predicted z log AUC", format="%.2f"),
    "measured_z_log_auc": st.column_config.NumberColumn("Measured z log AUC", format="%.2f"),
    "reliability": st.column_config.TextColumn("Reliability", help=RELIABILITY_EXPLANATION),
    "cv_rho": st.column_config.NumberColumn("CV ρ", format="%.2f"),
    "targets": st.column_config.TextColumn("Targets"),
    "pathway": st.column_config.TextColumn("Pathway"),
    "moa": st.column_config.TextColumn("Mechanism"),
}


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "sample"


def _detection(profile: w.LoadedProfile, sample: str) -> None:
    """What the parser detected, so users can spot a wrong orientation or scale before trusting the bars."""
    with st.expander(
        "What was detected in the file", expanded=not profile.is_example, icon=":material/fact_check:"
    ):
        summary = profile.summary()
        cols = st.columns(3)
        cols[0].metric("Samples", summary["Samples"])
        cols[1].metric(
            "Genes recognised",
            f"{profile.n_mapped_genes:,}",
            f"of {profile.n_input_genes:,} in the file",
            delta_color="off",
            delta_arrow="off",
        )
        cols[2].metric(
            "Model genes measured",
            f"{profile.coverage(sample):.0%}",
            "this sample",
            delta_color="off",
            delta_arrow="off",
        )
        st.markdown(
            f"**Orientation:** {summary['Orientation']}  \n**Gene identifiers:** "
            f"{summary['Gene identifiers']}  \n**Value scale:** {summary['Value scale']}"
            + (
                " (auto-detected)"
                if st.session_state.get("neurix_value_scale", "auto") == "auto"
                else " (chosen)"
            )
        )
        if len(profile.samples) > 1:
            coverage = pd.DataFrame(
                {
                    "sample": profile.samples,
                    "model genes measured": [profile.coverage(s) for s in profile.samples],
                }
            )
            st.dataframe(
                coverage,
                hide_index=True,
                height=min(300, 40 + 35 * len(coverage)),
                column_config={
                    "model genes measured": st.column_config.ProgressColumn(
                        "model genes measured", format="percent", min_value=0.0, max_value=1.0
                    )
                },
            )
        if not profile.is_example:
            st.caption(
                "Wrong scale? Override it with the *Value scale* selector above; the file is re-read at once."
            )
    if profile.warnings:
        st.warning("\n".join(f"- {message}" for message in profile.warnings), icon=":material/warning:")


def _filters(rows: pd.DataFrame) -> pd.DataFrame:
    """Class, pathway, free-text (name/target/MOA) and reliability filters; returns the matching rows."""
    cols = st.columns([2, 2, 2, 1, 1.3])
    classes = cols[0].multiselect(
        "Drug class",
        sorted(rows["drug_class"].dropna().unique()),
        key="pred_classes",
        placeholder="all classes",
    )
    pathways = cols[1].multiselect(
        "Pathway",
        sorted(p for p in rows["pathway"].dropna().unique() if p),
        key="pred_pathways",
        placeholder="all pathways",
    )
    query = cols[2].text_input(
        "Search drug, target or mechanism", key="pred_query", placeholder="e.g. EGFR, platin"
    )
    count = cols[3].number_input(
        "Drugs shown", min_value=5, max_value=200, value=25, step=5, key="pred_count"
    )
    reliable = cols[4].toggle(
        "ρ ≥ 0.2 only", key="pred_reliable", help="Only drugs with cross-validated ρ ≥ 0.2"
    )
    mask = pd.Series(True, index=rows.index)
    if classes:
        mask &= rows["drug_class"].isin(classes)
    if pathways:
        mask &= rows["pathway"].isin(pathways)
    if query.strip():
        text = (
            rows["drug_name"].astype(str)
            + " "
            + rows["targets"].astype(str)
            + " "
            + rows["moa"].astype(str)
            + " "
            + rows["pathway"].astype(str)
        )
        mask &= text.str.contains(query.strip(), case=False, regex=False)
    if reliable:
        mask &= rows["cv_rho"].fillna(-1) >= MODERATE_RHO
    selected = rows[mask]
    st.caption(
        f"{len(selected):,} of {len(rows):,} drugs match; showing the {min(int(count), len(selected))} "
        "most sensitive."
    )
    return selected.head(int(count))


def _table(rows: pd.DataFrame, measured: pd.Series | None, names: dict[str, str]) -> pd.DataFrame:
    table = rows.copy()
    table["drug"] = table["drug_key"].map(names)
    table["reliability"] = [f"{t.symbol} {t.tier}" for t in map(reliability, table["cv_rho"])]
    columns = ["rank", "drug", "drug_class", "z_log_auc"]
    if measured is not None:
        table["measured_z_log_auc"] = table["drug_key"].map(measured)
        columns.append("measured_z_log_auc")
    columns += ["reliability", "cv_rho", "targets", "pathway", "moa"]
    return table[columns]


def _cohort_view(profile: w.LoadedProfile, names: dict[str, str]) -> None:
    """Multi-sample uploads: which samples look sensitive to which drugs, clustered, with the domain flag."""
    st.subheader(f"Cohort view · {len(profile.samples)} samples")
    st.plotly_chart(
        cohort_heatmap(profile.predictions, labels=names),
        key="cohort_heatmap",
        config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}},
    )
    flagged = (
        "" if "in_domain" in profile.predictions.columns else " The applicability-domain check is not in "
    )
    flagged += "this model bundle (retrain to add it)." if flagged else ""
    st.caption(
        f"The {TOP_DRUGS} drugs with the lowest mean predicted z across these samples; rows and columns ordered by "
        "hierarchical clustering (average linkage, correlation distance). Red = more sensitive than the average "
        "cell line, blue = more resistant. The left strip marks samples outside the model's domain."
        + flagged
        + " For cohorts beyond this page's limit use `neurix cohort`."
    )


def render() -> None:
    neurix: Neurix | None = w.get_neurix()
    st.title("Predict drug sensitivity")
    if neurix is None:
        return
    w.upload_widget(neurix)
    profile = w.current_profile()
    if profile is None:
        st.info("Upload a profile above, or load the example cell lines.", icon=":material/info:")
        w.load_example_button(neurix, key="example_button_predict")
        if w.current_profile() is not None:
            st.rerun()
        return
    if profile.is_example:
        st.success(
            "Showing the example cell lines shipped with the model (measured responses shown as ◆).",
            icon=":material/science:",
        )
    sample = w.sample_switcher(profile)
    _detection(profile, sample)

    rows = profile.sample_predictions(sample)
    names = w.drug_names(neurix)
    measured = w.measured_responses(neurix, profile, sample)
    n_reliable = int((rows["cv_rho"].fillna(-1) >= MODERATE_RHO).sum())
    cols = st.columns(3)
    cols[0].metric("Drugs scored", f"{len(rows):,}")
    cols[1].metric("With reliable predictions (ρ ≥ 0.2)", f"{n_reliable:,}")
    if measured is not None:
        paired = rows.assign(measured=rows["drug_key"].map(measured)).dropna(subset=["measured"])
        if len(paired) >= 10:
            rho = paired["z_log_auc"].corr(paired["measured"], method="spearman")
            cols[2].metric(
                "Predicted vs measured (Spearman)", f"{rho:.2f}", f"{len(paired)} drugs", delta_color="off"
            )
    best = rows[rows["cv_rho"].fillna(-1) >= MODERATE_RHO].head(1)
    if len(best):
        top = best.iloc[0]
        tier = reliability(top["cv_rho"])
        st.markdown(
            f"**Most sensitive reliable prediction:** {names[top['drug_key']]} (rank {int(top['rank'])}, "
            f"z {top['z_log_auc']:+.2f}, {tier.symbol} {tier.tier}, ρ {top['cv_rho']:.2f})"
        )
    else:
        st.markdown("**No drug has a reliable prediction (ρ ≥ 0.2) in this model bundle.**")

    st.subheader(f"Predicted sensitivity · {profile.sample_label(sample)}")
    shown = _filters(rows)
    if shown.empty:
        st.info("No drug matches these filters.", icon=":material/search:")
    else:
        st.plotly_chart(
            prediction_bars(shown, measured, labels=names),
            key="prediction_bars",
            config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}},
        )
        st.caption(
            "Reliability after each name (cross-validated ρ): ●●● high · ●●○ moderate · ●○○ low · "
            "○○○ unvalidated" + (" · ◆ measured response of this cell line" if measured is not None else "")
        )
    with st.expander("How to read this chart and the reliability badge"):
        st.markdown(SIGN_CONVENTION.split(" Gene relevance")[0])
        st.markdown(RELIABILITY_EXPLANATION)
        st.markdown("●●● high · ●●○ moderate · ●○○ low · ○○○ unvalidated. Colours show the drug class.")

    st.dataframe(_table(shown, measured, names), hide_index=True, column_config=TABLE_COLUMNS)
    cols = st.columns(2)
    cols[0].download_button(
        "Download all predictions for this sample (CSV)",
        rows.to_csv(index=False).encode("utf-8"),
        file_name=f"neurix_predictions_{_safe_name(sample)}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
    if len(profile.samples) > 1:
        cols[1].download_button(
            f"Download predictions for all {len(profile.samples)} samples (CSV)",
            lambda: profile.predictions.to_csv(index=False).encode("utf-8"),  # built only when clicked
            file_name="neurix_predictions_all_samples.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
        )
    if len(profile.samples) > 1:
        _cohort_view(profile, names)
    st.page_link(
        "views/explain.py",
        label="Why? See the genes behind the top predictions",
        icon=":material/psychology:",
    )


w.run_page(render, "predict")
