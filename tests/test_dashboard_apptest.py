"""Every dashboard page through Streamlit's AppTest (no browser): normal use, bad uploads and isolation.

The tests use the shipped model bundle (``assets/models/default``, or ``$NEURIX_BUNDLE`` when set) and test
profiles written from the bundle's own example cell lines. Uploads go through the real ``st.file_uploader``.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `dashboard` is not part of the installed package
    sys.path.insert(0, str(ROOT))

from dashboard import widgets  # noqa: E402
from neurix_core.api import Neurix  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 30


@pytest.fixture(scope="module")
def profile_csv(examples: pd.DataFrame) -> bytes:
    """Two example cell lines as genes × samples CSV (within-sample z values)."""
    return examples.iloc[:2].T.rename_axis("gene").to_csv(float_format="%.4f").encode()


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


def _no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _clean(at: AppTest) -> None:
    _no_traceback(at)
    assert not at.error, [e.value for e in at.error]


def _page(at: AppTest, name: str) -> AppTest:
    return at.switch_page(f"views/{name}.py").run()


def _upload(at: AppTest, name: str, data: bytes, scale: str | None = None) -> AppTest:
    if scale is not None:
        at.selectbox(key="neurix_value_scale").set_value(scale)
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return at.run()


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [t.value for t in at.title] + [s.value for s in at.subheader]
    parts += [c.value for c in at.caption] + [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def with_example() -> Iterator[AppTest]:
    """An app session with the example cell lines loaded through the Home page's button."""
    at = _app()
    at.button(key="example_button").click().run()
    _clean(at)
    yield at


def _prediction_table(at: AppTest) -> pd.DataFrame:
    """The ranked prediction table (the screen-entries expander below it holds another dataframe)."""
    return next(df.value for df in reversed(at.dataframe) if {"rank", "drug"} <= set(df.value.columns))


def test_compound_rows_and_screen_entries_one_click_away(with_example: AppTest, neurix: Neurix) -> None:
    at = with_example
    profile = at.session_state[widgets.PROFILE_KEY]
    assert not profile.predictions.duplicated(["sample", "compound_id"]).any()
    table = _prediction_table(at)
    assert table["drug"].is_unique  # one bar / row per compound
    expanders = [e.label for e in at.expander]
    if profile.sample_predictions(profile.samples[0]).head(25)["n_entries"].gt(1).any():
        assert any(label.startswith("Screen entries behind these compounds") for label in expanders)
        assert not any("entry" in df.value.columns for df in at.dataframe), "filled only when opened"
        at.session_state["screen_entries"] = True  # the user opens it
        at.run()
        entries = next(df.value for df in at.dataframe if "entry" in df.value.columns)
        assert entries["used"].any() and entries["entry"].str.match(r"GDSC[12] #\d+").all()


# --- Home --------------------------------------------------------------------------------------------------


def test_home_shows_claims_model_card_disclaimer_and_citations(neurix: Neurix) -> None:
    at = _app()
    _clean(at)
    text = _text(at)
    assert "Research use only" in text
    assert "What it does not claim" in [s.value for s in at.subheader]
    for citation in ("Iorio", "Corsello", "DepMap", "Drug Repurposing Hub", "Keyl"):
        assert citation in text
    metrics = {m.label: m.value for m in at.metric}
    assert f"**Version** {neurix.bundle.version}" in text
    assert metrics["Compounds"] == f"{neurix.bundle.drugs['compound_id'].nunique():,}"
    assert "microarray" in text and "z-scored within each cell" in text  # true statements about the model
    assert "DepMap RNA-seq" not in text and "platform_transfer.py" in text


def test_try_an_example_loads_the_examples_and_opens_predict(
    with_example: AppTest, examples: pd.DataFrame
) -> None:
    at = with_example
    profile = at.session_state[widgets.PROFILE_KEY]
    assert profile.is_example
    assert profile.samples == [str(s) for s in examples.index]
    assert "Predict drug sensitivity" in [t.value for t in at.title]
    assert at.get("plotly_chart"), "the prediction bars are shown"
    table = _prediction_table(at)
    assert "measured_z_log_auc" in table.columns, "examples show measured responses beside predictions"


# --- Predict -----------------------------------------------------------------------------------------------


def test_upload_shows_detection_bars_table_and_downloads(profile_csv: bytes, examples: pd.DataFrame) -> None:
    at = _page(_app(), "predict")
    _clean(at)
    assert widgets.PROFILE_KEY not in at.session_state
    at = _upload(at, "tumour.csv", profile_csv)
    _clean(at)
    profile = at.session_state[widgets.PROFILE_KEY]
    assert profile.source == "upload" and profile.value_scale == "zscore"
    assert profile.orientation == "genes_by_samples"
    assert profile.samples == [str(s) for s in examples.index[:2]]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Samples"] == "2"
    assert metrics["Model genes measured"] == "5,778" and metrics["Imputed (training mean)"] == "0"
    text = _text(at)
    assert "genes in rows, samples in columns" in text
    assert "z-scores" in text
    assert len(at.get("plotly_chart")) == 2  # the bars and, for several samples, the cohort heatmap
    table = _prediction_table(at)
    assert len(table) == 25 and table["z_log_auc"].is_monotonic_increasing
    labels = [b.label for b in at.get("download_button")]
    assert any("this sample" in label for label in labels) and any(
        "all 2 samples" in label for label in labels
    )


def test_imputed_values_are_shown_before_results(examples: pd.DataFrame) -> None:
    """The reported bug: 1 in 7 values NA showed 'Genes recognised 5,778 of 5,778' and no warning."""
    profile = examples.iloc[:1].T.copy()
    profile.iloc[::7, 0] = np.nan
    at = _upload(
        _page(_app(), "predict"), "gaps.csv", profile.rename_axis("gene").to_csv(na_rep="NA").encode()
    )
    _clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Imputed (training mean)"] == f"{len(profile.index[::7]):,}"
    warning = " ".join(w.value for w in at.warning)
    assert "rely on imputed values" in warning and "14.3%" in warning


def test_sample_switcher_and_filters(profile_csv: bytes, examples: pd.DataFrame) -> None:
    at = _upload(_page(_app(), "predict"), "tumour.csv", profile_csv)
    second = str(examples.index[1])
    at.selectbox(key=widgets.SAMPLE_WIDGET).set_value(second).run()
    _clean(at)
    assert at.session_state[widgets.SAMPLE_KEY] == second
    assert any(second in s.value for s in at.subheader)
    at.selectbox(key="pred_count").set_value(10).run()
    assert len(_prediction_table(at)) == 10
    at.multiselect(key="pred_classes").set_value(["chemotherapy"]).run()
    _clean(at)
    assert set(_prediction_table(at)["drug_class"]) == {"chemotherapy"}
    at.text_input(key="pred_query").set_value("zzzz-no-such-drug").run()
    _clean(at)
    assert any("No drug matches" in i.value for i in at.info)


def test_value_scale_override_rereads_the_file(neurix: Neurix) -> None:
    genes = neurix.bundle.genes
    rng = np.random.default_rng(1)
    tpm = pd.DataFrame(
        {"S1": np.round(rng.gamma(0.6, 40.0, len(genes)), 3)}, index=pd.Index(genes, name="gene")
    )
    data = tpm.to_csv().encode()
    at = _upload(_page(_app(), "predict"), "tpm.tsv", data)
    _clean(at)
    assert at.session_state[widgets.PROFILE_KEY].value_scale == "tpm"
    at.selectbox(key="neurix_value_scale").set_value("counts").run()
    _clean(at)
    assert at.session_state[widgets.PROFILE_KEY].value_scale == "counts"


def test_gzipped_upload(profile_csv: bytes) -> None:
    at = _upload(_page(_app(), "predict"), "tumour.csv.gz", gzip.compress(profile_csv))
    _clean(at)
    assert len(at.session_state[widgets.PROFILE_KEY].samples) == 2


def _few_genes() -> bytes:
    return b"gene,S1\nTP53,1.2\nEGFR,3.4\nMYC,2.2\nKRAS,0.5\nBRCA1,1.1\nPTEN,2.0\n"


def _negative_counts(neurix: Neurix) -> bytes:
    counts = pd.DataFrame({"S1": np.arange(len(neurix.bundle.genes)) % 500 + 10}, index=neurix.bundle.genes)
    counts.iloc[3, 0] = -5
    return counts.rename_axis("gene").to_csv().encode()


BAD_UPLOADS = {
    "empty": (lambda n: b"", None, "empty"),
    "not_a_table": (lambda n: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, None, "not a text table"),
    "prose": (lambda n: b"Dear colleague,\nplease find the results attached.\n", None, "gene"),
    "wrong_delimiter": (lambda n: b"gene|S1|S2\nTP53|1.0|2.0\nEGFR|3.0|4.0\n", None, "column"),
    "no_genes": (lambda n: b"name,S1\napple,1.0\npear,2.0\nplum,3.0\n", None, "No recognisable genes"),
    "too_few_genes": (lambda n: _few_genes(), None, "at least 50%"),
    "negative_counts": (_negative_counts, "counts", "negative"),
    "negative_values_auto": (_negative_counts, None, "negative"),
    "oversize": (lambda n: b"gene,S1\n" + b"TP53,1.0\n" * (50 * 2**20 // 9 + 10), None, "allowed"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_uploads_show_a_message_not_a_traceback(case: str, neurix: Neurix) -> None:
    make, scale, expected = BAD_UPLOADS[case]
    at = _page(_app(), "predict")
    at = _upload(at, f"{case}.csv", make(neurix), scale)
    _no_traceback(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "could not be used" in errors[0]
    assert expected.lower() in errors[0].lower(), errors[0]
    assert widgets.PROFILE_KEY not in at.session_state, "a failed upload leaves no profile behind"
    assert "Traceback" not in errors[0]


def test_a_bad_upload_clears_the_previous_profile(profile_csv: bytes) -> None:
    at = _upload(_page(_app(), "predict"), "good.csv", profile_csv)
    assert widgets.PROFILE_KEY in at.session_state
    at = _upload(at, "bad.csv", b"name,S1\napple,1\n")
    assert at.error and widgets.PROFILE_KEY not in at.session_state
    assert not at.get("plotly_chart"), "no stale bars next to the error"


def test_unexpected_errors_show_a_generic_message(
    with_example: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret value 12.345 from the upload")

    monkeypatch.setattr("neurix_core.report.figures.prediction_bars", boom)
    with_example.session_state[widgets.PROFILE_KEY].views.clear()  # the chart is drawn again, not reused
    at = _page(with_example, "predict")
    _no_traceback(at)
    errors = [e.value for e in at.error]
    assert errors == [widgets.GENERIC_ERROR]
    assert "12.345" not in _text(at)


def test_sessions_are_isolated(profile_csv: bytes) -> None:
    first = _upload(_page(_app(), "predict"), "tumour.csv", profile_csv)
    assert widgets.PROFILE_KEY in first.session_state
    second = _page(_app(), "predict")
    assert widgets.PROFILE_KEY not in second.session_state
    assert widgets.RESULTS_KEY not in second.session_state


# --- Explain -----------------------------------------------------------------------------------------------


def test_explain_draws_each_drugs_own_bars_only_once_opened(
    with_example: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a common pattern, each drug shows what sets it apart; its own top genes sit in an expander whose chart
    is built only when opened (a rerun), not sent hidden with every page."""
    from neurix_core.explain import readable

    monkeypatch.setattr(readable, "COMMON_MIN_OVERLAP", 0.0)  # the common-pattern layout for any top 5
    at = _page(with_example, "explain")
    _clean(at)
    assert "What sets each drug apart" in _text(at)
    profile = at.session_state[widgets.PROFILE_KEY]
    top5 = profile.sample_predictions(at.session_state[widgets.SAMPLE_KEY])["drug_key"].head(5).tolist()
    assert len(at.get("plotly_chart")) == 1 + 1 + 5  # heatmap, common genes, contrast bars per drug
    at.session_state[f"own_genes_{top5[0]}"] = True  # the user opens the first drug's expander
    at.run()
    _clean(at)
    assert len(at.get("plotly_chart")) == 1 + 1 + 5 + 1


def test_explain_heatmap_and_per_drug_bars(with_example: AppTest) -> None:
    at = _page(with_example, "explain")
    _clean(at)
    profile = at.session_state[widgets.PROFILE_KEY]
    sample = at.session_state[widgets.SAMPLE_KEY]
    top5 = profile.sample_predictions(sample)["drug_key"].head(5).tolist()
    assert at.multiselect[0].value == top5
    text = _text(at)
    assert "Relevance heatmap" in text
    assert "resistance" in text and "sensitis" in text
    assert "share of the predicted z log AUC" in text and "bias share" in text
    assert text.count("Annotated targets that the model does not measure") <= 1, "missing targets named once"
    if "Common pattern behind these predictions" in text:  # the top drugs share most of their top genes
        assert "What sets each drug apart" in text
        # heatmap + common genes + per drug its contrast bars; its own bars only once their expander is opened
        assert len(at.get("plotly_chart")) == 1 + 1 + 5
        at.session_state[f"own_genes_{top5[0]}"] = True
        at.run()
        _clean(at)
        assert len(at.get("plotly_chart")) == 1 + 1 + 5 + 1
    else:
        assert len(at.get("plotly_chart")) == 1 + 5
    at.multiselect[0].set_value(top5[:1]).run()
    _clean(at)
    assert "Common pattern" not in _text(at)
    assert len(at.get("plotly_chart")) == 1 + 1
    assert at.session_state[widgets.DRUGS_KEY][(profile.fingerprint, sample)] == top5[:1]
    cached = at.session_state[widgets.EXPLAIN_KEY]
    assert {key[-1] for key in cached} >= set(top5), "explanations are cached per drug in the session"


def test_discover_page_shows_the_table_or_says_why_not(neurix: Neurix) -> None:
    at = _page(_app(), "discover")
    _clean(at)
    if neurix.discovery is None:  # a bundle trained before discovery existed
        assert "not available in this bundle" in _text(at) and "neurix train" in _text(at)
        return
    assert len(at.dataframe[0].value) == 30
    assert len(at.get("plotly_chart")) == 1
    assert "Consistency" in _text(at)


# --- Drug map ----------------------------------------------------------------------------------------------


def test_drug_map_without_and_with_a_profile(with_example: AppTest, neurix: Neurix) -> None:
    empty = _page(_app(), "drug_map")
    _clean(empty)
    assert len(empty.get("plotly_chart")) == 1
    assert any("Load a profile" in i.value for i in empty.info)

    at = _page(with_example, "drug_map")
    _clean(at)
    assert len(at.get("plotly_chart")) == 1
    assert any("Repurposing candidates" in s.value for s in at.subheader)
    sample = at.session_state[widgets.SAMPLE_KEY]
    lineage = at.session_state[widgets.PROFILE_KEY].sample_info.get(sample, {}).get("lineage", "")
    from neurix_core.repurpose.candidates import tumour_types

    tumour = [s for s in at.selectbox if s.label.startswith("Tumour type")][0]
    assert tumour.value == ""  # never chosen silently: the example's lineage is only a labelled suggestion
    suggested = lineage if lineage in tumour_types() else None
    for colour in ("moa", "pathway"):
        at.selectbox(key="map_colour").set_value(colour).run()
        _clean(at)
    profile = at.session_state[widgets.PROFILE_KEY]
    if suggested is None:
        assert any("Choose the tumour type" in i.value for i in at.info)
        return
    assert any(suggested in w.value and "suggestion" in w.value for w in at.warning)
    expected = neurix.repurposing_candidates(profile.predictions, sample, suggested_lineage=suggested)
    if len(expected):
        table = at.dataframe[-1].value
        assert table["drug"].tolist() == [widgets.drug_names(neurix)[k] for k in expected["drug_key"]]
    else:
        assert any("No repurposing candidates" in i.value for i in at.info)


def test_drug_map_lists_and_highlights_candidates(
    with_example: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the bundle's predictions, the candidate table and the highlighted markers render (thresholds
    relaxed so that every drug qualifies)."""
    original = Neurix.repurposing_candidates

    def relaxed(
        self: Neurix,
        predictions: pd.DataFrame,
        sample: str,
        tumour_type: str | None = None,
        suggested_lineage: str | None = None,
    ) -> pd.DataFrame:
        return original(
            self,
            predictions,
            sample,
            tumour_type,
            suggested_lineage or "Lung",
            max_z=100.0,
            min_rho=-100.0,
            max_auc=100.0,
        ).head(7)

    monkeypatch.setattr(Neurix, "repurposing_candidates", relaxed)
    at = _page(with_example, "drug_map")
    _clean(at)
    table = at.dataframe[-1].value
    assert len(table) == 7
    assert {"drug", "z_log_auc", "reliability", "phase", "indication"} <= set(table.columns)
    classes = table["drug_class"].tolist()
    assert classes == sorted(classes, key=lambda c: c != "non-oncology"), "non-oncology drugs first"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    marked = [trace for trace in spec["data"] if trace.get("name", "").startswith("repurposing candidate")]
    assert len(marked) == 1 and len(marked[0]["text"]) == 7


# --- Model -------------------------------------------------------------------------------------------------


def test_model_page_shows_what_the_bundle_has(neurix: Neurix) -> None:
    at = _page(_app(), "model")
    _clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert f"**Version** {neurix.bundle.version}" in _text(at)
    assert metrics["Genes"] == f"{len(neurix.bundle.genes):,}"
    validation = neurix.bundle.validation or {}
    if neurix.bundle.drugs["cv_rho"].notna().any():
        assert len(at.get("plotly_chart")) >= 2
    else:
        assert any("no cross-validation" in i.value for i in at.info)
    if validation.get("ridge_baseline"):
        assert any("ridge" in s.value.lower() for s in at.subheader)
    if validation.get("external"):
        assert any("External validation" in s.value for s in at.subheader)
    repeated = validation.get("repeated_cv")
    if (
        repeated
    ):  # the headline figures: repeated CV with its intervals, before the partition it was trained with
        text = _text(at)
        assert f"{len(repeated['partition_seeds'])} random partitions" in text
        interval = repeated["protocol"]["model"]["bootstrap_ci95"]
        shown = [frame.value for frame in at.dataframe]
        assert any(
            (t.get("95% interval") == f"{interval[0]:.3f}–{interval[1]:.3f}").any()
            for t in shown
            if "95% interval" in t
        )


# --- Report ------------------------------------------------------------------------------------------------


def test_report_page_offers_the_html_report(with_example: AppTest, neurix: Neurix) -> None:
    at = _page(with_example, "report")
    _clean(at)
    assert [b.label for b in at.get("download_button")] == [
        "Download the PDF report",
        "Download the HTML report",
    ]
    html = at.session_state["neurix_report_preview"]
    profile = at.session_state[widgets.PROFILE_KEY]
    assert profile.fingerprint in html
    assert neurix.bundle.version in html
    assert "Research use only" in html


@pytest.mark.parametrize("page", ["explain", "report"])
def test_pages_that_need_a_profile_say_how_to_get_one(page: str) -> None:
    at = _page(_app(), page)
    _clean(at)
    assert any("No profile loaded yet" in i.value for i in at.info)
    at.button(key=f"example_button_{'explanations' if page == 'explain' else 'a report'}").click().run()
    _clean(at)
    assert widgets.PROFILE_KEY in at.session_state


def test_clear_profile_button_also_empties_the_uploader(profile_csv: bytes) -> None:
    at = _upload(_page(_app(), "predict"), "tumour.csv", profile_csv)
    assert widgets.PROFILE_KEY in at.session_state
    at.button(key="clear_profile").click().run()
    _clean(at)
    assert widgets.PROFILE_KEY not in at.session_state, "the file still selected is not re-read"
    assert at.file_uploader[0].value is None


def test_loading_the_example_replaces_a_failed_upload() -> None:
    at = _upload(_page(_app(), "predict"), "bad.csv", b"name,S1\napple,1\n")
    assert at.error
    at.button(key="example_button_predict").click().run()
    _clean(at)
    assert at.session_state[widgets.PROFILE_KEY].is_example


def test_xlsx_upload(profile_csv: bytes) -> None:
    frame = pd.read_csv(io.BytesIO(profile_csv))
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    at = _upload(_page(_app(), "predict"), "tumour.xlsx", buffer.getvalue())
    _clean(at)
    assert len(at.session_state[widgets.PROFILE_KEY].samples) == 2
