"""The HTML report: complete (predictions, genes, fingerprint, version, disclaimer, citations),
self-contained, escaped, deterministic, and free of the input's expression values."""

from __future__ import annotations

import datetime as dt
import os
import re

import pandas as pd
import pytest

from neurix_core.api import Neurix
from neurix_core.report import build_report
from neurix_core.report.text import CITATIONS, DISCLAIMER, drug_labels

GENERATED = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
FINGERPRINT = "ab" * 32


@pytest.fixture(scope="module")
def neurix() -> Neurix:
    return Neurix.load(os.environ.get("NEURIX_BUNDLE") or None)


@pytest.fixture(scope="module")
def case(neurix: Neurix) -> dict:
    """One example cell line: its predictions and the all-gene explanation of its top 3 drugs."""
    profile = neurix.example_profiles().iloc[:1]
    model_input = neurix.prepare(profile)
    predictions = neurix.predict(model_input)
    sample = model_input.samples[0]
    drugs = predictions["drug_key"].head(3).tolist()
    explanations = neurix.explain(model_input, drugs=drugs, top=None)
    return {
        "profile": profile,
        "predictions": predictions,
        "sample": sample,
        "drugs": drugs,
        "explanations": explanations,
    }


def _report(neurix: Neurix, case: dict, **kwargs: object) -> str:
    options = {
        "fingerprint": FINGERPRINT,
        "manifest": neurix.bundle.manifest,
        "validation": neurix.bundle.validation,
        "input_summary": {"Value scale": "z-scores", "Genes recognised": "5,000 of 5,100"},
        "top_n": 20,
        "genes_per_drug": 6,
        "generated": GENERATED,
    }
    options.update(kwargs)
    return build_report(case["sample"], case["predictions"], case["explanations"], **options)


def test_report_contains_predictions_genes_provenance_and_disclaimer(neurix: Neurix, case: dict) -> None:
    html = _report(neurix, case)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    rows = case["predictions"].head(20)
    names = drug_labels(case["predictions"])
    for key in rows["drug_key"]:
        assert names[key].replace("&", "&amp;") in html
    assert f"{rows['z_log_auc'].iloc[0]:+.2f}" in html
    for key in case["drugs"]:
        frame = case["explanations"][case["explanations"]["drug_key"] == key].sort_values("relevance")
        assert str(frame["gene"].iloc[0]) in html, "strongest sensitising gene"
        assert str(frame["gene"].iloc[-1]) in html, "strongest resistance gene"
    assert FINGERPRINT in html
    assert neurix.bundle.version in html
    assert DISCLAIMER.replace("'", "&#x27;") in html
    assert GENERATED.isoformat() in html
    for citation in CITATIONS:
        assert citation.doi in html
    assert "Value scale" in html and "5,000 of 5,100" in html
    assert html.count("<tr>") >= 20 + 3 * 2


def _without_plotly_library(html: str) -> str:
    """The report minus the inline plotly.js library (whose source is full of unrelated numbers)."""
    return re.sub(r"<script[^>]*>(?:(?!</script>).){200000,}?</script>", "", html, flags=re.S)


def test_report_has_no_expression_values(neurix: Neurix, case: dict) -> None:
    for interactive in (False, True):
        html = _without_plotly_library(_report(neurix, case, interactive=interactive))
        numbers = set(re.findall(r"-?\d+\.\d+", html))
        values = pd.concat(
            [
                case["profile"].iloc[0],
                case["explanations"]["expression_z"],
                case["explanations"]["scaled_expression"],
            ]
        ).dropna()
        values = values[values.abs() > 0.5]  # small numbers could collide with formatted relevances
        leaked = sorted({f"{v:.{d}f}" for v in values for d in (3, 4, 6)} & numbers)
        assert not leaked, f"expression values in the report: {leaked[:5]}"
        assert "expression_z" not in html and "expr z" not in html
        assert re.search(r">(high|low|average)<", html), "expression appears as a coarse label only"


def test_report_is_self_contained(neurix: Neurix, case: dict) -> None:
    plain = _report(neurix, case)
    assert "<script" not in plain
    interactive = _report(neurix, case, interactive=True)
    assert len(interactive) > 1_000_000, "plotly.js is embedded inline"
    assert not re.search(r"<script[^>]+src=", interactive), "no external scripts"
    assert not re.search(r"<link[^>]+href=", interactive), "no external stylesheets"
    assert "cdn.plot.ly" not in interactive.split("</script>")[-1]
    assert interactive.count('class="plotly-graph-div"') == 1 + len(case["drugs"])


def test_report_is_deterministic_and_escapes_names(neurix: Neurix, case: dict) -> None:
    assert _report(neurix, case) == _report(neurix, case)
    predictions = case["predictions"].assign(sample="<script>alert(1)</script>")
    explanations = case["explanations"].assign(sample="<script>alert(1)</script>")
    html = build_report(
        "<script>alert(1)</script>",
        predictions,
        explanations,
        fingerprint=FINGERPRINT,
        generated=GENERATED,
        sample_description="<b>x</b>",
    )
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in html


def test_report_without_explanations_and_with_measured(neurix: Neurix, case: dict) -> None:
    empty = pd.DataFrame(columns=["sample", "drug_key"])
    top = case["predictions"].head(3)
    measured = {key: -1.2345 + i for i, key in enumerate(top["drug_key"])}
    html = build_report(
        case["sample"],
        case["predictions"],
        empty,
        fingerprint=FINGERPRINT,
        generated=GENERATED,
        measured=measured,
        manifest={},
    )
    assert "No drugs were selected for explanation" in html
    assert ">Measured</th>" in html and "-1.23" in html
    assert "unknown" in html  # model version missing from an empty manifest


# --- the figures shared by the report and the dashboard ----------------------------------------------------


def assert_same_as_validated(fig) -> None:
    """A figure built without plotly.py's validation (``figures._figure``) serialises exactly as its validated
    twin; an unknown property or invalid value raises while building the twin."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    twin = go.Figure(fig.to_dict())
    assert json.loads(pio.to_json(fig)) == json.loads(pio.to_json(twin))


def test_prediction_bars_keep_duplicate_names_apart(neurix: Neurix, case: dict) -> None:
    from neurix_core.report.figures import prediction_bars

    rows = case["predictions"].head(30)
    twin = rows.iloc[:2].copy()
    twin["drug_name"], twin["screen"] = "Same", "GDSC1"
    rows = pd.concat([twin, rows.iloc[2:]])
    fig = prediction_bars(rows, measured=pd.Series({rows["drug_key"].iloc[0]: -1.0}))
    ticks = [y for trace in fig.data if trace.type == "bar" for y in trace.y]
    assert len(ticks) == len(set(ticks)) == len(rows), "one bar per drug, even for repeated names"
    assert any("#" in t for t in ticks if t.startswith("Same"))
    assert any(trace.name == "measured" for trace in fig.data)
    assert_same_as_validated(fig)
    assert_same_as_validated(prediction_bars(rows.head(5), title="One sample"))


def test_heatmap_is_centred_and_marks_targets() -> None:
    from neurix_core.report.figures import gene_bars, relevance_heatmap

    matrix = pd.DataFrame(
        {"Drug A": [0.5, -0.2, 0.1], "Drug B": [-0.1, 0.3, 0.0]}, index=["EGFR", "TP53", "MYC"]
    )
    fig = relevance_heatmap(matrix, pd.Series({"EGFR": 1.5, "TP53": -0.2, "MYC": 0.0}), {("EGFR", "Drug A")})
    heatmap = fig.data[0]
    assert heatmap.zmid == 0 and heatmap.zmin == -heatmap.zmax
    assert heatmap.text[0][0] == "★" and heatmap.text[1][0] == ""
    assert_same_as_validated(fig)
    frame = pd.DataFrame(
        {
            "gene": ["EGFR", "TP53", "MYC", "KRAS"],
            "relevance": [0.4, -0.3, 0.1, -0.05],
            "expression_z": [2.1, -1.3, 0.2, -0.04],
            "is_target": [True, False, False, False],
            "direction": ["resistance", "sensitising", "resistance", "sensitising"],
        }
    )
    bars = gene_bars(frame, per_side=2)
    assert "EGFR ★" in list(bars.data[0].y)
    assert any("+2.1" in t for t in bars.data[0].text)
    assert "expr z 0.0" in bars.data[0].text and not any("-0.0" in t for t in bars.data[0].text)
    hidden = gene_bars(frame, per_side=2, show_expression=False)
    assert not any(ch.isdigit() for t in hidden.data[0].text for ch in t)
    assert "expr high" in hidden.data[0].text
    assert_same_as_validated(bars)
    assert_same_as_validated(hidden)
    assert_same_as_validated(gene_bars(frame.assign(stability="stable"), per_side=2, title="Drug A"))


def test_drug_map_highlights_candidates(neurix: Neurix) -> None:
    from neurix_core.report.figures import drug_map_scatter

    table = neurix.drug_map()
    keys = table["drug_key"].head(3).tolist()
    for colour_by in ("drug_class", "moa", "pathway"):
        fig = drug_map_scatter(table, colour_by, {k: -1.5 for k in keys}, keys)
        highlighted = [trace for trace in fig.data if trace.name.startswith("repurposing candidate")]
        assert len(highlighted) == 1 and len(highlighted[0].x) == 3
        assert list(highlighted[0].text) == ["1", "2", "3"]
        assert (
            list(highlighted[0].customdata[:, 6])
            == table.set_index("drug_key").loc[keys, "drug_name"].tolist()
        )
        assert sum(len(trace.x) for trace in fig.data) == len(table) + 3
        assert len(fig.data) <= 12 + 2 + 1  # common categories, other/unannotated, candidates
