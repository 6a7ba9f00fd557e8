"""A self-contained HTML report of one sample: top predictions, top genes per drug, provenance and disclaimer.

Why HTML: it opens offline on any hospital PC, prints to PDF from the browser and can be attached to a
tumour-board record. The report is a pure function of tables the ``Neurix`` API returns, so the same inputs
always give the same bytes (apart from the date passed in), and it never carries the uploaded data: the input
is identified by the sha256 fingerprint of the uploaded bytes, and gene expression appears only as a coarse
label (high/average/low). Optional interactive charts embed plotly.js inline (no network access needed,
~4.5 MB larger).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping

import pandas as pd

from neurix_core import __version__
from neurix_core.report.protocol import paired_sentence
from neurix_core.report.text import (
    CITATIONS,
    CLASS_COLOURS,
    DISCLAIMER,
    NON_CLAIMS,
    OTHER_COLOUR,
    RELIABILITY_EXPLANATION,
    RESISTANCE_COLOUR,
    SENSITISING_COLOUR,
    SIGN_CONVENTION,
    TARGET_MARK,
    drug_label,
    drug_labels,
    expression_level,
    reliability,
)

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1a202c;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; font-size: 15px; line-height: 1.45; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 2px solid #e2e8f0; }
h3 { margin-bottom: 0.3em; }
.meta { color: #4a5568; }
.disclaimer { border: 2px solid #c53030; background: #fff5f5; padding: 0.8em 1em; border-radius: 6px;
              font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0 1em; }
th, td { border-bottom: 1px solid #e2e8f0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f7fafc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { position: relative; width: 160px; height: 14px; background: #f7fafc; }
.bar span { position: absolute; top: 0; height: 14px; }
.bar i { position: absolute; left: 50%; top: -2px; height: 18px; border-left: 1px solid #4a5568; }
.tier, .class { white-space: nowrap; font-weight: 600; } .class { font-weight: 400; }
.target { color: #b7791f; font-weight: 700; }
.small { font-size: 0.9em; color: #4a5568; }
code { font-size: 0.85em; word-break: break-all; }
@media print { .pagebreak { page-break-before: always; } body { margin: 0; } }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _number(value: object, digits: int = 2, signed: bool = True) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if math.isnan(number):
        return "n/a"
    return f"{number:+.{digits}f}" if signed else f"{number:.{digits}f}"


def _bar(value: float, scale: float, negative_colour: str, positive_colour: str) -> str:
    """A centred CSS bar (no JavaScript, prints fine): left of the centre line for negative values."""
    if not math.isfinite(value) or scale <= 0:
        return '<div class="bar"><i></i></div>'
    width = min(50.0, abs(value) / scale * 50.0)
    left = 50.0 - width if value < 0 else 50.0
    colour = negative_colour if value < 0 else positive_colour
    return (
        f'<div class="bar"><span style="left:{left:.1f}%;width:{width:.1f}%;background:{colour}"></span>'
        "<i></i></div>"
    )


def _scale(values: pd.Series) -> float:
    finite = pd.to_numeric(values, errors="coerce").abs().dropna()
    return float(finite.max()) if len(finite) and finite.max() > 0 else 1.0


def _predictions_table(
    rows: pd.DataFrame, measured: Mapping[str, float] | None, names: Mapping[str, str]
) -> str:
    scale = _scale(rows["z_log_auc"])
    has_measured = measured is not None and any(k in measured for k in rows["drug_key"])
    head = (
        "<tr><th>Rank</th><th>Drug</th><th>Class</th><th>Predicted z log AUC</th><th></th>"
        + ("<th>Measured</th>" if has_measured else "")
        + "<th>Reliability (ρ)</th><th>Targets</th><th>Mechanism</th></tr>"
    )
    body = []
    for row in rows.itertuples(index=False):
        tier = reliability(row.cv_rho)
        colour = CLASS_COLOURS.get(str(row.drug_class), OTHER_COLOUR)
        measured_cell = (
            f'<td class="num">{_number(measured.get(row.drug_key))}</td>' if has_measured and measured else ""
        )
        body.append(
            f'<tr><td class="num">{int(row.rank)}</td>'
            f"<td><b>{_e(names.get(row.drug_key, drug_label(row.drug_name, row.screen)))}</b></td>"
            f'<td class="class"><span style="color:{colour}">■</span> {_e(row.drug_class)}</td>'
            f'<td class="num">{_number(row.z_log_auc)}</td>'
            f"<td>{_bar(float(row.z_log_auc), scale, SENSITISING_COLOUR, RESISTANCE_COLOUR)}</td>"
            f"{measured_cell}"
            f'<td class="tier" style="color:{tier.colour}">{tier.symbol} {_e(tier.tier)} '
            f"({_number(row.cv_rho, signed=False)})</td><td>{_e(row.targets)}</td><td>{_e(row.moa)}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _top_genes(frame: pd.DataFrame, per_side: int) -> pd.DataFrame:
    """The ``per_side`` strongest resistance genes (strongest first), then the strongest sensitising genes."""
    ordered = frame.sort_values("relevance")
    return pd.concat(
        [
            ordered[ordered["relevance"] > 0].tail(per_side).iloc[::-1],
            ordered[ordered["relevance"] < 0].head(per_side),
        ]
    )


def _genes_table(chosen: pd.DataFrame) -> str:
    """Top resistance and sensitising genes of one drug; expression as a label only."""
    scale = _scale(chosen["relevance"])
    rows = []
    for row in chosen.itertuples(index=False):
        gene = _e(row.gene) + (f' <span class="target">{TARGET_MARK}</span>' if row.is_target else "")
        direction = "resistance" if row.relevance > 0 else "sensitising"
        rows.append(
            f"<tr><td><b>{gene}</b></td><td>{direction}</td>"
            f'<td class="num">{row.relevance:+.3g}</td>'
            f"<td>{_bar(float(row.relevance), scale, SENSITISING_COLOUR, RESISTANCE_COLOUR)}</td>"
            f"<td>{expression_level(row.expression_z)}</td></tr>"
        )
    if not rows:
        return '<p class="small">No gene carried relevance for this drug.</p>'
    head = (
        "<tr><th>Gene</th><th>Pushes towards</th><th>Relevance</th><th></th><th>Expression in "
        "sample</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _cv_summary(validation: Mapping | None) -> str:
    summary = ((validation or {}).get("cross_validation") or {}).get("summary") or {}
    overall = summary.get("all")
    if not isinstance(overall, Mapping):
        return "Cross-validation figures are not available in this model bundle."
    parts = [f"mean per-drug ρ {_number(overall.get('mean_rho'), 3, signed=False)}"]
    if "n_rho_gt_0.2" in overall:
        parts.append(f"{overall['n_rho_gt_0.2']} of {overall.get('n_drugs', '?')} drugs with ρ &gt; 0.2")
    text = "5-fold cell-line cross-validation: " + ", ".join(parts) + "."
    for baseline in ("ridge", "tissue"):
        sentence = paired_sentence((validation or {}).get("protocol"), baseline)
        if sentence:
            text += " " + sentence
    return text


def _figures_html(
    rows: pd.DataFrame,
    explanations: pd.DataFrame,
    drugs: list[str],
    per_side: int,
    measured: Mapping | None,
    names: Mapping[str, str],
) -> tuple[str, dict[str, str]]:
    """Inline plotly figures: the first carries plotly.js itself, so the file works offline."""
    from neurix_core.report.figures import gene_bars, prediction_bars

    measured_series = pd.Series(dict(measured)) if measured else None
    bars = prediction_bars(rows, measured_series, labels=names).to_html(
        full_html=False, include_plotlyjs="inline"
    )
    per_drug = {}
    for key in drugs:
        frame = explanations[explanations["drug_key"] == key]
        if len(frame):
            per_drug[key] = gene_bars(frame, per_side, show_expression=False).to_html(
                full_html=False, include_plotlyjs=False
            )
    return bars, per_drug


def build_report(
    sample: str,
    predictions: pd.DataFrame,
    explanations: pd.DataFrame,
    *,
    fingerprint: str,
    manifest: Mapping | None = None,
    validation: Mapping | None = None,
    input_summary: Mapping[str, object] | None = None,
    sample_description: str = "",
    measured: Mapping[str, float] | None = None,
    top_n: int = 25,
    genes_per_drug: int = 10,
    generated: dt.datetime | None = None,
    interactive: bool = False,
) -> str:
    """The report as one HTML string.

    ``predictions``: ``Neurix.predict`` rows (only ``sample``'s are used). ``explanations``:
    ``Neurix.explain`` rows of the drugs to detail, any number of genes per drug; only gene, relevance,
    direction, target flag and a coarse expression label are written. ``fingerprint``: sha256 of the uploaded
    bytes. ``input_summary``: what was detected (value scale, ids, genes recognised, coverage). ``measured``:
    drug_key → measured response (example cell lines only).
    """
    generated = generated or dt.datetime.now(dt.UTC).replace(microsecond=0)
    manifest = manifest or {}
    sample_rows = predictions[predictions["sample"].astype(str) == str(sample)].sort_values("rank")
    names = drug_labels(sample_rows)
    by_key = sample_rows.set_index("drug_key")
    rows = sample_rows.head(max(1, top_n))
    explanations = (
        explanations[explanations["sample"].astype(str) == str(sample)] if len(explanations) else explanations
    )
    drug_keys = list(dict.fromkeys(explanations["drug_key"])) if len(explanations) else []
    bars_html, gene_figures = (
        _figures_html(rows, explanations, drug_keys, genes_per_drug, measured, names)
        if interactive
        else ("", {})
    )

    summary_items = "".join(
        f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in (input_summary or {}).items()
    )
    drug_sections = []
    for key in drug_keys:
        frame = explanations[explanations["drug_key"] == key]
        first = frame.iloc[0]
        info = by_key.loc[key] if key in by_key.index else None
        tier = reliability(info["cv_rho"] if info is not None else None)
        rank = f"rank {int(info['rank'])}, " if info is not None else ""
        z = _number(info["z_log_auc"] if info is not None else first.get("prediction"))
        chosen = _top_genes(frame, genes_per_drug)
        targets_found = sorted(set(chosen.loc[chosen["is_target"].astype(bool), "gene"].astype(str)))
        label = names.get(key, drug_label(first["drug_name"], first.get("screen", "")))
        drug_sections.append(
            f"<h3>{_e(label)}</h3>"
            f'<p class="meta">{_e(first.get("drug_class", ""))} · targets: {_e(first.get("targets", ""))} · '
            f"{rank}predicted z log AUC {z} · "
            f'<span class="tier" style="color:{tier.colour}">reliability {tier.symbol} {_e(tier.tier)}</span>'
            + (
                f" · annotated target(s) among the top genes: {_e(', '.join(targets_found))}"
                if targets_found
                else ""
            )
            + "</p>"
            + _genes_table(chosen)
            + gene_figures.get(key, "")
        )
    citations = "".join(
        f'<li><b>{_e(c.key)}</b>: {_e(c.text)} <a href="{_e(c.url)}">doi:{_e(c.doi)}</a></li>'
        for c in CITATIONS
    )
    non_claims = "".join(f"<li>{_e(text)}</li>" for text in NON_CLAIMS)
    screens = ", ".join(map(str, manifest.get("screens", []))) or "n/a"
    title = f"Neurix report · {sample}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Neurix {_e(__version__)}"><title>{_e(title)}</title>
<style>{CSS}</style></head>
<body>
<h1>Neurix drug-response report</h1>
<p class="meta">Sample <b>{_e(sample)}</b>{(" · " + _e(sample_description)) if sample_description else ""}<br>
Generated {_e(generated.isoformat())} · model version <b>{_e(manifest.get("model_version", "unknown"))}</b>
(created {_e(manifest.get("created", "n/a"))}, screens {_e(screens)}) · Neurix {_e(__version__)}</p>
<p class="disclaimer">{_e(DISCLAIMER)}</p>

<h2>Input</h2>
<table><tr><th>Input fingerprint
(sha256)</th><td><code>{_e(fingerprint)}</code></td></tr>{summary_items}</table>
<p class="small">The fingerprint identifies the uploaded file without containing it: recompute it with
<code>sha256sum FILE</code>. This report contains no expression values from the input.</p>

<h2>Top {len(rows)} predicted drugs</h2>
<p class="small">{_e(SIGN_CONVENTION.split(" Gene relevance")[0])}</p>
{_predictions_table(rows, measured, names)}
<p class="small">{_e(RELIABILITY_EXPLANATION)} {_e(_cv_summary(validation))}</p>
{bars_html}

<h2 class="pagebreak">Genes behind the predictions</h2>
<p class="small">{_e(SIGN_CONVENTION)} {TARGET_MARK} marks an annotated target of the drug.
Expression is shown relative to the sample's own genes: high (z ≥ 1), low (z ≤ −1), otherwise average.</p>
{"".join(drug_sections) if drug_sections else '<p class="small">No drugs were selected for explanation.</p>'}

<h2>Limitations</h2>
<ul>{non_claims}</ul>

<h2>Data and method citations</h2>
<ul>{citations}</ul>
<p class="disclaimer">{_e(DISCLAIMER)}</p>
</body></html>
"""
