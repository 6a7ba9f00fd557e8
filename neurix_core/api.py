"""The Python API: one object that predicts, explains and finds repurposing candidates for uploaded profiles.

The CLI and the dashboard are thin views over this class, so all three give the same numbers::

    from neurix_core.api import Neurix
    neurix = Neurix.load()                       # the shipped default bundle
    profile = neurix.read_profile("tumour.tsv")  # any orientation, ids and units
    predictions = neurix.predict(profile)        # one row per (sample, drug)
    genes = neurix.explain(profile, drugs=["Cisplatin"], top=20)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.data.drugs import normalise_name, target_genes
from neurix_core.errors import LimitExceededError, NeurixError, ProfileError
from neurix_core.explain.cohort import cohort_relevance
from neurix_core.explain.lrp import InteractionLRP
from neurix_core.io.profile import ParsedProfile, ProfileLimits, parse_profile
from neurix_core.model.bundle import ModelBundle, load_bundle
from neurix_core.predict import MIN_GENE_COVERAGE, ModelInput, prediction_table, prepare_input
from neurix_core.repurpose.candidates import repurposing_candidates

ProfileLike = ParsedProfile | ModelInput | pd.DataFrame
# One explanation request may cover at most this many (sample, drug) pairs: ~0.3 s each on 2 cores, so a request
# stays within minutes and its table within memory; larger cohorts go through ``cohort`` one drug at a time.
MAX_EXPLAIN_PAIRS = 2_000


class Neurix:
    """A loaded model bundle plus the operations users need on it."""

    def __init__(self, bundle: ModelBundle, min_coverage: float = MIN_GENE_COVERAGE) -> None:
        self.bundle = bundle
        self.min_coverage = min_coverage
        self._explainer: InteractionLRP | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, bundle_dir: str | Path | None = None) -> Neurix:
        return cls(load_bundle(bundle_dir))

    # --- input ---------------------------------------------------------------------------------------------------
    def read_profile(
        self,
        source: str | Path | bytes,
        filename: str | None = None,
        values: str = "auto",
        limits: ProfileLimits | None = None,
    ) -> ParsedProfile:
        """Parse an expression file (path or raw bytes) with gene ids mapped and units detected."""
        if isinstance(source, str | Path):
            path = Path(source)
            if not path.is_file():
                raise ProfileError(f"file not found: {path}")
            data, filename = path.read_bytes(), filename or path.name
        else:
            data, filename = source, filename or "uploaded profile"
        return parse_profile(
            data, filename, values=values, limits=limits or ProfileLimits(), known_genes=self.bundle.genes
        )

    def prepare(self, profile: ProfileLike) -> ModelInput:
        """Align to the model's genes and scale; a DataFrame is samples × gene symbols (log2(TPM+1) or z)."""
        if isinstance(profile, ModelInput):
            return profile
        expression = profile.expression if isinstance(profile, ParsedProfile) else profile
        return prepare_input(self.bundle, expression, self.min_coverage)

    # --- prediction ----------------------------------------------------------------------------------------------
    def predict(self, profile: ProfileLike) -> pd.DataFrame:
        """Predicted z-scored log AUC for every (sample, drug); negative = more sensitive than the average line."""
        return prediction_table(self.bundle, self.prepare(profile))

    # --- explanation ---------------------------------------------------------------------------------------------
    @property
    def explainer(self) -> InteractionLRP:
        with self._lock:
            if self._explainer is None:
                self._explainer = InteractionLRP(self.bundle.model)
            return self._explainer

    def drug_indices(self, drugs: Sequence[str] | None) -> list[int]:
        """Indices of drugs given by key ('GDSC2:1003'), id or name (case-insensitive); all drugs when None."""
        table = self.bundle.drugs
        if drugs is None:
            return list(range(len(table)))
        by_key = {k: i for i, k in enumerate(table["drug_key"])}
        by_name: dict[str, list[int]] = {}
        for i, (name, drug_id) in enumerate(zip(table["drug_name"], table["drug_id"], strict=True)):
            by_name.setdefault(normalise_name(name), []).append(i)
            by_name.setdefault(normalise_name(drug_id), []).append(i)
        indices: list[int] = []
        unknown = []
        for drug in drugs:
            if drug in by_key:
                indices.append(by_key[drug])
            elif normalise_name(drug) in by_name:
                indices.extend(by_name[normalise_name(drug)])
            else:
                unknown.append(drug)
        if unknown:
            raise NeurixError(
                f"unknown drug(s): {', '.join(map(str, unknown[:5]))}; use a name, id or key from the drug table"
            )
        return list(dict.fromkeys(indices))

    def explain(
        self,
        profile: ProfileLike,
        drugs: Sequence[str] | None = None,
        top: int | None = 20,
        samples: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Gene relevances (LRP-γ) per (sample, drug): positive pushes towards resistance, negative towards
        sensitivity. Adds drug labels and whether the gene is one of the drug's annotated targets."""
        from neurix_core.explain.lrp import relevance_frame

        model_input = self.prepare(profile)
        rows = (
            [model_input.sample_index(s) for s in samples]
            if samples
            else list(range(len(model_input.samples)))
        )
        indices = self.drug_indices(drugs)
        if len(rows) * len(indices) > MAX_EXPLAIN_PAIRS:
            raise LimitExceededError(
                f"explaining {len(rows)} sample(s) × {len(indices)} drug(s) exceeds the limit of "
                f"{MAX_EXPLAIN_PAIRS:,} pairs per request; choose fewer drugs or samples"
            )
        frame = relevance_frame(
            self.explainer,
            model_input.scaled[rows],
            [model_input.samples[r] for r in rows],
            self.bundle.genes,
            drug_index=indices,
            drug_keys=self.bundle.drugs["drug_key"].tolist(),
            top=top,
        )
        drug_info = self.bundle.drugs.set_index("drug_key")[["drug_name", "screen", "drug_class", "targets"]]
        frame = frame.join(drug_info, on="drug")
        frame = frame.rename(columns={"drug": "drug_key", "input_value": "scaled_expression"})
        zscored = pd.DataFrame(
            model_input.zscored[rows], index=[model_input.samples[r] for r in rows], columns=self.bundle.genes
        )
        frame["expression_z"] = (
            zscored.stack(future_stack=True)
            .reindex(pd.MultiIndex.from_arrays([frame["sample"], frame["gene"]]))
            .to_numpy()
        )
        frame["is_target"] = [
            gene.upper() in target_genes(targets)
            for gene, targets in zip(frame["gene"], frame["targets"], strict=True)
        ]
        frame["direction"] = np.where(frame["relevance"] > 0, "resistance", "sensitising")
        return frame.drop(columns=["drug_index"], errors="ignore")

    def relevance_matrix(self, profile: ProfileLike, sample: str, drugs: Sequence[str]) -> pd.DataFrame:
        """genes × drugs relevance for one sample (all genes), for heatmaps."""
        model_input = self.prepare(profile)
        row = model_input.sample_index(sample)
        indices = self.drug_indices(drugs)
        relevance = self.explainer.relevance(model_input.scaled[row : row + 1], indices)[0].numpy()
        return pd.DataFrame(
            relevance.T, index=self.bundle.genes, columns=self.bundle.drugs["drug_key"].iloc[indices]
        )

    def cohort(self, expression: pd.DataFrame, drug: str, top: int | None = 50) -> pd.DataFrame:
        """Genes with the largest mean relevance for one drug across many profiles (rows of ``expression``)."""
        model_input = self.prepare(expression)
        index = self.drug_indices([drug])[0]
        return cohort_relevance(self.explainer, model_input.scaled, index, self.bundle.genes, top=top)

    # --- cohorts ------------------------------------------------------------------------------------------------
    def run_cohort(self, source: str | Path, out: str | Path, **options):
        """Predict (and with ``explain_top=K`` explain) a cohort file on Dask into partitioned Parquet under
        ``out`` (or an .h5ad); resumable. Options as ``neurix_core.cohort.run_cohort``."""
        from neurix_core.cohort import run_cohort

        return run_cohort(source, out, bundle_dir=self.bundle.path, **options)

    def predict_anndata(self, profile: ProfileLike):
        """Predictions as an AnnData (samples × drugs): z in ``X``, other columns in ``var``/``obs``/layers."""
        from neurix_core.cohort import predictions_to_anndata

        return predictions_to_anndata(self.predict(profile))

    @staticmethod
    def read_cohort(out: str | Path):
        """A finished ``neurix cohort`` output directory as an AnnData (predictions + per-sample quality)."""
        from neurix_core.cohort import read_cohort_anndata

        return read_cohort_anndata(out)

    # --- repurposing and drug map --------------------------------------------------------------------------------
    def drug_map(self) -> pd.DataFrame:
        """UMAP coordinates of the drug tower's latent space, joined with the drug table."""
        if self.bundle.drug_map is None:
            raise NeurixError("this bundle has no drug map; retrain it with `neurix train`")
        return self.bundle.drug_map.merge(self.bundle.drugs, on="drug_key", how="left")

    def repurposing_candidates(
        self, predictions: pd.DataFrame, sample: str, tumour_type: str | None = None, **thresholds: float
    ) -> pd.DataFrame:
        """Strong, reliable predicted effects outside the drug's approved indications, non-oncology first."""
        rows = predictions[predictions["sample"] == sample]
        if rows.empty:
            raise NeurixError(f"no predictions for sample {sample!r}")
        return repurposing_candidates(rows, self.bundle.drugs, tumour_type, **thresholds)

    # --- examples ------------------------------------------------------------------------------------------------
    def example_profiles(self) -> pd.DataFrame:
        """Held-out cell-line profiles shipped with the bundle (samples × genes, within-sample z)."""
        if self.bundle.examples is None:
            raise NeurixError("this bundle ships no example profiles")
        return self.bundle.examples

    def example_responses(self, sample: str) -> pd.DataFrame:
        """Measured responses of an example cell line (drug_key, measured_z_log_auc, cell-line info)."""
        responses = self.bundle.example_responses
        if responses is None:
            return pd.DataFrame(columns=["sample", "drug_key", "measured_z_log_auc"])
        return responses[responses["sample"] == sample].reset_index(drop=True)
