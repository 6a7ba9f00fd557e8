"""Dashboard panels for trust: the domain banner and the most similar training cell lines.

They only draw what ``Neurix.domain`` and ``Neurix.neighbours`` return; where the bundle lacks the trust files they
say so in one sentence instead of guessing.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import widgets as w
from neurix_core.api import Neurix
from neurix_core.errors import NeurixError
from neurix_core.repurpose.candidates import tumour_types
from neurix_core.trust.artifacts import NOT_AVAILABLE

OUT_OF_DOMAIN = (
    "**This sample is unlike the cell lines Neurix was trained on** (domain distance {distance:.3f}, above the "
    "{threshold:.3f} that 99% of unseen real cell lines stay under). Predictions for this sample are "
    "extrapolations: the intervals were calibrated on cell lines like the training ones and may be too narrow "
    "here, so treat every number as uncertain. Check the value scale, the "
    "gene identifiers and that this is a tumour profile."
)
NEIGHBOUR_COLUMNS = {
    "rank": st.column_config.NumberColumn("#", width="small"),
    "cell_line_name": st.column_config.TextColumn("Cell line"),
    "lineage": st.column_config.TextColumn("Lineage"),
    "primary_disease": st.column_config.TextColumn("Disease"),
    "distance": st.column_config.NumberColumn(
        "Distance", format="%.3f", help="1 − similarity; 0 = identical"
    ),
    "measured_z_log_auc": st.column_config.NumberColumn(
        "Measured z log AUC", format="%+.2f", help="this line's measured response to the selected drug"
    ),
}


def domain_banner(
    neurix: Neurix, profile: w.LoadedProfile, sample: str, note: DeltaGenerator | None = None
) -> None:
    """A banner when the sample is outside the applicability domain; a one-line note otherwise.

    ``note`` is where the one-line note goes (e.g. a column beside the sample picker); the out-of-domain warning
    always spans the page, because it qualifies every number shown for the sample.
    """
    place = note if note is not None else st
    if not neurix.has_trust:
        place.caption(f":material/help: Domain check: {NOT_AVAILABLE}.")
        return
    row = profile.predictions[profile.predictions["sample"] == sample].iloc[0]
    threshold = neurix.bundle.trust.threshold
    if not bool(row["in_domain"]):
        st.warning(  # a warning, not an error: the predictions are still shown, clearly marked
            OUT_OF_DOMAIN.format(distance=row["domain_distance"], threshold=threshold),
            icon=":material/explore_off:",
        )
    else:
        place.caption(
            f":material/verified: Within the training domain: distance {row['domain_distance']:.3f} to the "
            f"nearest training lines (99% of unseen lines stay under {threshold:.3f})."
        )


def similar_lines(neurix: Neurix, profile: w.LoadedProfile, sample: str, rows: pd.DataFrame) -> None:
    """The five most similar training cell lines, their measured response to a chosen drug, and a lineage check."""
    st.subheader("Most similar training cell lines")
    if not neurix.has_trust:
        st.info(f"Similar cell lines: {NOT_AVAILABLE}.", icon=":material/help:")
        return
    names = w.drug_names(neurix)
    options = rows["drug_key"].tolist()
    cols = st.columns(2)
    drug = cols[0].selectbox(
        "Measured response to",
        options,
        format_func=lambda key: names.get(key, key),
        key=f"neighbour_drug_{profile.fingerprint}_{sample}",
        help="Defaults to the top-ranked drug for this sample.",
    )
    choices = ["", *tumour_types()]
    tumour = cols[1].selectbox(
        "Tumour type of the sample",
        choices,
        index=choices.index(w.neighbour_defaults(profile, sample)[1]),
        format_func=lambda t: t or "Not specified",
        key=f"neighbour_tumour_{profile.fingerprint}_{sample}",
        help="Neurix warns when the most similar cell lines suggest another lineage.",
    )
    try:
        table = w.neighbours(neurix, profile, drug, tumour)
    except NeurixError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    table = table[table["sample"] == sample]
    warning = table["lineage_warning"].dropna()
    if len(warning):
        st.warning(warning.iloc[0], icon=":material/call_split:")
    w.show_table(table[list(NEIGHBOUR_COLUMNS)], hide_index=True, column_config=NEIGHBOUR_COLUMNS)
    measured = table["measured_z_log_auc"].dropna()
    predicted = rows.loc[rows["drug_key"] == drug, "z_log_auc"]
    if len(measured) and len(predicted):
        st.caption(
            f"{len(measured)} of the {len(table)} lines were screened with {names.get(drug, drug)}: measured "
            f"z log AUC {measured.min():+.2f} to {measured.max():+.2f} (mean {measured.mean():+.2f}); "
            f"Neurix predicts {predicted.iloc[0]:+.2f} for this sample. Similar cases, not a second prediction."
        )


def calibration_section(neurix: Neurix) -> None:
    """Model page: measured coverage of the intervals, hit rates and the domain check's false-alarm rate."""
    st.subheader("Intervals, hit rates and the domain check")
    if not neurix.has_trust:
        st.info(f"{NOT_AVAILABLE[0].upper()}{NOT_AVAILABLE[1:]}.", icon=":material/help:")
        return
    report = neurix.bundle.trust.report
    st.markdown(
        "Measured on the cross-validation's outer folds: for each fold, the interval quantiles and the domain "
        "threshold were fitted on the other folds only, then checked on the held-out cell lines."
    )
    rows = []
    for level, entry in report["coverage"].items():
        rows.append({"group": "all pairs", "nominal": level, "measured coverage": entry["overall"]})
        for grouping in ("reliability_group", "hit_rate_group"):
            for label, cell in entry.get(grouping, {}).items():
                name = "ρ tier" if grouping == "reliability_group" else "hit-rate tier"
                rows.append(
                    {"group": f"{name}: {label}", "nominal": level, "measured coverage": cell["coverage"]}
                )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        height="content",  # every row visible: no scrolling inside the table
        column_config={"measured coverage": st.column_config.NumberColumn(format="percent")},
    )
    hits = report["hit_rate"]
    domain_report = report["domain"]
    cols = st.columns(3)
    cols[0].metric("Median hit rate (chance 33%)", f"{hits['median']:.0%}")
    cols[1].metric("Drugs with a strong hit rate (≥ 60%)", f"{hits['groups'].get('strong', 0):,}")
    cols[2].metric(
        "Held-out lines flagged out of domain", f"{domain_report['held_out_false_alarm_rate']:.1%}"
    )
