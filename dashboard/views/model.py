"""Model: the validation behind every reliability badge, read from the bundle (missing parts are skipped)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd
import streamlit as st

from dashboard import trust_panels
from dashboard import widgets as w
from neurix_core.api import Neurix
from neurix_core.data.drug_classes import class_overrides
from neurix_core.explain.biology import biology_check
from neurix_core.report.figures import (
    external_histogram,
    loss_curve,
    rho_by_class,
    rho_histogram,
    ridge_comparison,
)
from neurix_core.report.protocol import (
    methods_frame,
    paired_sentence,
    protocol_text,
    repeated_cv_text,
    repeated_protocol,
)
from neurix_core.report.text import PLATFORM_CAVEAT, hybrid_text, training_data_text

EXTERNAL_TITLES = {
    "gdsc_to_prism": "GDSC → PRISM: trained on GDSC cell lines, scored against PRISM measurements",
    "prism_to_gdsc": "PRISM → GDSC: trained on PRISM, scored against GDSC measurements",
}
SUMMARY_COLUMNS = {
    "n_drugs": "drugs",
    "mean_rho": "mean ρ",
    "median_rho": "median ρ",
    "n_rho_gt_0.2": "ρ > 0.2",
    "frac_rho_gt_0.2": "fraction ρ > 0.2",
    "n_rho_gt_0.3": "ρ > 0.3",
    "frac_rho_gt_0.3": "fraction ρ > 0.3",
}


def summary_frame(summary: Mapping | None) -> pd.DataFrame:
    """Per-class summary blocks ({class: {n_drugs, mean_rho, ...}}) as a table; other entries are skipped."""
    blocks = {str(k): v for k, v in (summary or {}).items() if isinstance(v, Mapping)}
    if not blocks:
        return pd.DataFrame()
    frame = pd.DataFrame.from_dict(blocks, orient="index")
    frame = frame[[c for c in SUMMARY_COLUMNS if c in frame.columns]].rename(columns=SUMMARY_COLUMNS)
    order = ["all", *sorted(k for k in frame.index if k != "all")]
    frame = frame.loc[[k for k in order if k in frame.index]]
    frame.index.name = "drug class"
    return frame.round(3)


def _version(neurix: Neurix) -> None:
    manifest = neurix.bundle.manifest
    st.markdown(
        f"**Version** {manifest.get('model_version', 'unknown')} · "
        f"**created** {manifest.get('created', 'n/a')} · "
        f"**screens** {', '.join(map(str, manifest.get('screens', []))) or 'n/a'} · **bundle format** "
        f"{manifest.get('format_version', 'n/a')}"
    )
    cols = st.columns(3)
    cols[0].metric("Genes", f"{len(neurix.bundle.genes):,}")
    cols[1].metric(
        "Compounds (screen entries)",
        f"{neurix.bundle.drugs['compound_id'].nunique():,} ({len(neurix.bundle.drugs):,})",
    )
    n_lines = (neurix.bundle.validation or {}).get("n_cell_lines")
    cols[2].metric("Training cell lines", f"{n_lines:,}" if isinstance(n_lines, int) else "n/a")


def _training_data(neurix: Neurix) -> None:
    """What the model was trained on and the platform caveat (same words as the Home page and the report)."""
    st.subheader("Training data and platform")
    drugs = neurix.bundle.drugs
    st.markdown(training_data_text(len(neurix.bundle.genes), len(drugs), drugs["compound_id"].nunique()))
    st.info(PLATFORM_CAVEAT, icon=":material/compare_arrows:")
    with st.expander("Drug classes: rules and hand-checked overrides", icon=":material/rule:"):
        st.markdown(
            "Precedence: a hand-checked override (below, each with its source) > a non-oncology Repurposing "
            "Hub disease area > a cytotoxic mechanism (chemotherapy) > an oncology disease area or any "
            "annotated mechanism (targeted) > nothing annotated (uncharacterised). All screen entries of a "
            "compound share one class. The cross-validation table below counts classes as they were at "
            "training time."
        )
        w.show_table(class_overrides().reset_index(), hide_index=True)


def _cross_validation(neurix: Neurix) -> None:
    st.subheader("Cross-validation on unseen cell lines")
    validation = neurix.bundle.validation or {}
    cv = validation.get("cross_validation") or {}
    drugs = neurix.bundle.drugs
    rho = drugs["cv_rho"] if "cv_rho" in drugs.columns else pd.Series(dtype=float)
    if not cv and rho.isna().all():
        st.info(
            "This model bundle has no cross-validation results; all predictions show as 'unvalidated'.",
            icon=":material/info:",
        )
        return
    st.markdown(
        f"{cv.get('n_folds', 5)}-fold cross-validation over cell lines: each drug's ρ is the Spearman "
        "correlation between predicted and measured response of cell lines the model did not see (pooled "
        "out-of-fold predictions in bundles from format 2). This ρ is the reliability badge shown next to "
        "every prediction where the bundle has no measured hit rates."
    )
    table = summary_frame(cv.get("summary"))
    if not table.empty:
        w.show_table(table)
    if rho.notna().any():
        left, right = st.columns(2)
        histogram = rho_histogram(drugs)  # legend below the axis: above, it ran into the ρ thresholds' labels
        histogram.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.28, "x": 0})
        left.plotly_chart(histogram, key="rho_hist", config={"displaylogo": False})
        right.plotly_chart(rho_by_class(drugs), key="rho_class", config={"displaylogo": False})


def _protocol(neurix: Neurix) -> None:
    """Baselines on the same folds, within-lineage ρ and the paired comparison (bundle format 2)."""
    validation = neurix.bundle.validation or {}
    text = protocol_text(validation)
    if text is None:
        return
    st.subheader("Against the baselines, and beyond tissue of origin")
    fitted = neurix.bundle.fitted
    st.markdown(f"{hybrid_text(fitted.linear_weight, fitted.training.reduced_rank_weight)} {text}")
    repeated = repeated_cv_text(validation)
    if repeated is not None:
        protocol = repeated_protocol(validation)
        st.markdown(f"**{repeated}**")
        w.show_table(methods_frame(protocol))
        for baseline in ("ridge", "tissue"):
            sentence = paired_sentence(protocol, baseline)
            if sentence:
                st.markdown(f"- {sentence}")
        st.markdown(
            "**The partition this bundle was trained with** (its fold models calibrate the intervals):"
        )
    table = methods_frame(validation.get("protocol"))
    if not table.empty:
        w.show_table(table)
    for baseline in ("ridge", "tissue"):
        sentence = paired_sentence(validation.get("protocol"), baseline)
        if sentence:
            st.markdown(f"- {sentence}")
    if repeated is None:
        st.caption(
            "One partition of the cell lines, as trained; this bundle carries no repeated cross-validation "
            "(README and benchmarks/results/cross_validation.md give it for the shipped model)."
        )


def _ridge(neurix: Neurix) -> None:
    ridge = (neurix.bundle.validation or {}).get("ridge_baseline")
    drugs = neurix.bundle.drugs
    if not ridge and "ridge_rho" not in drugs.columns:
        return
    st.subheader("Comparison with a ridge-regression baseline")
    if isinstance(ridge, Mapping) and "model_wins" in ridge:
        st.markdown(
            f"Neurix has the higher ρ for **{ridge['model_wins']} of {ridge.get('n_compared', '?')}** "
            "drugs (same folds)."
        )
    if isinstance(ridge, Mapping):
        table = summary_frame(ridge.get("summary"))
        if not table.empty:
            w.show_table(table)
    if "ridge_rho" in drugs.columns and drugs["ridge_rho"].notna().any():
        st.plotly_chart(ridge_comparison(drugs), key="ridge", config={"displaylogo": False})


def _external(neurix: Neurix) -> None:
    external = (neurix.bundle.validation or {}).get("external")
    if not isinstance(external, Mapping) or not external:
        return
    st.subheader("External validation across labs")
    st.markdown(
        "Train on one lab's screen and predict the same compounds measured by another lab on other cell "
        "lines: the hardest test, closest to a new tumour."
    )
    blocks = [(name, block) for name, block in external.items() if isinstance(block, Mapping)]
    for name, block in blocks:  # tables at full width: in side-by-side columns they were cut off
        summary = block.get("summary") or {}
        st.markdown(f"**{EXTERNAL_TITLES.get(name, name)}**")
        if "n_train_cell_lines" in summary:
            st.caption(
                f"{summary['n_train_cell_lines']} training cell lines, "
                f"{summary.get('n_test_cell_lines', '?')} test cell lines"
            )
        table = summary_frame(summary)
        if not table.empty:
            w.show_table(table)
    charts = [(n, pd.DataFrame(b.get("per_drug") or [])) for n, b in blocks]
    charts = [(n, frame) for n, frame in charts if not frame.empty and "rho" in frame.columns]
    for col, (name, per_drug) in zip(st.columns(max(1, len(charts))), charts, strict=False):
        col.plotly_chart(
            external_histogram(per_drug, title=EXTERNAL_TITLES.get(name, name).split(":")[0]),
            key=f"external_{name}",
            config={"displaylogo": False},
        )


def _biology(neurix: Neurix) -> None:
    """The biology check of the explanations (CV fold models on held-out lines; benchmarks/biology_check.py)."""
    st.subheader("Do the explanations recover known biology?")
    if neurix.discovery is None:
        st.info(
            "The biology check is not available in this bundle: it was trained before the discovery artefact "
            "existed. Retrain it with `neurix train`; the check then runs on the cross-validation fold models.",
            icon=":material/info:",
        )
        return
    table, summary = biology_check(neurix.discovery, neurix.bundle.drugs, neurix.bundle.genes)
    st.markdown(
        "Where literature markers of drug response rank among all genes when the cross-validation fold models "
        "explain cell lines they never saw (rank by mean |relevance|; 1 = most relevant). Reported, never tuned "
        "on: a model change that improves ρ but loses these is a trade-off, stated here."
    )
    cols = st.columns(3)
    cols[0].metric(
        "Targeted drugs with a target in the top 1%",
        f"{summary['with_target_in_top_1pct']} of {summary['targeted_drugs_with_measured_target']}",
        help=f"{summary['expected_by_chance']:.1f} expected by chance",
    )
    cols[1].metric(
        "Curated markers in the top 1% / 5%",
        f"{summary['markers_in_top_1pct']} / {summary['markers_in_top_5pct']} of {summary['markers_checked']}",
    )
    cols[2].metric("Fold-model agreement (ρ)", f"{summary['median_fold_rank_agreement']:.2f}")
    shown = table[["gene", "drug", "drug_key", "expected", "abs_rank", "model_trend", "agrees", "source"]]
    shown = shown.assign(agrees=shown["agrees"].map({True: "yes", False: "no"}))  # None (not ranked) → "–"
    with st.container(key="wide_biology"):  # wider than a laptop screen: scrolls sideways, gene/drug pinned
        w.show_table(
            shown.rename(columns={"abs_rank": "rank", "model_trend": "model", "drug_key": "screen entry"}),
            hide_index=True,
            column_config={
                "gene": st.column_config.TextColumn(width=90, pinned=True),
                "drug": st.column_config.TextColumn(width=120, pinned=True),
                "screen entry": st.column_config.TextColumn(width=110),
                "expected": st.column_config.TextColumn(width=100),
                "rank": st.column_config.NumberColumn(
                    format="%d", width=60, help="rank by mean |relevance| among all genes"
                ),
                "model": st.column_config.TextColumn(width=215),
                "agrees": st.column_config.TextColumn(width=70),
            },
        )


def _training(neurix: Neurix) -> None:
    manifest = neurix.bundle.manifest
    with st.expander("Training configuration, libraries and data fingerprints"):
        history = manifest.get("loss_history") or []
        if history:
            st.plotly_chart(
                loss_curve([float(v) for v in history]), key="loss", config={"displaylogo": False}
            )
        for title, key in (
            ("Model", "model_config"),
            ("Training", "training_config"),
            ("Libraries", "libraries"),
            ("Source data (sha256)", "data_fingerprint"),
        ):
            if manifest.get(key):
                st.markdown(f"**{title}**")
                st.code(json.dumps(manifest[key], indent=1), language="json")


def render() -> None:
    neurix: Neurix | None = w.get_neurix()
    st.title("Model card and validation")
    if neurix is None:
        return
    _version(neurix)
    _training_data(neurix)
    _cross_validation(neurix)
    trust_panels.calibration_section(neurix)
    _protocol(neurix)
    _ridge(neurix)
    _external(neurix)
    _biology(neurix)
    _training(neurix)


w.run_page(render, "model")
