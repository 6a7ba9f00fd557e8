"""Predict: upload a profile, check what was detected, see ranked drug sensitivities and their reliability."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import trust_panels
from dashboard import widgets as w
from neurix_core.api import Neurix
from neurix_core.quality import IMPUTED_WARNING
from neurix_core.report.cohort_figure import TOP_DRUGS, cohort_heatmap
from neurix_core.report.figures import prediction_bars
from neurix_core.report.text import (
    HIT_RATE_EXPLANATION,
    MODERATE_RHO,
    RELIABILITY_EXPLANATION,
    SIGN_CONVENTION,
    hit_rate,
    reliability,
)

DRUG_COUNTS = [5, 10, 15, 25, 50, 100, 200]
# Rank and drug stay pinned: the table is wider than a laptop screen and scrolls sideways by design.
TABLE_COLUMNS = {
    "rank": st.column_config.NumberColumn("Rank", width="small", pinned=True),
    "drug": st.column_config.TextColumn("Drug", width=190, pinned=True),
    "drug_class": st.column_config.TextColumn("Class"),
    "z_log_auc": st.column_config.NumberColumn("Predicted z log AUC", format="%.2f"),
    "predicted_auc": st.column_config.NumberColumn(
        "Predicted AUC",
        format="%.2f",
        help="Back-transformed from the drug's training distribution of log AUC (1 = no killing over the "
        "tested doses)",
    ),
    "n_entries": st.column_config.NumberColumn(
        "Entries", width="small", help="GDSC screen entries of the compound (GDSC1/GDSC2, repeats)"
    ),
    "interval": st.column_config.TextColumn("80% interval", help=HIT_RATE_EXPLANATION),
    "percentile": st.column_config.NumberColumn(
        "Percentile",
        format="%.0f",
        help="share of training cell lines measured more resistant (higher = more sensitive)",
    ),
    "measured_z_log_auc": st.column_config.NumberColumn("Measured z log AUC", format="%.2f"),
    "hit_rate": st.column_config.TextColumn("Hit rate", help=HIT_RATE_EXPLANATION),
    "reliability": st.column_config.TextColumn("Reliability", help=RELIABILITY_EXPLANATION),
    "cv_rho": st.column_config.NumberColumn("CV ρ", format="%.2f"),
    "targets": st.column_config.TextColumn("Targets"),
    "pathway": st.column_config.TextColumn("Pathway"),
    "moa": st.column_config.TextColumn("Mechanism"),
}


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "sample"


def _detection(profile: w.LoadedProfile, sample: str) -> None:
    """What the parser detected and the data quality of every sample, before any result is shown."""
    quality = profile.quality
    current = next((q for q in quality.samples if q.sample == sample), None) if quality else None
    summary = profile.summary()
    headline = (
        f"Detected: {summary['Value scale'].split(' (')[0]} · {summary['Gene identifiers']} · "
        f"{profile.coverage(sample):.0%} of model genes measured"
    )
    if current is not None:
        headline += f" ({current.imputed:,} imputed)"
    # Collapsed unless something needs attention, so the bars stay above the fold on a laptop screen; the
    # headline keeps the scale, identifiers, coverage, imputation and platform visible either way.
    attention = (
        bool(profile.warnings)
        or profile.coverage(sample) < 0.9
        or (quality is not None and bool(quality.flagged or quality.unrecognised_labels))
    )
    choice = profile.model_input.scaling
    if choice is not None:
        platform = w.PLATFORM_LABELS.get(choice.platform, choice.platform).split(" (")[0]
        trained = w.PLATFORM_LABELS.get(choice.training_platform, choice.training_platform)
        headline += f" · platform {platform} (model: {trained})"
    with st.expander(headline, expanded=attention and not profile.is_example, icon=":material/fact_check:"):
        if choice is not None:
            scaling = profile.scaling_summary()
            st.markdown(f"**Platform:** {scaling['Platform']} · **Scaling:** {scaling['Scaling']}")
            st.caption(choice.describe().split(" WARNING:")[0])
        cols = st.columns(4)
        cols[0].metric("Samples", summary["Samples"])
        cols[1].metric(
            "Gene labels recognised",
            f"{profile.n_mapped_genes:,}",
            f"of {profile.n_input_genes:,} in the file",
            delta_color="off",
            delta_arrow="off",
        )
        if current is not None:
            cols[2].metric(
                "Model genes measured",
                f"{current.genes_measured:,}",
                f"of {current.model_genes:,} · this sample",
                delta_color="off",
                delta_arrow="off",
            )
            cols[3].metric(
                "Imputed (training mean)",
                f"{current.imputed:,}",
                f"{current.imputed_fraction:.1%}: {current.genes_absent:,} not in file, "
                f"{current.values_missing:,} empty/NA",
                delta_color="off",
                delta_arrow="off",
            )
        st.markdown(
            f"**Orientation:** {summary['Orientation']}  \n**Gene identifiers:** "
            f"{summary['Gene identifiers']}  \n**Value scale:** {summary['Value scale']}"
        )
        if quality is not None and len(quality.samples) > 1:
            table = quality.table()
            st.dataframe(
                table[["sample", "genes_measured", "imputed", "imputed_fraction", "status"]],
                hide_index=True,
                height=min(300, 40 + 35 * len(table)),
                column_config={
                    "genes_measured": st.column_config.NumberColumn("model genes measured"),
                    "imputed": st.column_config.NumberColumn("imputed"),
                    "imputed_fraction": st.column_config.ProgressColumn(
                        "imputed", format="percent", min_value=0.0, max_value=1.0
                    ),
                },
            )
        if quality is not None and quality.unrecognised_labels:
            labels = quality.unrecognised_labels
            st.markdown(
                f"**{len(labels):,} gene label(s) not recognised** (ignored): "
                + ", ".join(f"`{label}`" for label in labels[:20])
                + (" …" if len(labels) > 20 else "")
            )
            st.download_button(
                "Download the unrecognised labels (CSV)",
                quality.unrecognised_csv(),
                file_name="neurix_unrecognised_labels.csv",
                mime="text/csv",
                icon=":material/download:",
                on_click="ignore",
            )
        if not profile.is_example:
            st.caption(
                "Wrong scale? Override it with the *Value scale* selector above; the file is re-read at once. "
                f"Samples with more than {IMPUTED_WARNING:.0%} of the model's genes imputed are flagged; "
                "samples measuring under half of them are refused."
            )
    flagged = quality.flagged if quality is not None else []
    if flagged:
        st.warning(
            f"**{len(flagged)} sample(s) rely on imputed values** (missing genes are set to the training "
            "mean, which pulls predictions towards the average cell line):\n"
            + "\n".join(f"- {q.message()}" for q in flagged),
            icon=":material/warning:",
        )
    choice = profile.model_input.scaling
    if choice is not None and choice.flag:
        st.warning(choice.flag, icon=":material/warning:")
    if profile.warnings:
        st.warning("\n".join(f"- {message}" for message in profile.warnings), icon=":material/warning:")


def _entries(profile: w.LoadedProfile, shown: pd.DataFrame, sample: str) -> None:
    """The screen entries (GDSC1/GDSC2, repeated ids) behind the compounds shown, one click away."""
    multi = shown[shown["n_entries"] > 1] if "n_entries" in shown else shown.iloc[0:0]
    if multi.empty or profile.screen_predictions is None:
        return
    box = st.expander(  # filled only when opened (a rerun): most visitors never open it
        f"Screen entries behind these compounds ({len(multi)} screened more than once)",
        icon=":material/layers:",
        key="screen_entries",
        on_change="rerun",
    )
    if not box.open:
        return
    with box:
        st.caption(
            "GDSC screened many compounds in GDSC1 and GDSC2 (and some twice in GDSC1). The compound row shows "
            "the entry chosen by the reliability-weighted median of the entries' predictions (weight: "
            "cross-validated ρ); every number in the row belongs to that entry."
        )
        st.dataframe(
            w.memo(
                profile,
                ("entries", sample, tuple(multi["drug_key"])),
                lambda: _entry_rows(profile, multi, sample),
            ),
            hide_index=True,
            column_config={
                "used": st.column_config.CheckboxColumn(
                    "shown", help="the entry the compound row comes from"
                ),
                "z_log_auc": st.column_config.NumberColumn("Predicted z log AUC", format="%.2f"),
                "predicted_auc": st.column_config.NumberColumn("Predicted AUC", format="%.2f"),
                "cv_rho": st.column_config.NumberColumn("CV ρ", format="%.2f"),
            },
        )


def _entry_rows(profile: w.LoadedProfile, multi: pd.DataFrame, sample: str) -> pd.DataFrame:
    """The screen entries of the compounds in ``multi`` for one sample: compound, entry, shown?, predictions.

    Built from the needed columns' arrays and one frame at the end: pandas' per-call cost on the ~700-row screen
    table (masks, takes, assigns and a keyed sort) made this ~25 ms of an upload's first page.
    """
    screen = profile.screen_predictions
    order = {c: i for i, c in enumerate(multi["compound_id"])}
    compounds = screen["compound_id"].to_numpy(dtype=object)
    samples = screen["sample"].to_numpy(dtype=object)
    picked = np.array(
        [i for i, (c, s) in enumerate(zip(compounds, samples, strict=True)) if s == sample and c in order],
        dtype=np.intp,
    )
    z = screen["z_log_auc"].to_numpy()[picked]
    rank = sorted(  # compounds in the table's order, then each compound's entries by predicted z (NaN last)
        range(len(picked)),
        key=lambda i: (order[compounds[picked[i]]], z[i] != z[i], 0.0 if z[i] != z[i] else z[i]),
    )
    picked = picked[rank]
    names = dict(zip(multi["compound_id"], multi["drug_name"], strict=True))
    shown_keys = set(multi["drug_key"])
    entries = zip(
        screen["screen"].to_numpy(dtype=object)[picked],
        screen["drug_id"].to_numpy(dtype=object)[picked],
        strict=True,
    )
    return pd.DataFrame(
        {
            "compound": [names[c] for c in compounds[picked]],
            "entry": [f"{s} #{d}" for s, d in entries],
            "used": [k in shown_keys for k in screen["drug_key"].to_numpy(dtype=object)[picked]],
            "z_log_auc": z[rank],
            "predicted_auc": screen["predicted_auc"].to_numpy()[picked],
            "cv_rho": screen["cv_rho"].to_numpy()[picked],
        }
    )


def _filters(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Class, pathway, free-text (name/target/MOA) and reliability filters: the rows shown and how many match."""
    # One row without labels above the inputs (the placeholders say what each filters), so the chart starts higher.
    cols = st.columns([2, 2, 2.2, 1.1, 1.7], vertical_alignment="center")
    classes = cols[0].multiselect(
        "Drug class",
        sorted(rows["drug_class"].dropna().unique()),
        key="pred_classes",
        placeholder="Drug class: all",
        label_visibility="collapsed",
    )
    pathways = cols[1].multiselect(
        "Pathway",
        sorted(p for p in rows["pathway"].dropna().unique() if p),
        key="pred_pathways",
        placeholder="Pathway: all",
        label_visibility="collapsed",
    )
    query = cols[2].text_input(
        "Search drug, target or mechanism",
        key="pred_query",
        placeholder="Search drug or target",
        label_visibility="collapsed",
    )
    count = cols[3].selectbox(
        "Drugs shown",
        DRUG_COUNTS,
        index=DRUG_COUNTS.index(25),
        format_func=lambda n: f"Top {n}",
        key="pred_count",
        label_visibility="collapsed",
    )
    reliable = cols[4].toggle(
        "Only ρ ≥ 0.2", key="pred_reliable", help="Only drugs with cross-validated ρ ≥ 0.2"
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
    return selected.head(int(count)), len(selected)


def _signed(value: float) -> str:
    """+0.31, -1.70, and 0.00 rather than "-0.00" for values that round to zero."""
    return "0.00" if round(float(value), 2) == 0 else f"{value:+.2f}"


def _table(rows: pd.DataFrame, measured: pd.Series | None, names: dict[str, str]) -> pd.DataFrame:
    """The prediction table's columns for the rows shown (25 by default), built as lists: pandas' per-column
    cost was most of its ~12 ms."""
    keys = rows["drug_key"].tolist()
    table: dict[str, object] = {c: rows[c].to_numpy() for c in ("rank", "drug_class", "z_log_auc")}
    table["drug"] = [names.get(k, np.nan) for k in keys]
    table.update({c: rows[c].to_numpy() for c in ("predicted_auc", "n_entries") if c in rows})
    has_trust = rows["interval_low"].notna().any()
    if has_trust:
        table["interval"] = [
            f"{_signed(low)} to {_signed(high)}"
            for low, high in zip(rows["interval_low"].tolist(), rows["interval_high"].tolist(), strict=True)
        ]
        table["percentile"] = rows["percentile"].to_numpy()
    if measured is not None:
        table["measured_z_log_auc"] = rows["drug_key"].map(measured).to_numpy()
    if has_trust:
        table["hit_rate"] = [hit_rate(r).short for r in rows["hit_rate"].tolist()]
    else:
        table["reliability"] = [f"{t.symbol} {t.tier}" for t in map(reliability, rows["cv_rho"].tolist())]
    table.update({c: rows[c].to_numpy() for c in ("cv_rho", "targets", "pathway", "moa")})
    columns = ["rank", "drug", "drug_class", "z_log_auc"]
    columns += [c for c in ("predicted_auc", "n_entries") if c in rows]
    columns += ["interval", "percentile"] if has_trust else []
    columns += ["measured_z_log_auc"] if measured is not None else []
    columns += (["hit_rate"] if has_trust else ["reliability"]) + ["cv_rho", "targets", "pathway", "moa"]
    return pd.DataFrame({c: table[c] for c in columns}, index=rows.index)


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
        "hierarchical clustering (average linkage, correlation distance). Blue = more sensitive than the average "
        "cell line, red = more resistant (as on every Neurix chart). The left strip marks samples outside the "
        "model's domain." + flagged + " For cohorts beyond this page's limit use `neurix cohort`."
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
    # Sample and its status in one row; an out-of-domain warning still spans the page (it qualifies every number).
    left, right = st.columns([2.6, 2], vertical_alignment="bottom")
    with left:
        sample = w.sample_switcher(profile)
    if profile.is_example:
        right.caption(":material/science: Example cell line shipped with the model · ◆ measured")
    trust_panels.domain_banner(neurix, profile, sample, note=right)
    _detection(profile, sample)

    rows = profile.sample_predictions(sample)
    names = w.drug_names(neurix)
    measured = w.measured_responses(neurix, profile, sample)
    n_reliable = int((rows["cv_rho"].fillna(-1) >= MODERATE_RHO).sum())
    facts = [f"{len(rows):,} compounds scored", f"{n_reliable:,} with reliable predictions (ρ ≥ 0.2)"]
    if measured is not None:
        paired = rows.assign(measured=rows["drug_key"].map(measured)).dropna(subset=["measured"])
        if len(paired) >= 10:
            rho = paired["z_log_auc"].corr(paired["measured"], method="spearman")
            facts.append(f"predicted vs measured Spearman ρ {rho:.2f} over {len(paired)} drugs")
    best = rows[rows["cv_rho"].fillna(-1) >= MODERATE_RHO].head(1)
    if len(best):
        top = best.iloc[0]
        tier = reliability(top["cv_rho"])
        hits = hit_rate(top["hit_rate"])
        headline = (
            f"**Top reliable prediction:** {names[top['drug_key']]} · rank {int(top['rank'])} · "
            f"z {top['z_log_auc']:+.2f}"
        )
        if hits.tier != "unmeasured":
            headline += (
                f" (80% interval {_signed(top['interval_low'])} to {_signed(top['interval_high'])}) · more "
                f"sensitive than {top['percentile']:.0f}% of training lines · hit rate "
                + hits.short.replace(" hits", "")
            )
        else:
            headline += f" · {tier.symbol} {tier.tier} reliability, ρ {top['cv_rho']:.2f}"
    else:
        headline = "**No drug has a reliable prediction (ρ ≥ 0.2) in this model bundle.**"
    st.markdown(headline)  # one line above the chart (not metric cards): the bars start above the fold

    st.subheader(f"Predicted sensitivity · {profile.sample_label(sample)}")
    shown, n_match = _filters(rows)
    if shown.empty:
        st.info("No drug matches these filters.", icon=":material/search:")
    else:
        view = ("bars", sample, tuple(shown["drug_key"]), measured is not None)
        st.plotly_chart(  # the legend only needs one line above the bars
            w.memo(
                profile,
                view,
                lambda: prediction_bars(shown, measured, labels=names).update_layout(margin={"t": 30}),
            ),
            key="prediction_bars",
            config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}},
        )
        if shown["interval_low"].notna().any():
            legend = (
                "After each name: the drug's measured hit rate on unseen cell lines (chance 33%); whiskers: 80% "
                "interval for this sample's true response"
            )
        else:
            legend = (
                "Reliability after each name (cross-validated ρ): ●●● high · ●●○ moderate · ●○○ low · "
                "○○○ unvalidated; intervals and hit rates are not available in this bundle"
            )
        st.caption(
            f"The {len(shown)} most sensitive of {n_match:,} matching drugs. "
            + legend
            + (" · ◆ measured response of this cell line" if measured is not None else "")
            + ". "
            + " · ".join(facts)
            + "."
        )
    with st.expander("How to read this chart and the reliability badge"):
        st.markdown(SIGN_CONVENTION.split(" Gene relevance")[0])
        st.markdown(HIT_RATE_EXPLANATION)
        st.markdown(RELIABILITY_EXPLANATION)
        st.markdown("●●● high · ●●○ moderate · ●○○ low · ○○○ unvalidated. Colours show the drug class.")

    # Wider than a laptop screen: the table scrolls sideways by design, with rank and drug pinned.
    with st.container(key="wide_predictions"):
        table, config = w.memo(
            profile,
            ("table", sample, tuple(shown["drug_key"]), measured is not None),
            lambda: w.table_view(_table(shown, measured, names), TABLE_COLUMNS),
        )
        st.dataframe(table, hide_index=True, column_config=config)
    _entries(profile, shown, sample)
    cols = st.columns(2)
    cols[0].download_button(
        "Download all predictions for this sample (CSV)",
        w.csv_download(neurix, rows),  # built only when clicked (~8 % of an upload's CPU), in a worker
        file_name=f"neurix_predictions_{_safe_name(sample)}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
    if len(profile.samples) > 1:
        cols[1].download_button(
            f"Download predictions for all {len(profile.samples)} samples (CSV)",
            w.csv_download(neurix, profile.predictions),
            file_name="neurix_predictions_all_samples.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
        )
    trust_panels.similar_lines(neurix, profile, sample, rows)
    if len(profile.samples) > 1:
        _cohort_view(profile, names)
    st.page_link(
        "views/explain.py",
        label="Why? See the genes behind the top predictions",
        icon=":material/psychology:",
    )


w.run_page(render, "predict")
