"""Explain: which genes drove the predictions for the chosen sample and drugs (LRP relevance).

One explanation per (sample, drug) is computed once per session and reused when drugs are added or removed.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import widgets as w
from neurix_core.report.figures import gene_bars, relevance_heatmap
from neurix_core.report.text import SIGN_CONVENTION, TARGET_MARK


def _heatmap(frame: pd.DataFrame, labels: dict[str, str], n_genes: int) -> None:
    """Genes with the largest |relevance| for any selected drug, as a genes × drugs heatmap."""
    matrix = frame.pivot_table(index="gene", columns="drug_key", values="relevance", aggfunc="first")
    strongest = matrix.abs().max(axis=1).sort_values(ascending=False).index[:n_genes]
    matrix = matrix.loc[strongest, [k for k in labels if k in matrix.columns]]
    matrix.columns = [labels[k] for k in matrix.columns]
    targets = {
        (gene, labels[key])
        for gene, key in frame.loc[frame["is_target"].astype(bool), ["gene", "drug_key"]].itertuples(
            index=False
        )
    }
    expression = frame.drop_duplicates("gene").set_index("gene")["expression_z"]
    st.plotly_chart(
        relevance_heatmap(matrix, expression, targets), key="relevance_heatmap", config={"displaylogo": False}
    )
    st.caption(
        f"The {len(matrix)} genes with the largest absolute relevance for any selected drug. Red pushes "
        f"towards resistance, blue towards sensitivity; {TARGET_MARK} marks an annotated target of that "
        "drug."
    )


def _drug_panel(frame: pd.DataFrame, row: pd.Series, label: str, per_side: int) -> None:
    st.markdown(f"#### {label}")
    w.reliability_badge(row["cv_rho"], row.get("hit_rate"))
    st.caption(
        f"Rank {int(row['rank'])} · predicted z log AUC {row['z_log_auc']:+.2f} · {row['drug_class']} · "
        f"targets: {row['targets'] or 'n/a'}"
    )
    st.plotly_chart(gene_bars(frame, per_side), key=f"genes_{row['drug_key']}", config={"displaylogo": False})
    ordered = frame.sort_values("relevance")
    shown = set(ordered["gene"].head(per_side)) | set(ordered["gene"].tail(per_side))  # as in the bars
    targets = frame[frame["is_target"].astype(bool)].sort_values("rank").head(5)
    if targets.empty:
        st.caption("None of the drug's annotated targets is among the model's genes.")
        return
    ranks = ", ".join(
        f"{gene} #{int(rank):,} ({direction})"
        for gene, rank, direction in zip(targets["gene"], targets["rank"], targets["direction"], strict=True)
    )
    message = f"Annotated target(s), ranked by |relevance| among {len(frame):,} genes: {ranks}"
    if shown & set(targets["gene"]):
        st.success(f"{TARGET_MARK} {message}", icon=":material/target:")
    else:
        st.caption(message)


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
    st.info(SIGN_CONVENTION, icon=":material/explore:")
    if not selected:
        st.info("Choose at least one drug to explain.", icon=":material/info:")
        return
    with st.spinner("Computing gene relevances…"):
        frame = w.explanation(neurix, profile, sample, selected)
    names = w.drug_names(neurix)
    labels = {key: names.get(key, key) for key in selected}
    rows = profile.sample_predictions(sample).set_index("drug_key")

    st.subheader(f"Relevance heatmap · {profile.sample_label(sample)}")
    _heatmap(frame, labels, n_genes)

    st.subheader("Top genes per drug")
    st.caption(
        "Bars show each gene's relevance; the label gives the gene's expression in this sample (z-score "
        "within the sample: + above, − below its average gene)."
    )
    columns = st.columns(2)
    for i, key in enumerate(selected):
        with columns[i % 2]:
            row = rows.loc[key].copy()
            row["drug_key"] = key
            _drug_panel(frame[frame["drug_key"] == key], row, labels[key], per_side)

    ranked = frame.reindex(frame["relevance"].abs().sort_values(ascending=False).index)
    top = ranked.groupby("drug_key", sort=False).head(2 * per_side)
    export = top[
        ["sample", "drug_key", "drug_name", "gene", "relevance", "direction", "is_target", "expression_z"]
    ]
    st.download_button(
        "Download these top genes (CSV)",
        export.to_csv(index=False).encode("utf-8"),
        file_name="neurix_top_genes.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )


w.run_page(render, "explain")
