"""Drug map: the drug tower's latent space (UMAP), coloured by this tumour's predicted sensitivity, reliability or an
annotation, with repurposing candidates for the current sample and a search/click that shows a drug's neighbours."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import widgets as w
from neurix_core.api import Neurix
from neurix_core.errors import NeurixError
from neurix_core.report.figures import drug_map_scatter
from neurix_core.report.text import reliability
from neurix_core.repurpose.candidates import tumour_types

SAMPLE_COLOURS = {
    "sensitivity": "Sensitivity (this sample)",
}
COLOUR_OPTIONS = {
    "reliability": "Reliability (CV ρ)",
    "drug_class": "Drug class",
    "moa": "Mechanism of action",
    "pathway": "Pathway",
    "disease_area": "Disease area",
}
ANY_TUMOUR = ""
FOCUS_KEY = "map_focus"  # the searched drug (a drug_key); a click on the map sets it too
CLICK_KEY = "map_last_click"
N_NEIGHBOURS = 8


SUGGESTION_SOURCE = {
    "example": "the lineage of this example cell line",
    "neighbours": "the majority lineage of the most similar training cell lines",
}


def _suggestion(neurix: Neurix, profile: w.LoadedProfile, sample: str) -> tuple[str | None, str]:
    """(suggested lineage, where it comes from): an example's own lineage, else the nearest training lines'."""
    types = tumour_types()
    lineage = profile.sample_info.get(sample, {}).get("lineage", "")
    if lineage in types:
        return lineage, "example"
    try:
        lineage = neurix.suggested_lineage(profile.model_input, sample)
    except NeurixError:
        return None, ""
    return (lineage, "neighbours") if lineage in types else (None, "")


def _tumour_type(
    neurix: Neurix, profile: w.LoadedProfile | None, sample: str | None
) -> tuple[str | None, str | None, str]:
    """(chosen tumour type, suggested lineage, its source): a suggestion is offered, clearly labelled, and is
    used only until the user chooses."""
    types = tumour_types()
    suggested, source = _suggestion(neurix, profile, sample) if profile is not None and sample else (None, "")
    options = [ANY_TUMOUR, *types]
    choice = st.selectbox(
        "Tumour type (OncoTree lineage)",
        options,
        index=0,
        format_func=lambda t: t or (f"Suggested: {suggested}" if suggested else "Choose a tumour type…"),
        key=f"{w.TUMOUR_KEY}_{profile.fingerprint if profile else ''}_{sample}",
        help="Drugs already approved for this tumour type are not repurposing candidates; indications are "
        "matched to lineages through a vocabulary of indication terms.",
    )
    return choice or None, suggested, source


def _candidate_table(candidates: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    table = candidates.copy()
    table["number"] = range(1, len(table) + 1)  # as on the map's numbered markers
    table["drug"] = table["drug_key"].map(names)
    table["reliability"] = [f"{t.symbol} {t.tier}" for t in map(reliability, table["cv_rho"])]
    table["indication"] = table["indication"].fillna("").astype(str).str.replace("|", ", ", regex=False)
    return table[
        [
            "number",
            "drug",
            "drug_class",
            "z_log_auc",
            "predicted_auc",
            "reliability",
            "cv_rho",
            "phase",
            "disease_area",
            "indication",
            "targets",
            "repurposing_score",
        ]
    ]


def _clicked_drug() -> str | None:
    """The drug_key of a point newly clicked on the map (the chart's selection survives reruns: act once)."""
    event = st.session_state.get("drug_map")
    points = (((event or {}).get("selection") or {}).get("points")) or []
    data = [p.get("customdata") for p in points]
    keys = [d[7] for d in data if isinstance(d, list) and len(d) > 7 and d[7]]  # column 7: drug_key
    signature = tuple(keys)
    if not keys or st.session_state.get(CLICK_KEY) == signature:
        return None
    st.session_state[CLICK_KEY] = signature
    return keys[0]


def _neighbour_table(
    neurix: Neurix, focus: str, predictions: dict[str, float], names: dict[str, str]
) -> pd.DataFrame:
    table = neurix.drug_neighbours(focus, k=N_NEIGHBOURS)
    table["drug"] = table["drug_key"].map(names)
    table["prediction"] = table["drug_key"].map(predictions)
    table["reliability"] = [f"{t.symbol} {t.tier}" for t in map(reliability, table["cv_rho"])]
    columns = ["drug", "similarity", "drug_class", "prediction", "reliability", "targets", "moa"]
    if not predictions:
        columns.remove("prediction")
    return table[columns]


def render() -> None:
    neurix: Neurix | None = w.get_neurix()
    st.title("Drug map and repurposing candidates")
    if neurix is None:
        return
    table = neurix.drug_map()
    names = w.drug_names(neurix)
    profile = w.current_profile()
    sample = w.sample_switcher(profile) if profile is not None else None
    options = {**(SAMPLE_COLOURS if profile is not None else {}), **COLOUR_OPTIONS}
    clicked = _clicked_drug()
    if clicked is not None:
        st.session_state[FOCUS_KEY] = clicked
    cols = st.columns([1, 1, 1.2])
    colour_by = cols[0].selectbox("Colour drugs by", list(options), format_func=options.get, key="map_colour")
    with cols[1]:
        tumour, suggested, source = (
            _tumour_type(neurix, profile, sample) if profile is not None else (None, None, "")
        )
    labels = {key: names.get(key, key) for key in table["drug_key"]}
    focus = cols[2].selectbox(
        "Find a drug (or click one on the map)",
        sorted(labels, key=lambda k: labels[k].lower()),
        index=None,
        format_func=labels.get,
        key=FOCUS_KEY,
        placeholder="Type a drug name…",
    )
    st.caption(
        "Each point is a drug placed by the model's learnt drug representation: drugs close together are "
        "predicted to act on similar tumours. "
        + (
            "Blue: this sample is predicted more sensitive than the average cell line, red: more resistant. "
            if colour_by == "sensitivity"
            else ""
        )
        + "Hover for target, phase, indication, reliability and this sample's prediction."
    )
    candidates = pd.DataFrame()
    predictions: dict[str, float] = {}
    if profile is not None and sample is not None:
        rows = profile.sample_predictions(sample)
        by_compound = dict(zip(rows["compound_id"], rows["z_log_auc"].astype(float), strict=True))
        predictions = {
            key: by_compound[c]
            for key, c in zip(table["drug_key"], table["compound_id"], strict=True)
            if c in by_compound
        }
        if tumour or suggested:
            candidates = neurix.repurposing_candidates(
                profile.predictions, sample, tumour_type=tumour, suggested_lineage=suggested
            )
    else:
        st.info(
            "Load a profile (Predict page or an example) to colour the map by its predicted sensitivity and "
            "highlight its repurposing candidates.",
            icon=":material/info:",
        )
    representative = dict(zip(table["compound_id"], table["drug_key"], strict=True))
    highlighted = [representative.get(c) for c in candidates.get("compound_id", pd.Series(dtype=str))]
    neighbours = neurix.drug_neighbours(focus, k=N_NEIGHBOURS)["drug_key"].tolist() if focus else []
    st.plotly_chart(
        drug_map_scatter(
            table,
            colour_by,
            predictions,
            [key for key in highlighted if key],
            focus=[focus] if focus else [],
            neighbours=neighbours,
        ),
        key="drug_map",
        config={"displaylogo": False},
        on_select="rerun",
        selection_mode="points",
    )
    if focus:
        st.subheader(f"Nearest drugs to {labels.get(focus, focus)}")
        st.caption(
            "Ringed on the map. Similarity is the cosine between the drugs' vectors in the model's drug space "
            "(1 = identical), where distances are not distorted as on the 2-D map."
        )
        with st.container(key="wide_neighbours"):  # scrolls sideways on a laptop screen, drug pinned
            _neighbours(_neighbour_table(neurix, focus, predictions, names))
    if profile is None:
        return
    _candidate_section(neurix, profile, sample, tumour, suggested, source, candidates, names)


def _neighbours(table: pd.DataFrame) -> None:
    w.show_table(
        table,
        hide_index=True,
        column_config={
            "drug": st.column_config.TextColumn("Drug", pinned=True),
            "similarity": st.column_config.NumberColumn("Similarity", format="%.2f"),
            "drug_class": "Class",
            "prediction": st.column_config.NumberColumn("This sample's z", format="%.2f"),
            "reliability": "Reliability",
            "targets": "Targets",
            "moa": "Mechanism",
        },
    )


def _candidate_section(
    neurix: Neurix,
    profile: w.LoadedProfile,
    sample: str | None,
    tumour: str | None,
    suggested: str | None,
    source: str,
    candidates: pd.DataFrame,
    names: dict[str, str],
) -> None:
    """The repurposing criteria, the tumour-type note and the candidate table."""
    st.subheader(f"Repurposing candidates · {profile.sample_label(sample or '')}")
    st.markdown(
        "A compound is a candidate when its predicted z log AUC is ≤ −1 (more sensitive than ~85% of cell "
        "lines) **and** its predicted AUC is ≤ 0.8 (real killing over the tested doses, from the drug's own "
        "training distribution), its prediction is reliable (measured hit rate ≥ 50% where the model has one, "
        "else cross-validated ρ ≥ 0.2), it is launched or in clinical phases 1–3, and none of its approved "
        "indications names the tumour type. Non-oncology drugs are listed first, then by strength × "
        "reliability. Candidates are hypotheses for research, not treatment suggestions."
    )
    if not tumour and not suggested:
        st.info(
            "Choose the tumour type above to list repurposing candidates: without it, every drug would count "
            "as outside its approved indications.",
            icon=":material/info:",
        )
        return
    if not tumour:
        st.warning(
            f"Tumour type not chosen: using **{suggested}**, {SUGGESTION_SOURCE.get(source, 'a suggestion')}, as "
            "a suggestion. Choose the tumour type above if it differs.",
            icon=":material/help:",
        )
    if candidates.empty:
        has_rho = neurix.bundle.drugs["cv_rho"].notna().any()
        reason = (
            "no compound passes all the criteria for this sample"
            if has_rho
            else "this model bundle has no cross-validated ρ, so no prediction counts as reliable"
        )
        st.info(f"No repurposing candidates: {reason}.", icon=":material/info:")
        return
    # Twelve columns are wider than a laptop screen: the table scrolls sideways by design, with # and drug pinned.
    with st.container(key="wide_candidates"):
        _candidates(candidates, names)


def _candidates(candidates: pd.DataFrame, names: dict[str, str]) -> None:
    w.show_table(
        _candidate_table(candidates, names),
        hide_index=True,
        column_config={
            "number": st.column_config.NumberColumn("#", width="small", pinned=True),
            "drug": st.column_config.TextColumn("Drug", pinned=True),
            "drug_class": "Class",
            "z_log_auc": st.column_config.NumberColumn("Predicted z log AUC", format="%.2f"),
            "predicted_auc": st.column_config.NumberColumn("Predicted AUC", format="%.2f"),
            "reliability": "Reliability",
            "cv_rho": st.column_config.NumberColumn("CV ρ", format="%.2f"),
            "phase": "Phase",
            "disease_area": "Disease area",
            "indication": "Approved indication",
            "targets": "Targets",
            "repurposing_score": st.column_config.NumberColumn(
                "Score", format="%.2f", help="−prediction × ρ: strength × reliability"
            ),
        },
    )


w.run_page(render, "drug_map")
