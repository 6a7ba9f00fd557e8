"""Discover: for one drug, the genes that most consistently drive its predictions on held-out cell lines.

Precomputed at training time from the cross-validation fold models (each explaining only the lines it never saw;
neurix_core/explain/discovery.py), so no profile is needed. Genes are marked known (annotated target, curated marker
with its source) or not annotated — a candidate for a hypothesis, not a finding.
"""

from __future__ import annotations

import streamlit as st

from dashboard import widgets as w
from neurix_core.report.figures import relevance_expression_scatter

COLUMNS = {
    "discovery_rank": "rank",
    "gene": "gene",
    "consistency": "consistency",
    "association": "direction",
    "sign_consistency": "sign agreement",
    "fold_top": "fold models agreeing",
    "known": "known?",
    "source": "source",
    "abs_rank": "rank by mean |relevance|",
}


def render() -> None:
    neurix = w.get_neurix()
    st.title("Discover: genes behind a drug's predictions")
    if neurix is None:
        return
    discovery = neurix.discovery
    if discovery is None:
        st.info(
            "The discovery view is not available in this bundle: it was trained before discovery existed. Retrain "
            "it with `neurix train` (the pipeline computes it from the cross-validation fold models).",
            icon=":material/info:",
        )
        return
    drugs = neurix.bundle.drugs.sort_values(["drug_name", "screen"])
    options = dict(zip(drugs["drug_key"], drugs["drug_name"] + " · " + drugs["drug_key"], strict=True))
    cols = st.columns([3, 1])
    default = next((k for k, v in options.items() if v.startswith("Cisplatin")), next(iter(options)))
    key = cols[0].selectbox(
        "Drug", list(options), index=list(options).index(default), format_func=options.get
    )
    top = cols[1].slider("Genes", 10, 100, 30, step=10, key="discover_top")
    table = neurix.discover(key, top=top)
    info = discovery.drugs.set_index("drug_key").loc[key]
    row = neurix.bundle.drugs.set_index("drug_key").loc[key]
    w.reliability_badge(row.get("cv_rho"))
    st.caption(
        f"{int(info['n_cells']):,} held-out cell lines screened with the drug, explained by {int(info['n_folds'])} "
        f"fold models that never saw them · targets: {row['targets'] or 'n/a'} · agreement between fold models: "
        f"gene-ranking ρ {info['fold_rank_agreement']:.2f}, top-20 overlap {info['fold_top20_overlap']:.0%}"
    )
    st.info(
        "Consistency = share of held-out cell lines in which the gene is among the top 1% of genes driving the "
        "prediction (by |relevance|). Direction = how the gene's relevance changes with its expression across "
        "lines. Known = annotated target or curated literature marker; not annotated genes are candidates worth "
        "checking, not findings. Association is not causation: validate before acting on it.",
        icon=":material/biotech:",
    )
    shown = table[list(COLUMNS)].rename(columns=COLUMNS)
    with st.container(key="wide_discover"):  # wider than a laptop screen: scrolls sideways, rank/gene pinned
        w.show_table(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "rank": st.column_config.NumberColumn(width=55, pinned=True),
                "gene": st.column_config.TextColumn(width=100, pinned=True),
                "consistency": st.column_config.ProgressColumn(
                    format="percent", min_value=0, max_value=1, width=130
                ),
                "direction": st.column_config.TextColumn(width=215),
                "sign agreement": st.column_config.NumberColumn(format="percent", width=120),
                "fold models agreeing": st.column_config.NumberColumn(width=150),
            },
        )
    st.download_button(
        "Download this table (CSV)",
        table.to_csv(index=False).encode("utf-8"),
        file_name=f"neurix_discovery_{key.replace(':', '_')}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )

    plot_genes = [g for g in discovery.plot_genes[discovery.drugs["drug_key"].tolist().index(key)] if g]
    st.subheader("Relevance against expression")
    gene = st.selectbox("Gene (the drug's top genes)", plot_genes, key="discover_gene")
    points = neurix.discovery_points(key, gene)
    st.plotly_chart(
        relevance_expression_scatter(points, gene, options[key].split(" · ")[0]),
        key="discover_scatter",
        config={"displaylogo": False},
    )
    st.caption(
        f"One point per held-out cell line ({len(points)} of a fixed random subsample). A rising cloud: the higher "
        "the gene's expression, the more it pushes the prediction towards resistance; a falling cloud: towards "
        "sensitivity."
    )


w.run_page(render, "discover")
