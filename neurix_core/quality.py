"""Data quality of an uploaded profile, per sample: what was measured, what was missing and imputed, and whether
the sample can be scored.

Why: missing values are imputed (to the training mean of the gene, 0 after scaling), which pulls predictions
towards the average cell line. A user must see how much of each sample was imputed *before* the results, and the
same figures must reach the CLI, API, dashboard and report, so they are computed once here.

Rules (documented in the README):

- *genes measured*: the model's genes with a finite value for the sample; *genes absent*: model genes that are
  not in the file at all (or empty in every sample); *values missing*: model genes in the file whose value for
  this sample is empty or an NA code (NA, NaN, null, ...). Absent and missing genes are **imputed**. Text in a
  value cell is not imputed: the file is refused with the cell's position (usually a shifted or mangled table).
- a sample with more than ``IMPUTED_WARNING`` (5%) of the model's genes imputed gets a warning;
- a sample measuring fewer than ``MIN_GENE_COVERAGE`` (50%) of the model's genes is **refused**: the whole file is
  refused and every such sample is named, so nothing is scored on mostly imputed input.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from neurix_core.io.profile import ParsedProfile
from neurix_core.predict import MIN_GENE_COVERAGE, align_to_genes, coverage_refusal, gene_positions

IMPUTED_WARNING = 0.05


@dataclass(frozen=True)
class SampleQuality:
    """One sample's coverage of the model's genes."""

    sample: str
    model_genes: int
    genes_measured: int
    genes_absent: int  # not in the file (or empty in every sample)
    values_missing: int  # in the file, empty or NA for this sample
    status: str  # "ok" | "warning" | "refused"

    @property
    def imputed(self) -> int:
        return self.genes_absent + self.values_missing

    @property
    def imputed_fraction(self) -> float:
        return self.imputed / self.model_genes if self.model_genes else 1.0

    def message(self) -> str:
        text = (
            f"{self.sample}: {self.genes_measured:,} of {self.model_genes:,} model genes measured; "
            f"{self.imputed:,} imputed ({self.imputed_fraction:.1%}: {self.genes_absent:,} not in the file, "
            f"{self.values_missing:,} empty or NA)"
        )
        if self.status == "refused":
            return text + f" — below the {MIN_GENE_COVERAGE:.0%} needed, not scored"
        if self.status == "warning":
            return text + " — imputed genes pull the predictions towards the average cell line"
        return text


@dataclass
class DataQuality:
    """Per-sample quality plus what was recognised in the file (and what was not)."""

    samples: list[SampleQuality]
    n_input_labels: int
    n_recognised_labels: int
    unrecognised_labels: list[str] = field(default_factory=list)
    value_scale: str = ""
    scale_reason: str = ""
    warnings: list[str] = field(default_factory=list)
    min_coverage: float = MIN_GENE_COVERAGE

    @property
    def refused(self) -> list[SampleQuality]:
        return [s for s in self.samples if s.status == "refused"]

    @property
    def flagged(self) -> list[SampleQuality]:
        return [s for s in self.samples if s.status != "ok"]

    def table(self) -> pd.DataFrame:
        """One row per sample (the figures the dashboard, CLI and report show)."""
        names = [
            f.name for f in fields(SampleQuality)
        ]  # flat fields: no asdict deep copy (cohort partitions)
        rows = [
            {
                **{n: getattr(s, n) for n in names},
                "imputed": s.imputed,
                "imputed_fraction": s.imputed_fraction,
            }
            for s in self.samples
        ]
        columns = [
            "sample",
            "model_genes",
            "genes_measured",
            "genes_absent",
            "values_missing",
            "imputed",
            "imputed_fraction",
            "status",
        ]
        return pd.DataFrame(rows, columns=columns)

    def unrecognised_csv(self) -> bytes:
        """The unrecognised gene labels as a one-column CSV (for download)."""
        buffer = io.StringIO()
        pd.DataFrame({"unrecognised_label": self.unrecognised_labels}).to_csv(buffer, index=False)
        return buffer.getvalue().encode("utf-8")

    def refusal_message(self) -> str | None:
        """One sentence naming every refused sample, or None."""
        refused = self.refused
        if not refused:
            return None
        low = [(s.sample, s.genes_measured / s.model_genes) for s in refused]
        return coverage_refusal(low, refused[0].model_genes, self.min_coverage)


def assess_quality(
    profile: ParsedProfile | pd.DataFrame,
    genes: Sequence[str],
    min_coverage: float = MIN_GENE_COVERAGE,
    genes_measured: np.ndarray | None = None,
) -> DataQuality:
    """Per-sample quality of a parsed profile (or a samples × genes frame) against the model's genes.

    ``genes_measured`` (per sample, the model genes with a value) may be passed by a caller that already aligned
    the profile (a cohort partition, from its model input's coverage): the alignment is then not repeated.
    """
    expression = profile.expression if isinstance(profile, ParsedProfile) else profile
    genes = list(genes)
    n_genes = len(genes)
    # the model genes the file has a column for, matched as the alignment matches them (case, R-style dots)
    n_present = len(gene_positions(expression.columns, genes)[0])
    if genes_measured is None:
        genes_measured = np.isfinite(align_to_genes(expression, genes)).sum(axis=1)
    n_measured = np.asarray(genes_measured, dtype=np.int64)
    absent = n_genes - n_present
    missing = n_present - n_measured  # a measured gene is always one the file has
    fraction = (absent + missing) / n_genes if n_genes else np.ones(len(n_measured))
    status = np.where(
        n_measured < min_coverage * n_genes, "refused", np.where(fraction > IMPUTED_WARNING, "warning", "ok")
    )
    samples = [
        SampleQuality(str(sample), n_genes, int(count), absent, int(gaps), str(state))
        for sample, count, gaps, state in zip(
            expression.index.tolist(), n_measured.tolist(), missing.tolist(), status.tolist(), strict=True
        )
    ]
    if isinstance(profile, ParsedProfile):
        detection = profile.scale_detection
        return DataQuality(
            samples=samples,
            n_input_labels=profile.n_input_genes,
            n_recognised_labels=profile.n_mapped_genes,
            unrecognised_labels=list(profile.unrecognised_labels),
            value_scale=profile.value_scale,
            scale_reason=detection.summary() if detection is not None else "",
            warnings=list(profile.warnings),
            min_coverage=min_coverage,
        )
    return DataQuality(
        samples=samples, n_input_labels=expression.shape[1], n_recognised_labels=expression.shape[1]
    )
