"""Home: what Neurix does and does not claim, the model card, the disclaimer, citations and an example."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from dashboard import widgets as w
from neurix_core.api import Neurix
from neurix_core.report.text import (
    CITATIONS,
    CLAIMS,
    NON_CLAIMS,
    PLATFORM_CAVEAT,
    SIGN_CONVENTION,
    training_data_text,
)


def _fmt(value: object, digits: int = 3) -> str:
    try:
        return f"{float(value):.{digits}f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"


def _example_picker(neurix: Neurix) -> None:
    examples = neurix.bundle.examples
    st.subheader("Try an example")
    if examples is None or examples.empty:
        st.caption("This model bundle ships no example profiles.")
        return
    labels: dict[str, str] = {}
    for sample in examples.index.astype(str):
        responses = neurix.example_responses(sample)
        if len(responses):
            first = responses.iloc[0]
            labels[sample] = f"{first.get('cell_line_name', sample)} · {first.get('primary_disease', '')}"
        else:
            labels[sample] = sample
    st.caption(
        "Held-out cancer cell lines the model never saw in training, with their measured responses shown "
        "next to the predictions."
    )
    st.selectbox("Example cell line", list(labels), format_func=labels.get, key="neurix_example_choice")
    if w.load_example_button(neurix):
        st.switch_page("views/predict.py")


def _model_card(neurix: Neurix) -> None:
    bundle = neurix.bundle
    manifest: Mapping = bundle.manifest
    validation: Mapping = bundle.validation or {}
    st.subheader("Model card")
    cv = (validation.get("cross_validation") or {}).get("summary") or {}
    overall = cv.get("all") if isinstance(cv.get("all"), Mapping) else {}
    st.markdown(
        f"**Version** {manifest.get('model_version', 'unknown')} · **created** "
        f"{str(manifest.get('created', 'n/a'))[:10]} · **screens** "
        f"{', '.join(map(str, manifest.get('screens', []))) or 'n/a'}"
    )
    n_lines = validation.get("n_cell_lines")
    cols = st.columns(3)  # two rows of short labels: five columns cut labels at laptop widths
    cols[0].metric(
        "Compounds",
        f"{bundle.drugs['compound_id'].nunique():,}",
        help=f"{len(bundle.drugs):,} screen entries (GDSC1 and GDSC2 entries of one compound count once)",
    )
    cols[1].metric("Training cell lines", f"{n_lines:,}" if isinstance(n_lines, int) else "–")
    cols[2].metric("Genes (input)", f"{len(bundle.genes):,}")
    cols = st.columns(3)
    cols[0].metric(
        "Mean per-drug ρ",
        _fmt(overall.get("mean_rho")) if overall else "–",
        help="Cross-validated over unseen cell lines",
    )
    cols[1].metric(
        f"Drugs with ρ > 0.2 (of {overall.get('n_drugs', '?')})" if overall else "Drugs with ρ > 0.2",
        f"{overall['n_rho_gt_0.2']}" if "n_rho_gt_0.2" in overall else "–",
    )
    if not overall:
        st.info(
            "This model bundle has no cross-validation figures: every drug's reliability shows as "
            "'unvalidated'. Use a bundle trained with cross-validation for real use.",
            icon=":material/info:",
        )
    drugs = bundle.drugs
    n_compounds = drugs["compound_id"].nunique() if "compound_id" in drugs else len(drugs)
    st.markdown(
        "**Training data:** "
        + training_data_text(len(bundle.genes), len(drugs), n_compounds)
        + " **Model:** a two-tower neural network (expression tower × drug tower from structure fingerprints "
        "and a learnt drug identity), as in NeurixAI. **Validation:** 5-fold cross-validation over cell lines "
        "(the per-drug Spearman ρ behind every reliability badge), a ridge-regression baseline and cross-lab "
        "transfer where the bundle includes them: see the Model page."
    )
    st.info(f"**Platform.** {PLATFORM_CAVEAT}", icon=":material/compare_arrows:")
    st.page_link("views/model.py", label="All validation figures", icon=":material/analytics:")


def render() -> None:
    neurix = w.get_neurix()
    st.title("Neurix · explainable drug-response prediction")
    n_compounds = f"{neurix.bundle.drugs['compound_id'].nunique():,}" if neurix else "hundreds of"
    st.markdown(
        "Neurix reads a tumour's gene expression profile and predicts how sensitive it is to "
        f"{n_compounds} cancer and "
        "non-cancer compounds, "
        "relative to the cancer cell lines the model learnt from, then shows **which genes drove each "
        "prediction** and how far each drug's prediction can be trusted."
    )
    w.disclaimer()
    left, right = st.columns(2)
    with left:
        st.subheader("What Neurix does")
        st.markdown("\n".join(f"- {claim}" for claim in CLAIMS))
    with right:
        st.subheader("What it does not claim")
        st.markdown("\n".join(f"- {claim}" for claim in NON_CLAIMS))
    st.caption(SIGN_CONVENTION)
    if neurix is None:
        return
    left, right = st.columns([1, 2], gap="large")
    with left:
        _example_picker(neurix)
        st.subheader("Your own data")
        st.page_link(
            "views/predict.py", label="Upload a profile on the Predict page", icon=":material/upload_file:"
        )
    with right:
        _model_card(neurix)
    st.subheader("Data and method citations")
    st.markdown("\n".join(f"- **{c.key}**: {c.text} [doi:{c.doi}]({c.url})" for c in CITATIONS))


w.run_page(render, "home")
