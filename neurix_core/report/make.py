"""One call from a profile to report bytes (HTML or PDF): what the CLI and the API use.

The dashboard keeps explanations it has already computed in the session and calls ``report_bytes`` with them;
both paths end in the same template (``build_report``) and the same PDF renderer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from neurix_core.errors import NeurixError
from neurix_core.io.profile import ParsedProfile
from neurix_core.quality import DataQuality
from neurix_core.report.case import CaseDetails
from neurix_core.report.html import build_report
from neurix_core.report.inputs import input_summary

if TYPE_CHECKING:
    from neurix_core.api import Neurix, ProfileLike

FORMATS = ("pdf", "html")
DEFAULT_EXPLAINED = 5


def report_bytes(report_html: str, fmt: str) -> bytes:
    """The built report as a file's bytes: UTF-8 HTML or a PDF."""
    if fmt == "html":
        return report_html.encode("utf-8")
    if fmt == "pdf":
        from neurix_core.report.pdf import render_pdf

        return render_pdf(report_html)
    raise NeurixError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def sample_data_quality(source: object, sample: str) -> Mapping | None:
    """The per-sample data-quality record of a parsed profile or model input, where the reader provides one
    (a mapping per sample, or a table indexed by sample); None otherwise."""
    if isinstance(source, DataQuality):
        return _quality_record(source, sample)
    quality = getattr(source, "data_quality", None)
    if isinstance(quality, pd.DataFrame):
        return quality.loc[sample].dropna().to_dict() if sample in quality.index else None
    if isinstance(quality, Mapping):
        entry = quality.get(sample)
        return entry if isinstance(entry, Mapping) else None
    return None


def _quality_record(quality: DataQuality, sample: str) -> Mapping | None:
    """The sample's data-quality figures (``neurix_core/quality.py``) as labelled report rows."""
    for entry in quality.samples:
        if str(entry.sample) == str(sample):
            status = {"ok": "ok", "warning": "more than 5% imputed"}.get(entry.status, entry.status)
            return {
                "Data quality": f"{entry.imputed:,} model genes imputed ({entry.imputed_fraction:.1%}: "
                f"{entry.genes_absent:,} not in the file, {entry.values_missing:,} empty or NA) · {status}"
            }
    return None


def model_text(neurix: Neurix) -> str:
    """The bundle's training-data sentence with its own numbers of genes, entries and compounds, and what its
    prediction is made of."""
    from neurix_core.report.text import hybrid_text, training_data_text

    drugs = neurix.bundle.drugs
    compounds = drugs["compound_id"].nunique() if "compound_id" in drugs else len(drugs)
    fitted = neurix.bundle.fitted
    composition = hybrid_text(fitted.linear_weight, fitted.training.reduced_rank_weight)
    return f"{training_data_text(len(neurix.bundle.genes), len(drugs), compounds)} {composition}"


def make_report(
    neurix: Neurix,
    profile: ProfileLike,
    sample: str | None = None,
    *,
    fmt: str = "pdf",
    case: CaseDetails | None = None,
    drugs: Sequence[str] | None = None,
    top_n: int = 25,
    genes_per_drug: int = 8,
    paper: str = "a4",
    generated: dt.datetime | None = None,
) -> bytes:
    """Predict, explain the chosen drugs (default: the top 5) and build the report of one sample.

    ``sample`` may be omitted for a single-sample profile. The input is identified by its fingerprint (the
    sha256 of the file's bytes for a parsed file); no expression value goes into the report.
    """
    if fmt not in FORMATS:
        raise NeurixError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    model_input = neurix.prepare(profile)
    if sample is None:
        if len(model_input.samples) != 1:
            raise NeurixError(
                f"the profile has {len(model_input.samples)} samples; choose one with --sample (e.g. "
                f"{model_input.samples[0]})"
            )
        sample = model_input.samples[0]
    index = model_input.sample_index(sample)
    predictions = neurix.predict(model_input)
    rows = predictions[predictions["sample"] == sample].sort_values("rank")
    chosen = list(drugs) if drugs else rows["drug_key"].head(DEFAULT_EXPLAINED).tolist()
    explanations = neurix.explain(model_input, drugs=chosen, top=None, samples=[sample])
    if isinstance(profile, ParsedProfile):
        fingerprint = profile.fingerprint
        summary = input_summary(
            source="file",
            value_scale=profile.value_scale,
            orientation=profile.orientation,
            id_type=profile.id_type,
            n_mapped_genes=profile.n_mapped_genes,
            n_input_genes=profile.n_input_genes,
            n_samples=len(model_input.samples),
        )
    else:
        import hashlib

        fingerprint = hashlib.sha256(model_input.zscored.tobytes()).hexdigest()
        summary = {"Source": "expression table (API)", "Samples": str(len(model_input.samples))}
    generated = generated or dt.datetime.now(dt.UTC).replace(microsecond=0)
    report_html = build_report(
        sample,
        predictions,
        explanations,
        fingerprint=fingerprint,
        manifest=neurix.bundle.manifest,
        validation=neurix.bundle.validation,
        input_summary=summary,
        top_n=top_n,
        genes_per_drug=genes_per_drug,
        generated=generated,
        case=case or CaseDetails(date=generated.date()),
        coverage=float(model_input.coverage[index]),
        data_quality=sample_data_quality(neurix.quality(profile), sample)
        if isinstance(profile, ParsedProfile | pd.DataFrame)
        else sample_data_quality(model_input, sample),
        drugs=neurix.bundle.drugs,
        paper=paper,
        model_text=model_text(neurix),
    )
    return report_bytes(report_html, fmt)
