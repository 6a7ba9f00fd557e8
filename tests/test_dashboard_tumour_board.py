"""Tumour-board features of the dashboard through Streamlit's AppTest: case fields on the report, the
screen-sharing mode, the drug map coloured by this tumour's predictions with search and neighbours, and "–"
instead of "None" for missing values."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `dashboard` is not part of the installed package
    sys.path.insert(0, str(ROOT))

from dashboard import present, widgets  # noqa: E402
from neurix_core.api import Neurix  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 30


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def with_example() -> Iterator[AppTest]:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.button(key="example_button").click().run()
    _clean(at)
    yield at


def test_report_case_fields_reach_the_preview_and_survive_page_switches(with_example: AppTest) -> None:
    at = with_example.switch_page("views/report.py").run()
    _clean(at)
    fields = {t.label: t for t in at.text_input}
    fields["Specimen / case id"].set_value("SPEC-4411")
    fields["Requested by"].set_value("Dr Ada Quill")
    fields["Tumour type"].set_value("Glioblastoma")
    at.run()
    _clean(at)
    preview = at.session_state["neurix_report_preview"]
    assert "SPEC-4411" in preview and "Dr Ada Quill" in preview and "Glioblastoma" in preview
    at = at.switch_page("views/predict.py").run()
    at = at.switch_page("views/report.py").run()
    assert {t.label: t.value for t in at.text_input}["Specimen / case id"] == "SPEC-4411"
    at.radio(key="report_paper").set_value("letter").run()
    assert "size: letter" in at.session_state["neurix_report_preview"]


def test_screen_sharing_mode_shows_one_sample_large_without_sidebar(with_example: AppTest) -> None:
    at = with_example
    at.toggle(key=present.TOGGLE_KEY).set_value(True).run()
    _clean(at)
    assert at.session_state[present.PRESENT_KEY] is True
    assert not at.sidebar.children, "nothing in the sidebar"
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    bars = [t for t in spec["data"] if t.get("type") == "bar"]
    assert sum(len(t["y"]) for t in bars) == present.TOP_DRUGS
    assert spec["layout"]["font"]["size"] >= 20, "large type"
    html = "".join(h.proto.body for h in at.get("html"))
    assert "neurix-genes" in html and "sensitising" in html and "font-size: 21px" in html
    assert not at.get("multiselect") and not at.get("number_input"), "no filters"
    at.toggle(key=present.TOGGLE_KEY).set_value(False).run()
    _clean(at)
    assert at.session_state[present.PRESENT_KEY] is False
    assert at.get("plotly_chart"), "back on the Predict page"


def test_drug_map_colours_by_this_sample_and_shows_neighbours(with_example: AppTest, neurix: Neurix) -> None:
    at = with_example.switch_page("views/drug_map.py").run()
    _clean(at)
    at.selectbox(key="map_colour").set_value("sensitivity").run()
    _clean(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    scale = [t for t in spec["data"] if "colorscale" in t.get("marker", {})]
    assert scale and scale[0]["marker"]["cmid"] == 0
    assert scale[0]["marker"]["cmin"] == -scale[0]["marker"]["cmax"], "diverging scale centred at 0"
    # one point per compound: search by the screen entry that represents Cisplatin on the map
    shown = set(neurix.drug_map()["drug_key"])
    entries = neurix.bundle.drugs.loc[neurix.bundle.drugs["drug_name"] == "Cisplatin", "drug_key"]
    cisplatin = next((k for k in entries if k in shown), entries.iloc[0])
    try:
        at.selectbox(key="map_focus").set_value(cisplatin).run()
    except ValueError:  # the map lists the compound's most reliable entry only
        cisplatin = next(k for k in entries if k != cisplatin)
        at.selectbox(key="map_focus").set_value(cisplatin).run()
    _clean(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in spec["data"]}
    assert {"searched drug", "nearest drugs in the model's space"} <= names
    assert any("Cisplatin" in a["text"] for a in spec["layout"]["annotations"])
    assert any("Nearest drugs to Cisplatin" in s.value for s in at.subheader)
    neighbours = at.dataframe[0].value
    assert len(neighbours) == 8 and neighbours["similarity"].is_monotonic_decreasing
    at.selectbox(key="map_colour").set_value("reliability").run()
    _clean(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {"high", "moderate"} <= {t.get("name") for t in spec["data"]}


def test_tables_show_a_dash_for_missing_values(
    with_example: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = with_example
    table = next(df.value for df in reversed(at.dataframe) if {"rank", "drug"} <= set(df.value.columns))
    for column in ("targets", "pathway", "moa", "measured_z_log_auc"):
        values = table[column].astype(str)
        assert not values.isin(["None", "nan", "NaN", "<NA>", ""]).any(), column
    assert table["z_log_auc"].dtype.kind == "f", "complete numeric columns stay numeric (sortable)"
    frame = pd.DataFrame({"a": [1.5, None], "b": ["x|y", None]})
    shown = {}

    def capture(data: pd.DataFrame, column_config: dict, **_: object) -> None:
        shown.update(data=data, config=column_config)

    monkeypatch.setattr(widgets.st, "dataframe", capture)
    widgets.show_table(frame, {"a": widgets.st.column_config.NumberColumn("A", format="%.1f")})
    assert shown["data"]["a"].tolist() == ["1.5", "–"] and shown["data"]["b"].tolist() == ["x, y", "–"]
    assert shown["config"]["a"]["label"] == "A"


@pytest.mark.parametrize("page", ["predict", "discover", "model"])
def test_no_table_on_a_page_shows_none_for_a_missing_value(with_example: AppTest, page: str) -> None:
    """Every table a page draws (not only the prediction table) shows "–" where a value is missing: st.dataframe
    writes "None" for a NaN in a number column or a None in a text column."""
    at = with_example.switch_page(f"views/{page}.py").run()
    _clean(at)
    assert at.dataframe, f"the {page} page draws tables"
    for element in at.dataframe:
        frame = element.value
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                assert not values.isna().any(), f"{page}: NaN in number column {column!r} would show as None"
            else:
                text = values.astype(object)
                assert not text.isna().any(), f"{page}: None in column {column!r}"
                assert not text.astype(str).isin(["None", "nan", "NaN", "<NA>"]).any(), (page, column)
