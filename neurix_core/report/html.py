"""The report of one sample: one HTML template for the screen, the browser's print and the PDF.

Page 1 is a one-page summary a tumour board can read at a glance (case fields, top drugs, key genes, data quality
and domain, training platform, disclaimer); the pages after it hold the details (full drug table, per-drug gene
explanations, methods, limitations, citations). Print CSS sets A4 or US Letter, a running header with sample and
model version, "page x of y", keeps headings with what follows and never splits a table row; charts are inline
SVG, so they stay vector graphics in the PDF (``neurix_core.report.pdf``).

The report is a pure function of tables the ``Neurix`` API returns, so the same inputs give the same bytes (apart
from the date passed in), and it never carries the uploaded data: the input is identified by the sha256
fingerprint of the uploaded bytes, and gene expression appears only as a coarse label (high/average/low).
Columns added by newer bundles (intervals, percentile, hit rate, applicability domain, platform and scaling) and a
per-sample data-quality record are shown where present and left out cleanly where not.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping

import pandas as pd

from neurix_core import __version__
from neurix_core.report.case import CaseDetails
from neurix_core.report.protocol import paired_sentence, repeated_protocol
from neurix_core.report.svg import diverging_bars
from neurix_core.report.text import (
    CITATIONS,
    CLASS_COLOURS,
    DISCLAIMER,
    METHODS,
    NON_CLAIMS,
    OTHER_COLOUR,
    PLATFORM_CAVEAT,
    RELEVANCE_UNITS,
    RELIABILITY_EXPLANATION,
    RESISTANCE_COLOUR,
    SENSITISING_COLOUR,
    SIGN_CONVENTION,
    TARGET_MARK,
    TRAINING_PLATFORM,
    drug_label,
    drug_labels,
    expression_level,
    reliability,
)

MISSING = "–"
PAPER_SIZES = {"a4": "A4", "letter": "letter"}
SUMMARY_DRUGS = 8  # drugs on the one-page summary (with interval, percentile and hit rate: fits one page)
SUMMARY_GENE_DRUGS = 4  # explained drugs whose key genes go on page 1
KEY_GENES = 3  # per direction on page 1

CSS = """
@page { size: __PAGE__; margin: 17mm 13mm 16mm 13mm;
  @top-left { content: "Neurix report · sample " string(sample); font-size: 8pt; color: #4a5568; }
  @top-right { content: "model " string(model); font-size: 8pt; color: #4a5568; }
  @bottom-left { content: "Research use only · not for treatment decisions"; font-size: 8pt; color: #c53030; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8pt; color: #4a5568; }
}
html { font-family: "DejaVu Sans", -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1a202c; font-size: 14px; line-height: 1.4; }
body { max-width: 1100px; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.7em; margin: 0 0 0.15em; }
h2 { font-size: 1.25em; margin: 1.1em 0 0.35em; border-bottom: 2px solid #e2e8f0; }
h3 { font-size: 1.05em; margin: 0.9em 0 0.2em; }
h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
p { margin: 0.35em 0; orphans: 3; widows: 3; }
.run-sample { string-set: sample content(); }
.run-model { string-set: model content(); }
.meta { color: #4a5568; }
.disclaimer { border: 2px solid #c53030; background: #fff5f5; padding: 0.5em 0.8em; border-radius: 6px;
              font-weight: 600; break-inside: avoid; }
.alert { border: 2px solid #b7791f; background: #fffaf0; padding: 0.4em 0.8em; border-radius: 6px;
         font-weight: 600; break-inside: avoid; }
table { border-collapse: collapse; width: 100%; margin: 0.35em 0 0.7em; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border-bottom: 1px solid #e2e8f0; padding: 3px 5px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f7fafc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.wide { min-width: 9em; }
table.case th { width: 17%; } table.case td { width: 33%; }
table.facts th { width: 28%; }
.bar { position: relative; width: 110px; height: 11px; background: #f7fafc; }
.bar span { position: absolute; top: 0; height: 11px; }
.bar i { position: absolute; left: 50%; top: -2px; height: 15px; border-left: 1px solid #4a5568; }
.tier, .class { white-space: nowrap; font-weight: 600; } .class { font-weight: 400; }
.target { color: #b7791f; font-weight: 700; }
.small { font-size: 0.88em; color: #4a5568; }
.keygenes td { font-size: 0.95em; }
code { font-size: 0.85em; overflow-wrap: anywhere; word-break: break-all; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 0.3em 0; break-inside: avoid; }
section.drug, .keep { break-inside: avoid; page-break-inside: avoid; }
.details table { font-size: 0.94em; }
.details { break-before: page; page-break-before: always; }
.summary table { margin-bottom: 0.45em; }
@media print {
  html { font-size: 9.3pt; }
  body { margin: 0; padding: 0; max-width: none; }
  .summary h2 { margin-top: 0.6em; }
}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _number(value: object, digits: int = 2, signed: bool = True) -> str:
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{number:+.{digits}f}" if signed else f"{number:.{digits}f}"


def _text(value: object) -> str:
    """A table cell's text: pipes of multi-valued annotations become commas, missing becomes a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    text = str(value).strip()
    if not text or text.lower() in {"nan", "none", "<na>"}:
        return MISSING
    return ", ".join(part.strip() for part in text.split("|") if part.strip())


def _percent(value: object) -> str:
    """A rate stored as a fraction (0–1) or a percentage (0–100), written as a percentage."""
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{number * 100 if abs(number) <= 1 else number:.0f}%"


def _bar(value: float, scale: float) -> str:
    """A centred CSS bar (no JavaScript, prints fine): left of the centre line for negative values."""
    if not math.isfinite(value) or scale <= 0:
        return '<div class="bar"><i></i></div>'
    width = min(50.0, abs(value) / scale * 50.0)
    left = 50.0 - width if value < 0 else 50.0
    colour = SENSITISING_COLOUR if value < 0 else RESISTANCE_COLOUR
    return (
        f'<div class="bar"><span style="left:{left:.1f}%;width:{width:.1f}%;background:{colour}"></span>'
        "<i></i></div>"
    )


def _scale(values: pd.Series) -> float:
    finite = pd.to_numeric(values, errors="coerce").abs().dropna()
    return float(finite.max()) if len(finite) and finite.max() > 0 else 1.0


def _has(rows: pd.DataFrame, column: str) -> bool:
    return column in rows.columns and rows[column].notna().any()


def _with_drug_columns(rows: pd.DataFrame, drugs: pd.DataFrame | None) -> pd.DataFrame:
    """Per-drug figures a bundle may keep in its drug table (e.g. ``hit_rate``) joined onto prediction rows."""
    if drugs is None or "drug_key" not in drugs.columns:
        return rows
    extra = [c for c in ("hit_rate",) if c in drugs.columns and c not in rows.columns]
    if not extra:
        return rows
    return rows.join(drugs.drop_duplicates("drug_key").set_index("drug_key")[extra], on="drug_key")


def _interval(row: pd.Series) -> str:
    low, high = _finite(row.get("interval_low")), _finite(row.get("interval_high"))
    if low is None or high is None:
        return MISSING
    return f"{low:+.2f} to {high:+.2f}"


def _tier_cell(rho: object) -> str:
    tier = reliability(rho)  # type: ignore[arg-type]
    return (
        f'<td class="tier" style="color:{tier.colour}">{tier.symbol} {_e(tier.tier)} '
        f"({_number(rho, signed=False)})</td>"
    )


def _drug_cell(row: pd.Series, names: Mapping[str, str]) -> str:
    return f"<td><b>{_e(names.get(row['drug_key'], drug_label(row['drug_name'], row['screen'])))}</b></td>"


def _class_cell(drug_class: object) -> str:
    colour = CLASS_COLOURS.get(str(drug_class), OTHER_COLOUR)
    return f'<td class="class"><span style="color:{colour}">■</span> {_e(_text(drug_class))}</td>'


def _predictions_table(
    rows: pd.DataFrame, measured: Mapping[str, float] | None, names: Mapping[str, str], *, compact: bool
) -> str:
    """The drug table: ``compact`` for page 1 (no targets/mechanism), full in the details."""
    scale = _scale(
        pd.concat([rows["z_log_auc"], *(rows[c] for c in ("interval_low", "interval_high") if c in rows)])
    )
    has_measured = measured is not None and any(k in measured for k in rows["drug_key"])
    optional = [
        ("interval", "80% interval", _has(rows, "interval_low") and _has(rows, "interval_high")),
        ("percentile", "Percentile", _has(rows, "percentile")),
        ("measured", "Measured", has_measured),
        ("hit_rate", "Hit rate", _has(rows, "hit_rate")),
    ]
    shown = [(key, title) for key, title, present in optional if present]
    hit_rates = _has(rows, "hit_rate")  # the measured hit rate replaces the ρ badge (ρ stays in the methods)
    head = (
        '<thead><tr><th class="num">Rank</th><th>Drug</th><th>Class</th><th class="num">Predicted z</th>'
        + ("<th></th>" if compact else "")
        + "".join(f'<th class="num">{_e(title)}</th>' for _, title in shown)
        + ("" if hit_rates else "<th>Reliability (ρ)</th>")
        + ("" if compact else "<th>Targets</th><th>Mechanism</th>")
        + "</tr></thead>"
    )
    body = []
    for _, row in rows.iterrows():
        cells = {
            "interval": _interval(row),
            "percentile": _number(row.get("percentile"), 0, signed=False),
            "measured": _number((measured or {}).get(row["drug_key"])),
            "hit_rate": _percent(row.get("hit_rate")),
        }
        body.append(
            f'<tr><td class="num">{int(row["rank"])}</td>{_drug_cell(row, names)}{_class_cell(row["drug_class"])}'
            f'<td class="num">{_number(row["z_log_auc"])}</td>'
            + (f"<td>{_bar(float(row['z_log_auc']), scale)}</td>" if compact else "")
            + "".join(f'<td class="num">{_e(cells[key])}</td>' for key, _ in shown)
            + ("" if hit_rates else _tier_cell(row.get("cv_rho")))
            + (
                ""
                if compact
                else f"<td>{_e(_text(row.get('targets')))}</td><td>{_e(_text(row.get('moa')))}</td>"
            )
            + "</tr>"
        )
    return f"<table>{head}<tbody>{''.join(body)}</tbody></table>"


def _predictions_chart(rows: pd.DataFrame, names: Mapping[str, str]) -> str:
    """Vector bar chart of the listed drugs, with interval whiskers where the bundle provides them."""
    intervals = _has(rows, "interval_low") and _has(rows, "interval_high")
    return diverging_bars(
        [f"{int(r)}. {names.get(k, k)}" for r, k in zip(rows["rank"], rows["drug_key"], strict=True)],
        rows["z_log_auc"].astype(float).tolist(),
        [CLASS_COLOURS.get(str(c), OTHER_COLOUR) for c in rows["drug_class"]],
        low=rows["interval_low"].tolist() if intervals else None,
        high=rows["interval_high"].tolist() if intervals else None,
        axis_title="predicted z log AUC  (← more sensitive · more resistant →)"
        + ("; whiskers: 80% interval" if intervals else ""),
    )


def _top_genes(frame: pd.DataFrame, per_side: int) -> pd.DataFrame:
    """The ``per_side`` strongest resistance genes (strongest first), then the strongest sensitising genes."""
    ordered = frame.sort_values("relevance")
    return pd.concat(
        [
            ordered[ordered["relevance"] > 0].tail(per_side).iloc[::-1],
            ordered[ordered["relevance"] < 0].head(per_side),
        ]
    )


def _gene_name(row: pd.Series) -> str:
    return _e(row["gene"]) + (f' <span class="target">{TARGET_MARK}</span>' if bool(row["is_target"]) else "")


def _genes_table(chosen: pd.DataFrame) -> str:
    """Top resistance and sensitising genes of one drug; expression as a label only."""
    scale = _scale(chosen["relevance"])
    rows = []
    for _, row in chosen.iterrows():
        relevance = float(row["relevance"])
        rows.append(
            f"<tr><td><b>{_gene_name(row)}</b></td>"
            f"<td>{'resistance' if relevance > 0 else 'sensitising'}</td>"
            f'<td class="num">{relevance:+.3g}</td><td>{_bar(relevance, scale)}</td>'
            f"<td>{expression_level(row['expression_z'])}</td></tr>"
        )
    if not rows:
        return '<p class="small">No gene carried relevance for this drug.</p>'
    head = (
        '<thead><tr><th>Gene</th><th>Pushes towards</th><th class="num">Relevance</th><th></th>'
        "<th>Expression in sample</th></tr></thead>"
    )
    return f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _key_genes(explanations: pd.DataFrame, drug_keys: list[str], names: Mapping[str, str]) -> str:
    """Page 1: the strongest sensitising and resistance genes of the first explained drugs."""
    if not drug_keys:
        return '<p class="small">No drugs were selected for explanation.</p>'
    rows = []
    for key in drug_keys[:SUMMARY_GENE_DRUGS]:
        frame = explanations[explanations["drug_key"] == key].sort_values("relevance")
        sensitising = frame[frame["relevance"] < 0].head(KEY_GENES)
        resistance = frame[frame["relevance"] > 0].tail(KEY_GENES).iloc[::-1]
        label = names.get(key, drug_label(frame["drug_name"].iloc[0], frame["screen"].iloc[0]))

        def genes(part: pd.DataFrame) -> str:
            return ", ".join(_gene_name(r) for _, r in part.iterrows()) or MISSING

        rows.append(
            f"<tr><td><b>{_e(label)}</b></td><td>{genes(sensitising)}</td><td>{genes(resistance)}</td></tr>"
        )
    more = len(drug_keys) - SUMMARY_GENE_DRUGS
    return (
        '<table class="keygenes"><thead><tr><th>Drug</th><th>Top sensitising genes</th>'
        f"<th>Top resistance genes</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (f'<p class="small">{more} more explained drug(s) in the details.</p>' if more > 0 else "")
    )


def _cv_summary(validation: Mapping | None, paired: bool = True) -> str:
    """Plain text (escaped once by the caller); ``paired`` adds the comparisons with the baselines (details)."""
    summary = ((validation or {}).get("cross_validation") or {}).get("summary") or {}
    overall = summary.get("all")
    if not isinstance(overall, Mapping):
        return "Cross-validation figures are not available in this model bundle."
    protocol = repeated_protocol(validation)
    if protocol is not None:  # the headline figures: repeated CV with its interval
        repeated = validation["repeated_cv"]
        overall = (protocol["model"].get("summary") or {}).get("all") or {}
        low, high = protocol["model"].get("bootstrap_ci95") or (float("nan"), float("nan"))
        text = (
            f"Repeated 5-fold cell-line cross-validation ({len(repeated.get('partition_seeds') or [])} "
            f"partitions of {repeated.get('n_cell_lines', '?')} lines): mean per-drug ρ "
            f"{_number(overall.get('mean_rho'), 3, signed=False)} (95% interval {low:.3f}–{high:.3f}), "
            f"{overall.get('n_rho_gt_0.2', '?')} of {overall.get('n_drugs', '?')} drugs with ρ > 0.2."
        )
    else:
        protocol = (validation or {}).get("protocol")
        parts = [f"mean per-drug ρ {_number(overall.get('mean_rho'), 3, signed=False)}"]
        if "n_rho_gt_0.2" in overall:
            parts.append(f"{overall['n_rho_gt_0.2']} of {overall.get('n_drugs', '?')} drugs with ρ > 0.2")
        text = "5-fold cell-line cross-validation: " + ", ".join(parts) + "."
    for baseline in ("ridge", "tissue") if paired else ():
        sentence = paired_sentence(protocol, baseline)
        if sentence:
            text += " " + sentence
    return text


def _first_value(rows: pd.DataFrame, column: str) -> object:
    if column not in rows.columns:
        return None
    values = rows[column].dropna()
    return values.iloc[0] if len(values) else None


def _domain_status(rows: pd.DataFrame) -> tuple[str, bool] | None:
    """(status text, outside?) from the applicability-domain columns, None when the bundle has none."""
    flag = _first_value(rows, "in_domain")
    if flag is None:
        return None
    inside = str(flag).strip().lower() in {"true", "1", "yes"}
    distance = _finite(_first_value(rows, "domain_distance"))
    detail = f" (distance to the training cell lines {distance:.2f})" if distance is not None else ""
    if inside:
        return f"inside the training domain{detail}", False
    return f"OUTSIDE the training domain{detail}: predictions for this sample are extrapolations", True


def _quality_items(data_quality: Mapping | None) -> list[tuple[str, str]]:
    """A per-sample data-quality record as (label, value) pairs; nested values are flattened to text."""
    items = []
    for key, value in (data_quality or {}).items():
        if isinstance(value, list | tuple | set):
            value = ", ".join(map(str, value)) or MISSING
        elif isinstance(value, float):
            value = f"{value:.3g}"
        label = str(key)
        items.append((label.replace("_", " ").capitalize() if label.islower() else label, str(value)))
    return items


def _facts_table(items: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in items)
    return f'<table class="facts"><tbody>{body}</tbody></table>'


COMPOUND_NOTE = (
    " One row per compound: where GDSC screened a compound more than once, the row is its screen entry chosen "
    "by the reliability-weighted median of the entries' predictions."
)
PLATFORM_FLAG_TEXT = (
    "The upload's platform differs from the training platform and was scaled with the training platform's "
    "statistics: per-gene platform offsets remain, so treat these predictions with extra care."
)


def _first_sentence(text: str) -> str:
    """Page 1 keeps the training data in one short line (the bundle's full text is in the methods)."""
    plain = text.replace("**", "")
    platform = "microarrays" if "microarray" in plain else "RNA-seq" if "RNA-seq" in plain else "expression"
    return f"GDSC1/GDSC2 cancer cell-line screens; basal expression on {platform}, z-scored within each cell line."


def _scaling_text(rows: pd.DataFrame, scaling: object) -> str:
    """The scaling used and what the platform benchmark measured for that path."""
    rho = _finite(_first_value(rows, "scaling_benchmark_rho"))
    measured = (
        f" – benchmark mean per-drug ρ {rho:.3f} on this path (benchmarks/platform_transfer.py)"
        if rho is not None
        else ""
    )
    return f"{_text(scaling)}{measured}"


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
    case: CaseDetails | None = None,
    coverage: float | None = None,
    data_quality: Mapping | None = None,
    drugs: pd.DataFrame | None = None,
    paper: str = "a4",
    model_text: str = "",
) -> str:
    """The report as one HTML string (``neurix_core.report.pdf.render_pdf`` turns it into a PDF).

    ``predictions``: ``Neurix.predict`` rows (only ``sample``'s are used). ``explanations``: ``Neurix.explain``
    rows of the drugs to detail, any number of genes per drug; only gene, relevance, direction, target flag and a
    coarse expression label are written. ``fingerprint``: sha256 of the uploaded bytes. ``input_summary``: what
    was detected (value scale, ids, genes recognised). ``measured``: drug_key → measured response (example cell
    lines only). ``case``: specimen, tumour type, requester and date entered by the user. ``coverage``: share of
    the model's genes the sample measured (the rest are filled with the training mean). ``data_quality``: the
    sample's data-quality record where the caller has one. ``drugs``: the bundle's drug table, for per-drug
    figures kept there (hit rate). ``paper``: "a4" or "letter". ``model_text``: the bundle's training-data sentence
    (``report.text.training_data_text``); a generic one when empty.
    """
    page_size = PAPER_SIZES.get(paper.lower())
    if page_size is None:
        raise ValueError(f"paper must be one of {', '.join(PAPER_SIZES)}")
    generated = generated or dt.datetime.now(dt.UTC).replace(microsecond=0)
    case = case or CaseDetails(date=generated.date())
    manifest = manifest or {}
    sample_rows = predictions[predictions["sample"].astype(str) == str(sample)].sort_values("rank")
    sample_rows = _with_drug_columns(sample_rows, drugs)
    names = drug_labels(sample_rows)
    by_key = sample_rows.set_index("drug_key")
    rows = sample_rows.head(max(1, top_n))
    explanations = (
        explanations[explanations["sample"].astype(str) == str(sample)] if len(explanations) else explanations
    )
    drug_keys = list(dict.fromkeys(explanations["drug_key"])) if len(explanations) else []
    interactive_bars, gene_figures = (
        _figures_html(rows, explanations, drug_keys, genes_per_drug, measured, names)
        if interactive
        else ("", {})
    )
    version = str(manifest.get("model_version", "unknown"))
    screens = ", ".join(map(str, manifest.get("screens", []))) or MISSING

    # --- page 1 -----------------------------------------------------------------------------------------------
    case_rows = (
        ("Sample", f'<b class="run-sample">{_e(sample)}</b>'
         + (f'<br><span class="small">{_e(sample_description)}</span>' if sample_description else ""),
         "Specimen", _e(case.specimen or MISSING)),
        ("Tumour type", _e(case.tumour_type or MISSING), "Requested by", _e(case.requester or MISSING)),
        ("Date", _e(case.date.isoformat()), "Model", f'<b class="run-model">{_e(version)}</b>'),
    )  # fmt: skip
    case_table = "".join(
        f"<tr><th>{a}</th><td>{b}</td><th>{c}</th><td>{d}</td></tr>" for a, b, c, d in case_rows
    )
    domain = _domain_status(sample_rows)
    platform = _first_value(sample_rows, "platform")
    scaling = _first_value(sample_rows, "scaling")
    filled = (
        f"{coverage:.0%} of the model's genes measured; the other {1 - coverage:.0%} were filled with the "
        "training mean (this weakens the signal)"
        if coverage is not None and coverage < 1
        else (f"{coverage:.0%} of the model's genes measured" if coverage is not None else None)
    )
    facts = [
        (
            "Training data",
            _first_sentence(model_text) if model_text else f"{TRAINING_PLATFORM} Screens: {screens}.",
        ),
        *([("Input platform", _text(platform))] if platform is not None else []),
        *([("Scaling of this input", _scaling_text(sample_rows, scaling))] if scaling is not None else []),
        *([("Gene coverage", filled)] if filled else []),
        *_quality_items(data_quality),
        *([("Applicability domain", domain[0])] if domain else []),
    ]
    summary_rows = rows.head(SUMMARY_DRUGS)
    outside = (
        f'<p class="alert">This sample is {_e(domain[0])}.</p>' if domain is not None and domain[1] else ""
    )
    if "platform_flag" in sample_rows and sample_rows["platform_flag"].astype(bool).any():
        outside += f'<p class="alert">{_e(PLATFORM_FLAG_TEXT)}</p>'

    # --- details ----------------------------------------------------------------------------------------------
    drug_sections = []
    for key in drug_keys:
        frame = explanations[explanations["drug_key"] == key]
        first = frame.iloc[0]
        info = by_key.loc[key] if key in by_key.index else None
        tier = reliability(info["cv_rho"] if info is not None else None)
        rank = f"rank {int(info['rank'])} · " if info is not None else ""
        z = _number(info["z_log_auc"] if info is not None else first.get("prediction"))
        chosen = _top_genes(frame, genes_per_drug)
        targets_found = sorted(set(chosen.loc[chosen["is_target"].astype(bool), "gene"].astype(str)))
        label = names.get(key, drug_label(first["drug_name"], first.get("screen", "")))
        drug_sections.append(
            f'<section class="drug"><h3>{_e(label)}</h3>'
            f'<p class="meta">{_e(_text(first.get("drug_class")))} · targets: {_e(_text(first.get("targets")))} · '
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
            + "</section>"
        )
    citations = "".join(
        f'<li><b>{_e(c.key)}</b>: {_e(c.text)} <a href="{_e(c.url)}">doi:{_e(c.doi)}</a></li>'
        for c in CITATIONS
    )
    non_claims = "".join(f"<li>{_e(text)}</li>" for text in NON_CLAIMS)
    summary_items = [(str(k), str(v)) for k, v in (input_summary or {}).items()]
    title = f"Neurix report · {sample}"
    css = CSS.replace("__PAGE__", page_size)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Neurix {_e(__version__)}"><title>{_e(title)}</title>
<style>{css}</style></head>
<body>
<section class="summary">
<h1>Neurix drug-response report</h1>
<p class="meta">Generated {_e(generated.isoformat())} · Neurix {_e(__version__)} · model {_e(version)}
(created {_e(manifest.get("created", MISSING))})</p>
<table class="case"><tbody>{case_table}</tbody></table>
<p class="disclaimer">{_e(DISCLAIMER)}</p>
{outside}
<h2>Top {len(summary_rows)} predicted drugs</h2>
{_predictions_table(summary_rows, measured, names, compact=True)}
<p class="small">{_e(SIGN_CONVENTION.split(" Gene relevance")[0])}{_e(COMPOUND_NOTE if "n_entries" in rows else "")}
Reliability: {_e(_cv_summary(validation, paired=False))}</p>
<h2>Key genes</h2>
{_key_genes(explanations, drug_keys, names)}
<h2>Input, data quality and domain</h2>
{_facts_table(facts)}
</section>

<section class="details">
<h2>Top {len(rows)} predicted drugs: details</h2>
{_predictions_table(rows, measured, names, compact=False)}
<p class="small">{_e(RELIABILITY_EXPLANATION)} {_e(_cv_summary(validation))}</p>
{interactive_bars or _predictions_chart(rows, names)}

<div class="keep"><h2>Genes behind the predictions</h2>
<p class="small">{_e(SIGN_CONVENTION)} {_e(RELEVANCE_UNITS)} {TARGET_MARK} marks an annotated target of the drug.
Expression is shown relative to the sample's own genes: high (z ≥ 1), low (z ≤ −1), otherwise average.</p>
{drug_sections[0] if drug_sections else '<p class="small">No drugs were selected for explanation.</p>'}</div>
{"".join(drug_sections[1:])}

<h2>Input</h2>
{_facts_table([("Input fingerprint (sha256)", fingerprint), *summary_items])}
<p class="small">The fingerprint identifies the uploaded file without containing it: recompute it with
<code>sha256sum FILE</code>. This report contains no expression values from the input.</p>

<h2>Methods</h2>
{"".join(f"<p>{_e(p)}</p>" for p in (*METHODS, model_text.replace("**", ""), PLATFORM_CAVEAT) if p)}

<h2>Limitations</h2>
<ul>{non_claims}</ul>

<h2>Data and method citations</h2>
<ul>{citations}</ul>
<p class="disclaimer">{_e(DISCLAIMER)}</p>
</section>
</body></html>
"""


def _figures_html(
    rows: pd.DataFrame,
    explanations: pd.DataFrame,
    drugs: list[str],
    per_side: int,
    measured: Mapping | None,
    names: Mapping[str, str],
) -> tuple[str, dict[str, str]]:
    """Inline plotly figures (HTML download only): the first carries plotly.js itself, so the file works offline."""
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
