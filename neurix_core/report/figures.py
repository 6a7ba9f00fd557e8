"""Plotly figures shared by the dashboard pages and the HTML report.

They live next to the report (not in the dashboard) so the downloadable report and the screen show the same
charts, and so they can be tested without Streamlit. Every function takes plain tables from the ``Neurix`` API
and returns a ``plotly.graph_objects.Figure``; none of them computes science, they only draw.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Collection, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from neurix_core.explain.stability import SYMBOLS
from neurix_core.report.text import (
    CLASS_COLOURS,
    HIGH_RHO,
    MODERATE_RHO,
    OTHER_COLOUR,
    RELIABILITY_TIERS,
    RESISTANCE_COLOUR,
    SENSITISING_COLOUR,
    TARGET_MARK,
    HitRate,
    drug_label,
    drug_labels,
    expression_level,
    hit_rate,
    reliability,
)

FONT_SIZE = 16  # large enough to read on a screen-shared tumour board
ROW_HEIGHT = 30
MAX_CATEGORIES = 12  # legend entries on the drug map before grouping the rest as "other"
GREYS = {"other": "#b0b0b0", "unannotated": "#d9d9d9"}
QUALITATIVE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#882255",
    "#44AA99",
    "#117733",
    "#AA4499",
)


def _layout_spec(height: int, **extra: object) -> dict:
    """The layout every Neurix figure shares, as a dict (figures built in one go pass it to ``go.Figure``)."""
    return {
        "height": height,
        "font": {"size": FONT_SIZE},
        "hoverlabel": {"font": {"size": FONT_SIZE}},
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "plot_bgcolor": "white",
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0},
        **extra,
    }


def _figure(traces: list[dict], layout: dict) -> go.Figure:
    """A figure from plain trace and layout dicts, built without plotly.py's property-by-property validation.

    Why: validating a figure's properties took ~35 ms of a 40 ms build, most of the Explain page's CPU on a shared
    server (a few figures per page and session). The dicts hold Neurix's own constant property names and its
    numbers and labels; ``tests/test_report.py`` checks that each figure serialises exactly as its validated twin
    (an unknown or invalid property would raise there). The default template comes with it, trimmed to the
    figure's trace types (``_template``).
    """
    types = tuple(sorted({str(trace.get("type", "scatter")) for trace in traces}))
    layout = {"template": _template(pio.templates.default, types), **layout}
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


@functools.cache
def _template(name: str, trace_types: tuple[str, ...]) -> dict:
    """The default template with trace defaults only for the trace types a figure draws (plotly.js applies
    ``template.data.<type>`` to traces of that type only, so the figure looks the same).

    Why: the full template is ~7 kB and ~450 nested lists and dicts, copied when the figure is built, copied again
    and walked when Streamlit serialises it on every page run; mostly defaults for the 20 trace types Neurix's
    charts never draw.
    """
    full = pio.templates[name].to_plotly_json()
    data = {t: full["data"][t] for t in trace_types if t in full.get("data", {})}
    return {"layout": full.get("layout", {}), **({"data": data} if data else {})}


@functools.cache
def _colorscale(name: str) -> tuple:
    """A named plotly.py colorscale as the explicit list validation would send (plotly.js lacks the "_r" names)."""
    return go.Heatmap(colorscale=name).colorscale


def _layout(fig: go.Figure, height: int, **extra: object) -> go.Figure:
    fig.update_layout(**_layout_spec(height, **extra))
    return fig


def class_colour(drug_class: object) -> str:
    return CLASS_COLOURS.get(str(drug_class), OTHER_COLOUR)


def _rho_text(rho: object) -> str:
    try:
        value = float(rho)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if np.isnan(value) else f"{value:.2f}"


# --- predictions --------------------------------------------------------------------------------------------


def _trust_texts(rows: pd.DataFrame, hits: list[HitRate]) -> list[str]:
    """``_trust_text`` of every row, with its ``hit_rate`` already read (columns the table lacks read as missing)."""
    missing = pd.Series(np.nan, index=rows.index)
    columns = [rows.get(c, missing).to_numpy() for c in ("interval_low", "interval_high", "percentile")]
    return [_trust_text(*values, rate) for *values, rate in zip(*columns, hits, strict=True)]


def _trust_text(low: object, high: object, percentile: object, rate: HitRate) -> str:
    """Hover lines for the interval, percentile and hit rate (empty where the bundle lacks them)."""
    text = ""
    if pd.notna(low) and pd.notna(high):
        text += f" (80% interval {low:+.2f} to {high:+.2f})"
    if pd.notna(percentile):
        text += f"<br>more sensitive than {percentile:.0f}% of training cell lines"
    if rate.tier != "unmeasured":
        text += f"<br>hit rate {rate.short} ({rate.tier}; chance 33%)"
    return text


def _interval_whiskers(rows: pd.DataFrame) -> Callable[[np.ndarray], dict | None]:
    """Plotly error bars for the 80% prediction interval where the predictions carry one (newer bundles), as a
    function of the positions of the rows one trace draws (None where none of them has an interval)."""
    if not {"interval_low", "interval_high"} <= set(rows.columns):
        return lambda _positions: None
    low = pd.to_numeric(rows["interval_low"], errors="coerce").to_numpy(dtype=float)
    high = pd.to_numeric(rows["interval_high"], errors="coerce").to_numpy(dtype=float)
    z = rows["z_log_auc"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        plus = np.nan_to_num(np.clip(high - z, 0.0, None), nan=0.0)
        minus = np.nan_to_num(np.clip(z - low, 0.0, None), nan=0.0)

    def whiskers(positions: np.ndarray) -> dict | None:
        if np.isnan(low[positions]).all() or np.isnan(high[positions]).all():
            return None
        return {
            "type": "data",
            "symmetric": False,
            "array": plus[positions],
            "arrayminus": minus[positions],
            "color": "#1a202c",
            "thickness": 1.3,
            "width": 4,
        }

    return whiskers


def prediction_bars(
    rows: pd.DataFrame,
    measured: pd.Series | None = None,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """Ranked horizontal bars of predicted z log AUC (most sensitive on top), coloured by drug class.

    ``rows`` are prediction-table rows of one sample in display order; ``measured`` maps drug_key → measured
    z log AUC (example cell lines) and is drawn as diamonds beside the bars; ``labels`` maps drug_key →
    display label (default: ``drug_labels`` of the rows). Labels end with the coloured reliability symbol.
    """
    rows = rows.reset_index(drop=True)
    names = labels if labels is not None else drug_labels(rows)
    tiers = [reliability(r) for r in rows["cv_rho"]]
    hits = [hit_rate(r) for r in rows.get("hit_rate", pd.Series(np.nan, index=rows.index))]
    measured_hits = any(h.tier != "unmeasured" for h in hits)
    rho_texts = [_rho_text(r) for r in rows["cv_rho"]]
    trust_texts = _trust_texts(rows, hits)
    ticks = [  # the measured hit rate where the bundle has it, else the ρ badge
        f"{names.get(key, key)} <span style='color:{h.colour if measured_hits else t.colour}'>"
        f"{h.short if measured_hits else t.symbol}</span>"
        for key, t, h in zip(rows["drug_key"], tiers, hits, strict=True)
    ]
    # each column read once, then indexed per class trace (frame selections per class were most of this figure)
    classes = rows["drug_class"].to_numpy(dtype=object)
    z = rows["z_log_auc"].to_numpy()
    hover = np.column_stack(
        [
            rows["rank"].astype(str).to_numpy(dtype=object),
            *(rows[c].fillna("").astype(str).to_numpy(dtype=object) for c in ("targets", "moa", "pathway")),
            np.array(rho_texts, dtype=object),
            np.array([t.tier for t in tiers], dtype=object),
            np.array(trust_texts, dtype=object),
        ]
    )
    whiskers_of = _interval_whiskers(rows)
    traces = []
    for drug_class in dict.fromkeys(classes):
        positions = np.flatnonzero(classes == drug_class)
        whiskers = whiskers_of(positions)
        traces.append(
            {
                "type": "bar",
                "x": z[positions],
                "y": [ticks[i] for i in positions],
                "orientation": "h",
                "name": str(drug_class),
                "marker": {"color": class_colour(drug_class)},
                **({"error_x": whiskers} if whiskers is not None else {}),
                "customdata": hover[positions],
                "hovertemplate": (
                    "<b>%{y}</b> (rank %{customdata[0]})<br>predicted z log AUC %{x:.2f}%{customdata[6]}<br>"
                    "target: %{customdata[1]}<br>MOA: %{customdata[2]}<br>pathway: %{customdata[3]}<br>"
                    "cross-validated ρ %{customdata[4]}<extra>%{fullData.name}</extra>"
                ),
            }
        )
    if measured is not None:
        values = rows["drug_key"].map(measured)
        shown = values.notna().to_numpy()
        if shown.any():
            traces.append(
                {
                    "type": "scatter",
                    "x": values[shown].to_numpy(dtype=float),
                    "y": [ticks[i] for i in np.flatnonzero(shown)],
                    "mode": "markers",
                    "name": "measured",
                    "marker": {"symbol": "diamond", "size": 11, "color": "black"},
                    "hovertemplate": "<b>%{y}</b><br>measured z log AUC %{x:.2f}<extra>measured</extra>",
                }
            )
    layout = {  # one constructor call: plotly's update_* round trips cost more than the whole rest
        "yaxis": {
            "categoryorder": "array",
            "categoryarray": ticks[::-1],
            "automargin": True,
            "tickfont": {"size": FONT_SIZE - 1},
        },
        "xaxis": {
            "title": {"text": "predicted z log AUC  (← more sensitive · more resistant →)"},
            "tickfont": {"size": FONT_SIZE - 1},
            "zeroline": True,
            "zerolinecolor": "#444",
            "gridcolor": "#e5e5e5",
        },
        "barmode": "overlay",
        "bargap": 0.25,
        **({"title": {"text": title}} if title else {}),
    }
    return _figure(traces, _layout_spec(height=140 + ROW_HEIGHT * len(rows), **layout))


# --- explanations -------------------------------------------------------------------------------------------


def relevance_heatmap(
    relevance: pd.DataFrame,
    expression_z: pd.Series | None = None,
    targets: Collection[tuple[str, str]] = (),
) -> go.Figure:
    """Genes × drugs relevance heatmap on a diverging scale centred at 0 (red resistance, blue sensitising).

    ``relevance`` has genes as index and drug labels as columns; ``targets`` holds (gene, drug label) pairs
    that are annotated targets and get a star; ``expression_z`` (gene → z) goes into the hover only.
    """
    genes = [str(g) for g in relevance.index]
    drugs = [str(d) for d in relevance.columns]
    values = relevance.to_numpy(dtype=float)
    limit = float(np.nanmax(np.abs(values))) if values.size and np.isfinite(values).any() else 1.0
    expression = (
        expression_z.reindex(relevance.index).to_numpy(dtype=float)
        if expression_z is not None
        else np.full(len(genes), np.nan)
    )
    hover_expression = np.repeat(expression[:, None], len(drugs), axis=1)
    marks = np.array(
        [[TARGET_MARK if (g, d) in targets else "" for d in drugs] for g in genes], dtype=object
    ).reshape(len(genes), len(drugs))
    heatmap = {
        "type": "heatmap",
        "z": values,
        "x": drugs,
        "y": genes,
        "zmid": 0,
        "zmin": -limit,
        "zmax": limit,
        "colorscale": _colorscale("RdBu_r"),
        "text": marks,
        "texttemplate": "%{text}",
        "textfont": {"size": FONT_SIZE + 2, "color": "black"},
        "customdata": hover_expression,
        "colorbar": {"title": {"text": "relevance"}},
        "hovertemplate": (
            "<b>%{y}</b> · %{x}<br>relevance %{z:.3g}<br>expression z %{customdata:.2f}<extra></extra>"
        ),
    }
    layout = _layout_spec(
        height=200 + 24 * len(genes),
        yaxis={"autorange": "reversed", "automargin": True, "tickfont": {"size": FONT_SIZE - 1}},
        xaxis={"side": "top", "automargin": True, "tickangle": -30, "tickfont": {"size": FONT_SIZE - 1}},
    )
    # the drug labels sit on top, clear of the chart toolbar
    layout["margin"] = {**layout["margin"], "t": 130}
    return _figure([heatmap], layout)


def gene_bars(
    explanation: pd.DataFrame,
    per_side: int = 10,
    title: str | None = None,
    show_expression: bool = True,
    x_title: str = "share of the predicted z log AUC<br>← sensitising · resistance →",
) -> go.Figure:
    """Top sensitising and top resistance genes of one (sample, drug), with the sample's expression z.

    ``explanation`` is the ``Neurix.explain`` frame of one sample and one drug (any number of genes). With
    ``show_expression=False`` (reports) the expression is shown as a coarse label (high/average/low), never
    as a number from the input.
    """
    # Positions of the per_side most negative and most positive relevances, found on the one column (sorting the
    # whole all-gene frame, string columns included, cost more than drawing the figure).
    values = explanation["relevance"].to_numpy(dtype=float)
    order = np.argsort(values, kind="stable")
    negative = order[values[order] < 0][:per_side]
    positive = order[values[order] > 0]
    positive = positive[max(0, positive.size - per_side) :]
    # the bars' rows: the first row of each gene, read column by column (a row take of the wide frame cost more)
    candidates = np.concatenate([positive[::-1], negative[::-1]])
    first_row: dict[object, int] = {}
    for row, gene in zip(candidates, np.asarray(explanation["gene"].array.take(candidates)), strict=True):
        first_row.setdefault(gene, int(row))
    rows = np.fromiter(first_row.values(), dtype=np.intp, count=len(first_row))

    def column(name: str) -> np.ndarray:
        return np.asarray(explanation[name].array.take(rows))

    relevance = column("relevance").astype(float)
    labels = [
        f"{g} {TARGET_MARK}" if t else str(g) for g, t in zip(first_row, column("is_target"), strict=True)
    ]
    # ● / ◐ / ○ agreement with the shipped fold models (none: no symbol)
    if "stability" in explanation.columns:
        labels = [
            f"{label} {SYMBOLS.get(s, '')}".rstrip()
            for label, s in zip(labels, column("stability"), strict=True)
        ]
    colours = [RESISTANCE_COLOUR if r > 0 else SENSITISING_COLOUR for r in relevance]
    expression = column("expression_z").astype(float)
    if show_expression:
        text = [  # "expr z 0.0", never "-0.0"
            "expr n/a" if np.isnan(z) else "expr z 0.0" if round(z, 1) == 0 else f"expr z {z:+.1f}"
            for z in expression
        ]
        expression_hover = "expression z in this sample %{customdata[0]:.2f}"
    else:
        text = [f"expr {expression_level(z)}" for z in expression]
        expression_hover = "expression in this sample: %{text}"
        expression = np.zeros_like(expression)
    bars = {
        "type": "bar",
        "x": relevance,
        "y": labels,
        "orientation": "h",
        "marker": {"color": colours},
        "text": text,
        "textposition": "outside",
        "cliponaxis": False,
        "customdata": np.column_stack(
            [expression, np.array([str(d) for d in column("direction")], dtype=object)]
        ),
        "hovertemplate": (
            "<b>%{y}</b><br>relevance %{x:.3g} (%{customdata[1]})<br>" + expression_hover + "<extra></extra>"
        ),
        "showlegend": False,
    }
    reach = float(np.abs(relevance).max()) if len(rows) else 1.0
    layout = {  # one constructor call (see prediction_bars)
        "yaxis": {
            "categoryorder": "array",
            "categoryarray": labels[::-1],
            "automargin": True,
            "tickfont": {"size": FONT_SIZE - 1},
        },
        "xaxis": {
            "title": {"text": x_title},
            "zeroline": True,
            "zerolinecolor": "#444",
            "gridcolor": "#e5e5e5",
            "range": [-1.7 * reach, 1.7 * reach],  # room for the expression labels outside the bars
            "tickformat": ".2g",
        },
        **({"title": {"text": title}} if title else {}),
    }
    return _figure([bars], _layout_spec(height=120 + 26 * len(rows), **layout))


# --- drug map -----------------------------------------------------------------------------------------------


def _category_column(table: pd.DataFrame, column: str) -> pd.Series:
    """The colour category per drug; rare values beyond the MAX_CATEGORIES most frequent become 'other'."""
    values = table[column].fillna("").astype(str).replace("", "unannotated")
    common = values.value_counts().index[:MAX_CATEGORIES]
    return values.where(values.isin(common), "other")


MAP_HEIGHT = 640
MAP_PLOT_SIZE = (
    640,
    500,
)  # plot-area pixels labels are placed for: a laptop's width (wider only spreads them)
MAP_LABELS = 15  # candidates labelled by name on the map (all are numbered)
SENSITIVITY_SCALE = "RdBu_r"  # blue = predicted more sensitive (negative z), as on the relevance heatmap
RELIABILITY_ORDER = ("high", "moderate", "low", "unvalidated")


def _map_customdata(table: pd.DataFrame, prediction: pd.Series) -> np.ndarray:
    return np.column_stack(
        [
            table["targets"].fillna("").astype(str).str.replace("|", ", ", regex=False),
            table["phase"].fillna("").astype(str),
            table["indication"].fillna("").astype(str).str.replace("|", ", ", regex=False).str.slice(0, 80),
            ["–" if np.isnan(p) else f"{p:+.2f}" for p in prediction],
            table["moa"].fillna("").astype(str).str.replace("|", ", ", regex=False),
            table["screen"].fillna("").astype(str),
            table["drug_name"].astype(str),
            table["drug_key"].astype(str),
            [f"{t.symbol} {t.tier}" for t in map(reliability, table["cv_rho"])],
        ]
    )


def _short_name(name: object, limit: int = 22) -> str:
    text = str(name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def drug_map_scatter(
    table: pd.DataFrame,
    colour_by: str = "drug_class",
    predictions: Mapping[str, float] | None = None,
    highlight: Collection[str] = (),
    focus: Collection[str] = (),
    neighbours: Collection[str] = (),
) -> go.Figure:
    """UMAP of the drug tower, coloured by this sample's predicted sensitivity (``colour_by="sensitivity"``,
    diverging, centred at 0), by reliability tier, or by a drug annotation column.

    ``highlight`` drug keys (repurposing candidates, in table order) get big outlined markers numbered like the
    candidate table; ``focus`` (searched or clicked drugs) get a star; ``neighbours`` a ring. Candidates and
    focused drugs are labelled by name, placed so that labels do not overlap. ``predictions`` (drug_key →
    predicted z log AUC for the current sample) colours the sensitivity view and is shown in the hover.
    """
    from neurix_core.report.labels import place_labels

    table = table.reset_index(drop=True)
    prediction = table["drug_key"].map(predictions or {}).astype(float)
    customdata = _map_customdata(table, prediction)
    hover = (
        "<b>%{customdata[6]}</b> · %{customdata[5]}<br>target: %{customdata[0]}<br>MOA: %{customdata[4]}<br>"
        "phase: %{customdata[1]}<br>indication: %{customdata[2]}<br>this sample's prediction: %{customdata[3]}"
        "<br>reliability: %{customdata[8]}<extra></extra>"
    )
    fig = go.Figure()
    colour_of: list[str] | np.ndarray
    if colour_by == "sensitivity":
        known = prediction.notna().to_numpy()
        finite = prediction[known].abs()
        limit = float(finite.quantile(0.98)) if len(finite) else 1.0
        limit = limit if limit > 0 else 1.0
        if (~known).any():
            fig.add_trace(
                _map_points(table, customdata, ~known, "no prediction", GREYS["unannotated"], hover)
            )
        fig.add_trace(
            go.Scatter(
                x=table.loc[known, "umap_x"],
                y=table.loc[known, "umap_y"],
                mode="markers",
                name="predicted z log AUC",
                customdata=customdata[known],
                marker={
                    "size": 8,
                    "color": prediction[known],
                    "colorscale": SENSITIVITY_SCALE,
                    "cmid": 0,
                    "cmin": -limit,
                    "cmax": limit,
                    "opacity": 0.85,
                    "line": {"width": 0.3, "color": "#666"},
                    "colorbar": {
                        "title": {"text": "predicted z<br>(this sample)", "side": "right"},
                        "thickness": 14,
                        "len": 0.8,
                    },
                },
                hovertemplate=hover,
                showlegend=False,
            )
        )
        colour_of = ["white"] * len(table)
    else:
        if colour_by == "reliability":
            category = pd.Series([reliability(r).tier for r in table["cv_rho"]])
            order = [t for t in RELIABILITY_ORDER if t in set(category)]
            colours = {t: RELIABILITY_TIERS[t].colour for t in RELIABILITY_ORDER}
        else:
            category = _category_column(table, colour_by)
            named = [c for c in category.value_counts().index if c not in GREYS]
            order = named + [
                c for c in GREYS if c in set(category)
            ]  # 'other' and 'unannotated' last, in grey
            if colour_by == "drug_class":
                colours = {c: CLASS_COLOURS.get(c, OTHER_COLOUR) for c in named}
            else:
                colours = {c: QUALITATIVE[i % len(QUALITATIVE)] for i, c in enumerate(named)}
            colours.update(GREYS)
        for value in order:
            mask = (category == value).to_numpy()
            fig.add_trace(_map_points(table, customdata, mask, value, colours[value], hover))
        colour_of = [colours.get(c, OTHER_COLOUR) for c in category]

    position = {key: i for i, key in enumerate(dict.fromkeys(highlight))}
    index_of = {key: i for i, key in enumerate(table["drug_key"])}
    rows = [index_of[key] for key in position if key in index_of]
    focus_rows = [index_of[key] for key in dict.fromkeys(focus) if key in index_of]
    neighbour_rows = [index_of[key] for key in dict.fromkeys(neighbours) if key in index_of]
    if neighbour_rows:
        fig.add_trace(
            go.Scatter(
                x=table["umap_x"].iloc[neighbour_rows],
                y=table["umap_y"].iloc[neighbour_rows],
                mode="markers",
                name="nearest drugs in the model's space",
                customdata=customdata[neighbour_rows],
                marker={"size": 17, "color": "rgba(0,0,0,0)", "line": {"width": 2.5, "color": "#222"}},
                hovertemplate=hover,
            )
        )
    if rows:
        fig.add_trace(
            go.Scatter(
                x=table["umap_x"].iloc[rows],
                y=table["umap_y"].iloc[rows],
                mode="markers+text",
                name="repurposing candidate (number = row in the table)",
                text=[str(position[table["drug_key"].iloc[i]] + 1) for i in rows],
                textposition="middle center",
                textfont={"color": "black" if colour_by == "sensitivity" else "white", "size": FONT_SIZE - 4},
                customdata=customdata[rows],
                marker={
                    "size": 22,
                    "color": [colour_of[i] for i in rows],
                    "line": {"width": 2.5, "color": "black"},
                    "symbol": "circle",
                },
                hovertemplate=hover,
            )
        )
    if focus_rows:
        fig.add_trace(
            go.Scatter(
                x=table["umap_x"].iloc[focus_rows],
                y=table["umap_y"].iloc[focus_rows],
                mode="markers",
                name="searched drug",
                customdata=customdata[focus_rows],
                marker={
                    "size": 24,
                    "symbol": "star",
                    "color": "#FFD43B",
                    "line": {"width": 2, "color": "black"},
                },
                hovertemplate=hover,
            )
        )

    pad_x = 0.05 * float(np.ptp(table["umap_x"]) or 1.0)
    pad_y = 0.05 * float(np.ptp(table["umap_y"]) or 1.0)
    x_range = (float(table["umap_x"].min()) - pad_x, float(table["umap_x"].max()) + pad_x)
    y_range = (float(table["umap_y"].min()) - pad_y, float(table["umap_y"].max()) + pad_y)
    labelled = [(i, _short_name(table["drug_name"].iloc[i]), True) for i in focus_rows]
    labelled += [
        (i, f"{position[table['drug_key'].iloc[i]] + 1}. {_short_name(table['drug_name'].iloc[i])}", False)
        for i in rows[:MAP_LABELS]
        if i not in focus_rows
    ]
    if labelled:
        spots = place_labels(
            table["umap_x"].iloc[[i for i, _, _ in labelled]].to_numpy(),
            table["umap_y"].iloc[[i for i, _, _ in labelled]].to_numpy(),
            [text for _, text, _ in labelled],
            x_range=x_range,
            y_range=y_range,
            width=MAP_PLOT_SIZE[0],
            height=MAP_PLOT_SIZE[1],
            font_size=FONT_SIZE - 3,
        )
        for (i, text, is_focus), spot in zip(labelled, spots, strict=True):
            fig.add_annotation(
                x=table["umap_x"].iloc[i],
                y=table["umap_y"].iloc[i],
                ax=spot.dx,
                ay=spot.dy,
                text=f"<b>{html.escape(text)}</b>" if is_focus else html.escape(text),
                showarrow=True,
                arrowhead=0,
                arrowwidth=1,
                arrowcolor="#444",
                font={"size": FONT_SIZE - 3, "color": "#111"},
                bgcolor="rgba(255,255,255,0.85)",
                bordercolor="#111" if is_focus else "#999",
                borderwidth=1,
                borderpad=2,
            )
    fig.update_xaxes(title="UMAP 1", showticklabels=False, showgrid=False, zeroline=False, range=x_range)
    fig.update_yaxes(title="UMAP 2", showticklabels=False, showgrid=False, zeroline=False, range=y_range)
    return _layout(fig, height=MAP_HEIGHT)


def _map_points(
    table: pd.DataFrame, customdata: np.ndarray, mask: np.ndarray, name: str, colour: str, hover: str
) -> go.Scatter:
    return go.Scatter(
        x=table.loc[mask, "umap_x"],
        y=table.loc[mask, "umap_y"],
        mode="markers",
        name=name,
        text=table.loc[mask, "drug_name"].astype(str),
        customdata=customdata[mask],
        marker={"size": 8, "color": colour, "opacity": 0.75},
        hovertemplate=hover,
    )


# --- model card ---------------------------------------------------------------------------------------------


def _threshold_lines(fig: go.Figure, horizontal: bool = False) -> None:
    """Dashed lines at the reliability thresholds (labelled on the histogram, explained in captions)."""
    for value, label, position in ((MODERATE_RHO, "moderate", "top left"), (HIGH_RHO, "high", "top right")):
        if horizontal:
            fig.add_hline(y=value, line_dash="dash", line_color="#666")
        else:
            fig.add_vline(
                x=value,
                line_dash="dash",
                line_color="#666",
                annotation_text=f"{label} ≥ {value}",
                annotation_position=position,
            )


def rho_histogram(drugs: pd.DataFrame, column: str = "cv_rho", title: str | None = None) -> go.Figure:
    """Distribution of per-drug ρ, stacked by drug class, with the reliability thresholds."""
    fig = go.Figure()
    for drug_class, part in drugs.dropna(subset=[column]).groupby("drug_class", sort=True):
        fig.add_trace(
            go.Histogram(
                x=part[column],
                name=str(drug_class),
                marker={"color": class_colour(drug_class)},
                xbins={"size": 0.025},
                hovertemplate="ρ %{x}<br>%{y} drugs<extra>%{fullData.name}</extra>",
            )
        )
    _threshold_lines(fig)
    fig.update_layout(barmode="stack", title=title)
    fig.update_xaxes(title="per-drug Spearman ρ (cross-validated)", gridcolor="#e5e5e5")
    fig.update_yaxes(title="drugs", gridcolor="#e5e5e5")
    return _layout(fig, height=420)


def rho_by_class(drugs: pd.DataFrame, column: str = "cv_rho") -> go.Figure:
    """Box plot with every drug as a point, per drug class."""
    fig = go.Figure()
    data = drugs.dropna(subset=[column])
    for drug_class, part in data.groupby("drug_class", sort=True):
        fig.add_trace(
            go.Box(
                y=part[column],
                name=f"{drug_class} (n={len(part)})",
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker={"color": class_colour(drug_class), "size": 5, "opacity": 0.6},
                text=[drug_label(n, s) for n, s in zip(part["drug_name"], part["screen"], strict=True)],
                hovertemplate="<b>%{text}</b><br>ρ %{y:.3f}<extra></extra>",
                showlegend=False,
            )
        )
    _threshold_lines(fig, horizontal=True)
    fig.update_yaxes(title="per-drug Spearman ρ", gridcolor="#e5e5e5")
    return _layout(fig, height=440)


def ridge_comparison(drugs: pd.DataFrame) -> go.Figure:
    """Per-drug ρ of Neurix against the ridge baseline on the same folds (above the diagonal: Neurix wins)."""
    data = drugs.dropna(subset=["cv_rho", "ridge_rho"])
    fig = go.Figure()
    for drug_class, part in data.groupby("drug_class", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["ridge_rho"],
                y=part["cv_rho"],
                mode="markers",
                name=str(drug_class),
                marker={"color": class_colour(drug_class), "size": 7, "opacity": 0.7},
                text=[drug_label(n, s) for n, s in zip(part["drug_name"], part["screen"], strict=True)],
                hovertemplate="<b>%{text}</b><br>ridge ρ %{x:.3f}<br>Neurix ρ %{y:.3f}<extra></extra>",
            )
        )
    if len(data):
        low = float(min(data["cv_rho"].min(), data["ridge_rho"].min()))
        high = float(max(data["cv_rho"].max(), data["ridge_rho"].max()))
        fig.add_trace(
            go.Scatter(
                x=[low, high],
                y=[low, high],
                mode="lines",
                name="equal",
                line={"dash": "dash", "color": "#666"},
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(title="ridge regression ρ", gridcolor="#e5e5e5")
    fig.update_yaxes(title="Neurix ρ", gridcolor="#e5e5e5")
    return _layout(fig, height=480)


def external_histogram(per_drug: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Per-drug ρ of a cross-lab transfer (train on one screen, predict another lab's measurements)."""
    fig = go.Figure(
        go.Histogram(
            x=pd.to_numeric(per_drug.get("rho", pd.Series(dtype=float)), errors="coerce").dropna(),
            xbins={"size": 0.025},
            marker={"color": "#0072B2"},
            name="drugs",
            hovertemplate="ρ %{x}<br>%{y} drugs<extra></extra>",
        )
    )
    _threshold_lines(fig)
    fig.update_layout(title=title, showlegend=False)
    fig.update_xaxes(title="per-drug Spearman ρ", gridcolor="#e5e5e5")
    fig.update_yaxes(title="drugs", gridcolor="#e5e5e5")
    return _layout(fig, height=380)


def loss_curve(history: list[float]) -> go.Figure:
    """Training loss per epoch of the shipped model (from the manifest)."""
    fig = go.Figure(
        go.Scatter(x=list(range(1, len(history) + 1)), y=history, mode="lines+markers", name="loss")
    )
    fig.update_xaxes(title="epoch", gridcolor="#e5e5e5")
    fig.update_yaxes(title="training loss", gridcolor="#e5e5e5")
    return _layout(fig, height=320, showlegend=False)


def relevance_expression_scatter(points: pd.DataFrame, gene: str, drug: str) -> go.Figure:
    """One gene's relevance for one drug against its expression, one point per held-out cell line, with the
    least-squares line: a rising cloud means 'higher expression → pushed towards resistance'."""
    x = points["expression_z"].to_numpy(dtype=float)
    y = points["relevance"].to_numpy(dtype=float)
    colours = [RESISTANCE_COLOUR if v > 0 else SENSITISING_COLOUR for v in y]
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="markers",
            marker={"color": colours, "size": 6, "opacity": 0.7},
            text=points["cell_line"],
            hovertemplate="%{text}<br>expression z %{x:.2f}<br>relevance %{y:.3g}<extra></extra>",
            showlegend=False,
        )
    )
    if len(x) >= 3 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.array([x.min(), x.max()])
        fig.add_trace(
            go.Scatter(
                x=grid,
                y=slope * grid + intercept,
                mode="lines",
                line={"color": "#444"},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(title=f"{gene} expression (z within the cell line)", gridcolor="#e5e5e5")
    fig.update_yaxes(
        title=f"{gene} relevance for {drug}<br>(share of predicted z log AUC)",
        zeroline=True,
        zerolinecolor="#444",
        gridcolor="#e5e5e5",
        tickformat=".2g",
    )
    return _layout(fig, height=380)
