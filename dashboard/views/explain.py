"""Explain: which genes drove the predictions for the chosen sample and drugs (LRP relevance).

One explanation per (sample, drug) is computed once per session and reused when drugs are added or removed.
Relevance is in prediction units (a gene's share of the predicted z log AUC; gene shares + bias share = the
prediction). When the selected drugs share most of their top genes, the shared genes are shown once and each drug
by what sets it apart (neurix_core/explain/readable.py); stability marks come from the shipped fold models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import widgets as w
from neurix_core.explain.readable import budget_sentence
from neurix_core.explain.stability import LEGEND
from neurix_core.report.figures import gene_bars, relevance_heatmap
from neurix_core.report.text import RELEVANCE_IN_ONE_LINE, SIGN_CONVENTION, TARGET_MARK
from neurix_core.report.text import RELEVANCE_UNITS as UNITS

T = TypeVar("T")


@dataclass(frozen=True)
class View:
    """This page run's profile, sample and drug selection: the key under which its figures are kept."""

    profile: w.LoadedProfile
    sample: str
    drugs: tuple[str, ...]

    def memo(self, key: tuple, build: Callable[[], T]) -> T:
        """``widgets.memo`` for this selection: drawn again only when the sample, drugs or sliders change."""
        return w.memo(self.profile, ("explain", self.sample, self.drugs, *key), build)


def _heatmap_figure(
    frame: pd.DataFrame, matrix: pd.DataFrame, expression: pd.Series, labels: dict[str, str], n_genes: int
):
    """Genes with the largest |relevance| for any selected drug, as a genes × drugs heatmap (``matrix``: genes ×
    drug keys, and ``expression``: the sample's expression z per gene, both the overview's)."""
    strongest = matrix.abs().max(axis=1).sort_values(ascending=False).index[:n_genes]
    matrix = matrix.loc[strongest, [k for k in labels if k in matrix.columns]]
    matrix.columns = [labels[k] for k in matrix.columns]
    targets = {
        (gene, labels[key])
        for gene, key in frame.loc[frame["is_target"].astype(bool), ["gene", "drug_key"]].itertuples(
            index=False
        )
    }
    return relevance_heatmap(matrix, expression.loc[matrix.index], targets), len(matrix)


def _heatmap(view: View, frame: pd.DataFrame, overview: dict, labels: dict[str, str], n_genes: int) -> None:
    figure, shown = view.memo(
        ("heatmap", n_genes),
        lambda: _heatmap_figure(frame, overview["matrix"], overview["expression"], labels, n_genes),
    )
    st.plotly_chart(figure, key="relevance_heatmap", config={"displaylogo": False})
    st.caption(
        f"The {shown} genes with the largest absolute relevance for any selected drug. Red pushes "
        f"towards resistance, blue towards sensitivity; {TARGET_MARK} marks an annotated target of that "
        "drug."
    )


def _first(frame: pd.DataFrame, column: str) -> object:
    """The first row's value of ``column`` (None without the column): one cell, not a row of the wide frame."""
    return frame[column].iat[0] if column in frame.columns else None


def _stability_line(frame: pd.DataFrame) -> str:
    if pd.isna(_first(frame, "rank_correlation")):
        return (
            "Stability: not available in this bundle (it ships no fold models; retrain with `neurix train`)."
        )
    return (
        f"Stability across the shipped fold models: rank correlation of all gene relevances "
        f"{_first(frame, 'rank_correlation'):.2f}, top-20 overlap {_first(frame, 'top20_overlap'):.0%}."
    )


def _extremes(values: np.ndarray, per_side: int, last_ties: bool = False) -> np.ndarray:
    """Row positions (ascending) of the ``per_side`` lowest and highest values, ties to the first rows as
    ``nsmallest``/``nlargest`` pick them; with ``last_ties`` also the highest with ties to the last rows, as
    ``gene_bars`` picks them, so that ``gene_bars`` on these rows alone draws what it draws on all of them."""
    ascending = np.argsort(values, kind="stable")
    rows = np.union1d(ascending[:per_side], np.argsort(-values, kind="stable")[:per_side])
    return np.union1d(rows, ascending[max(0, ascending.size - per_side) :]) if last_ties else rows


def _contrast_bars(frame: pd.DataFrame, contrast: np.ndarray, per_side: int):
    """``contrast``: the drug's relevance minus the other drugs' mean, per row of ``frame``."""
    rows = _extremes(contrast, per_side, last_ties=True)
    values = contrast[rows]
    apart = pd.DataFrame(  # only the columns the bars read, only these rows (the frame has ~6,000 rows)
        {
            **{c: frame[c].array.take(rows) for c in ("gene", "is_target", "expression_z")},
            "relevance": values,
            "direction": np.where(values > 0, "resistance", "sensitising"),
        }
    )
    return gene_bars(
        apart, per_side, x_title="relevance − mean of the other drugs<br>← sensitising · resistance →"
    )


def _drug_panel(
    view: View,
    frame: pd.DataFrame,
    row: pd.Series,
    label: str,
    per_side: int,
    contrast: np.ndarray | None,
    specific: float,
) -> None:
    st.markdown(f"#### {label}")
    w.reliability_badge(row["cv_rho"], row.get("hit_rate"))
    st.caption(
        f"Rank {int(row['rank'])} · predicted z log AUC {row['z_log_auc']:+.2f} · {row['drug_class']} · "
        f"targets: {row['targets'] or 'n/a'}"
    )
    prediction, bias_share = _first(frame, "prediction"), _first(frame, "bias_share")
    st.caption(
        budget_sentence(prediction - bias_share, prediction, len(frame)) + " " + _stability_line(frame)
    )
    key = row["drug_key"]

    def own() -> object:
        return view.memo(("genes", key, per_side), lambda: gene_bars(frame, per_side))

    if contrast is not None:
        st.caption(
            f"What sets it apart from the other selected drugs: relevance minus their mean. This specific part "
            f"sums to {specific:+.3f} of its prediction {prediction:+.3f}."
        )
        st.plotly_chart(
            view.memo(("contrast", key, per_side), lambda: _contrast_bars(frame, contrast, per_side)),
            key=f"contrast_{key}",
            config={"displaylogo": False},
        )
        # drawn only once opened (a rerun): five hidden charts were ~10 % of the page's server time
        box = st.expander("This drug's own top genes", key=f"own_genes_{key}", on_change="rerun")
        if box.open:
            with box:
                st.plotly_chart(own(), key=f"genes_{key}", config={"displaylogo": False})
    else:
        st.plotly_chart(own(), key=f"genes_{key}", config={"displaylogo": False})
    shown = view.memo(  # the genes in the bars: the per_side lowest and highest relevances
        ("shown", key, per_side),
        lambda: set(frame["gene"].iloc[_extremes(frame["relevance"].to_numpy(dtype=float), per_side)]),
    )
    targets = np.flatnonzero(frame["is_target"].to_numpy(dtype=bool))  # positions; the frame has ~6,000 rows
    if targets.size == 0:
        return
    targets = targets[np.argsort(frame["rank"].to_numpy()[targets], kind="stable")][:5]
    genes = [str(g) for g in frame["gene"].array.take(targets)]
    ranks = ", ".join(
        f"{gene} #{int(rank):,} ({direction})"
        for gene, rank, direction in zip(
            genes, frame["rank"].to_numpy()[targets], frame["direction"].array.take(targets), strict=True
        )
    )
    message = f"Annotated target(s), ranked by |relevance| among {len(frame):,} genes: {ranks}"
    if shown & set(genes):
        st.success(f"{TARGET_MARK} {message}", icon=":material/target:")
    else:
        st.caption(message)


def _common_pattern(view: View, overview: dict, frame: pd.DataFrame, per_side: int) -> None:
    """The genes most selected drugs share, shown once (drugs predicted best for a profile share its pattern)."""
    common = overview["common"]
    n_drugs = overview["matrix"].shape[1]
    st.subheader("Common pattern behind these predictions")
    st.caption(
        f"The selected drugs share {overview['overlap']:.0%} of their top-20 genes on average (pairwise overlap): "
        f"their predictions for this sample rest largely on the same genes. These {len(common)} genes are in the "
        f"top 20 of at least half of the {n_drugs} drugs; bars show their mean relevance over the drugs."
    )
    st.plotly_chart(
        view.memo(("common", per_side), lambda: _common_bars(overview, frame, per_side)),
        key="common_pattern",
        config={"displaylogo": False},
    )


def _common_bars(overview: dict, frame: pd.DataFrame, per_side: int):
    common = overview["common"]
    genes = frame.drop_duplicates("gene").set_index("gene")
    shared = genes.loc[common["gene"], ["expression_z"]].reset_index()
    shared["relevance"] = common["mean_relevance"].to_numpy()
    shared["direction"] = common["direction"].to_numpy()
    shared["is_target"] = False
    return gene_bars(
        shared, per_side, x_title="mean relevance over the selected drugs<br>← sensitising · resistance →"
    )


def render() -> None:
    context = w.profile_page("Explain: genes behind the predictions", "explanations")
    if context is None:
        return
    neurix, profile, sample = context
    selected = w.drug_picker(
        neurix,
        profile,
        sample,
        f"Drugs to explain (up to {w.MAX_EXPLAINED_DRUGS}; default: the 5 most sensitive predictions)",
        "explain",
    )
    cols = st.columns(2)
    n_genes = cols[0].slider("Genes in the heatmap", 10, 60, 25, step=5, key="explain_heatmap_genes")
    per_side = cols[1].slider("Top sensitising / resistance genes per drug", 3, 20, 8, key="explain_per_side")
    st.info(RELEVANCE_IN_ONE_LINE, icon=":material/explore:")
    # the full conventions, folded so the heatmap stays in view
    with st.expander("How to read gene relevance"):
        st.markdown(f"{SIGN_CONVENTION}\n\n{UNITS}")
    if not selected:
        st.info("Choose at least one drug to explain.", icon=":material/info:")
        return
    view = View(profile, sample, tuple(selected))
    with st.spinner("Computing gene relevances…"):
        frame = w.explanation(neurix, profile, sample, selected, summarise=True)  # cached per drug already
    names = w.drug_names(neurix)
    labels = {key: names.get(key, key) for key in selected}
    rows = profile.sample_predictions(sample).set_index("drug_key")

    overview = w.overview(neurix, profile, sample, selected, frame)
    rows_of = view.memo(("rows",), lambda: w.drug_blocks(frame))  # slices: selecting a drug copies nothing
    if overview["missing_targets"]:
        st.caption(overview["missing_targets"])

    st.subheader(f"Relevance heatmap · {profile.sample_label(sample)}")
    _heatmap(view, frame, overview, labels, n_genes)

    show_common = overview["show_common"]
    if show_common:
        _common_pattern(view, overview, frame, per_side)
    st.subheader("What sets each drug apart" if show_common else "Top genes per drug")
    st.caption(
        "Bars show each gene's relevance; the label gives the gene's expression in this sample (z-score "
        f"within the sample: + above, − below its average gene). {LEGEND}."
    )
    columns = st.columns(2)
    for i, key in enumerate(selected):
        with columns[i % 2]:
            row = rows.loc[key].copy()
            row["drug_key"] = key
            _drug_panel(
                view,
                frame.iloc[rows_of[key]],
                row,
                labels[key],
                per_side,
                overview["contrast"][key].to_numpy()[overview["gene_rows"][rows_of[key]]]
                if show_common
                else None,
                float(overview["specific_share"][key]),
            )

    st.download_button(
        "Download these top genes (CSV)",
        lambda: _top_genes_csv(frame, per_side),  # built only when clicked
        file_name="neurix_top_genes.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )


def _top_genes_csv(frame: pd.DataFrame, per_side: int) -> bytes:
    """The 2 × per_side genes of largest |relevance| per drug (``rank``: by |relevance| within the drug), most
    relevant first over all drugs, as the download offers them."""
    kept = np.flatnonzero(frame["rank"].to_numpy() <= 2 * per_side)  # positions: one row take, not two
    kept = kept[np.argsort(-np.abs(frame["relevance"].to_numpy()[kept]), kind="stable")]
    export = frame[
        [
            "sample",
            "drug_key",
            "drug_name",
            "gene",
            "relevance",
            "direction",
            "is_target",
            "expression_z",
            "stability",
            "agreeing_models",
            "prediction",
            "bias_share",
        ]
    ].iloc[kept]
    return export.to_csv(index=False).encode("utf-8")


w.run_page(render, "explain")
