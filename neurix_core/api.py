"""The Python API: one object that predicts, explains and finds repurposing candidates for uploaded profiles.

The CLI and the dashboard are thin views over this class, so all three give the same numbers::

    from neurix_core.api import Neurix
    neurix = Neurix.load()                       # the shipped default bundle
    profile = neurix.read_profile("tumour.tsv")  # any orientation, ids and units
    quality = neurix.quality(profile)            # per-sample measured / imputed genes, refusals
    predictions = neurix.predict(profile)        # one row per (sample, compound); level="screen" per entry
    genes = neurix.explain(profile, drugs=["Cisplatin"], top=20)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.data.drugs import normalise_name
from neurix_core.errors import LimitExceededError, NeurixError, ProfileError
from neurix_core.explain.cohort import cohort_relevance
from neurix_core.explain.discovery import ARRAYS_FILE, PARQUET_FILE, Discovery, annotate
from neurix_core.explain.lrp import InteractionLRP
from neurix_core.explain.readable import explanation_overview
from neurix_core.explain.stability import MEMBERS_FILE, Member, load_members
from neurix_core.explain.table import bundle_labels, explanation_table
from neurix_core.io.profile import ParsedProfile, ProfileLimits, parse_profile
from neurix_core.model.bundle import ModelBundle, load_bundle
from neurix_core.predict import MIN_GENE_COVERAGE, ModelInput, prepare_input
from neurix_core.predict_block import PredictionBlock, predict_block
from neurix_core.predict_levels import (
    LEVELS,
    compound_list,
    compound_table,
    representative_entries,
)
from neurix_core.quality import DataQuality, assess_quality
from neurix_core.repurpose.candidates import repurposing_candidates
from neurix_core.trust.artifacts import NOT_AVAILABLE
from neurix_core.trust.neighbours import N_SHOWN, lineage_warning, nearest_lines, suggested_lineage

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
        self._drug_latent: np.ndarray | None = None
        self._members: list[Member] | None = None
        self._discovery: Discovery | None | bool = False  # False: not read yet; None: the bundle has none
        self._lookup: tuple[dict[str, int], dict[str, list[int]], dict[str, list[int]]] | None = None
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
                raise ProfileError(f"file not found: {path.name}")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ProfileError(
                    f"{path.name} cannot be read ({exc.strerror or type(exc).__name__})."
                ) from exc
            filename = filename or path.name
        else:
            data, filename = source, filename or "uploaded profile"
        return parse_profile(
            data, filename, values=values, limits=limits or ProfileLimits(), known_genes=self.bundle.genes
        )

    def prepare(self, profile: ProfileLike, scaling: str = "auto", platform: str = "auto") -> ModelInput:
        """Align to the model's genes and scale; a DataFrame is samples × gene symbols (log2(TPM+1) or z).

        ``scaling``: auto (best available for this upload), sample, cohort or reference; ``platform``: auto,
        rnaseq or microarray. The choice and any warning are in ``ModelInput.scaling``.
        """
        if isinstance(profile, ModelInput):
            return profile
        if isinstance(profile, ParsedProfile):
            return prepare_input(
                self.bundle, profile.expression, self.min_coverage, scaling, platform, profile.value_scale
            )
        return prepare_input(self.bundle, profile, self.min_coverage, scaling, platform)

    def quality(self, profile: ParsedProfile | pd.DataFrame) -> DataQuality:
        """Per-sample data quality (genes measured, absent, missing → imputed; status) before any prediction."""
        return assess_quality(profile, self.bundle.genes, self.min_coverage)

    # --- prediction ----------------------------------------------------------------------------------------------
    def predict(
        self, profile: ProfileLike, level: str = "compound", scaling: str = "auto", platform: str = "auto"
    ) -> pd.DataFrame:
        """Predicted z-scored log AUC (negative = more sensitive than the average line) and predicted AUC.

        ``level="compound"`` (default): one row per (sample, compound), the consensus of its screen entries
        (rule in ``neurix_core/predict_levels.py``); ``level="screen"``: one row per (sample, screen entry).
        Columns ``platform``, ``scaling``, ``scaling_benchmark_rho`` and ``platform_flag`` say how the profile was
        put on the training scale (see ``prepare``).
        """
        return self.predict_block(profile, level, scaling, platform).to_frame(self.bundle.drugs)

    def predict_block(
        self, profile: ProfileLike, level: str = "compound", scaling: str = "auto", platform: str = "auto"
    ) -> PredictionBlock:
        """``predict``'s rows as index arrays (``neurix_core/predict_block.py``): ``to_frame`` gives ``predict``'s
        table, ``to_arrow`` the same columns for Parquet (how cohorts write them without a long DataFrame)."""
        if level not in LEVELS:
            raise NeurixError(f"unknown level {level!r}: use {' or '.join(LEVELS)}")
        return predict_block(self.bundle, self.prepare(profile, scaling, platform), level)

    def to_compounds(self, screen_predictions: pd.DataFrame) -> pd.DataFrame:
        """Compound-level rows from screen-level predictions (so callers needing both predict only once)."""
        return compound_table(screen_predictions, self.bundle.drugs)

    def drugs(self) -> pd.DataFrame:
        """One row per compound: id, name, class, reliability of its best screen entry, its screen entries."""
        return compound_list(self.bundle.drugs)

    # --- trust ---------------------------------------------------------------------------------------------------
    @property
    def has_trust(self) -> bool:
        """Whether the bundle ships intervals, percentiles, hit rates, the domain check and neighbours."""
        return self.bundle.trust is not None

    def domain(self, profile: ProfileLike) -> pd.DataFrame:
        """Per sample: domain distance, in-domain flag and the threshold (raises when the bundle lacks it)."""
        trust = self._trust()
        model_input = self.prepare(profile)
        distance, inside, _ = trust.domain(model_input.scaled, model_input.zscored)
        return pd.DataFrame(
            {
                "sample": model_input.samples,
                "domain_distance": distance,
                "in_domain": inside,
                "threshold": trust.threshold,
                "gene_coverage": model_input.coverage,
            }
        )

    def neighbours(
        self, profile: ProfileLike, drug: str | None = None, k: int = N_SHOWN, tumour_type: str | None = None
    ) -> pd.DataFrame:
        """The k most similar training cell lines per sample, with lineage, distance and, with ``drug``, their
        measured z log AUC (one block per matching screen entry). ``lineage_warning`` is set on every row of a
        sample whose neighbours' lineage disagrees with ``tumour_type``."""
        trust = self._trust()
        model_input = self.prepare(profile)
        similarity = trust.space.similarities(model_input.scaled)
        indices = self.drug_indices([drug]) if drug else [None]
        blocks = []
        for index in indices:
            block = nearest_lines(similarity, trust.lines, trust.measured, model_input.samples, index, k)
            if index is not None:
                block.insert(2, "drug_key", self.bundle.drugs["drug_key"].iloc[index])
                block.insert(3, "drug_name", self.bundle.drugs["drug_name"].iloc[index])
            blocks.append(block)
        table = pd.concat(blocks, ignore_index=True) if len(blocks) > 1 else blocks[0]
        first = table.drop_duplicates(["sample", "rank"]) if len(blocks) > 1 else table
        warnings = {s: lineage_warning(rows, tumour_type) for s, rows in first.groupby("sample", sort=False)}
        table["lineage_warning"] = table["sample"].map(warnings)
        return table

    def suggested_lineage(self, profile: ProfileLike, sample: str) -> str | None:
        """The similarity-weighted majority lineage of the sample's most similar training cell lines (None when
        the bundle has no neighbour table): a labelled suggestion when the user has not chosen a tumour type."""
        if self.bundle.trust is None:
            return None
        table = self.neighbours(profile)
        return suggested_lineage(table[table["sample"] == str(sample)])

    def _trust(self):
        if self.bundle.trust is None:
            raise NeurixError(NOT_AVAILABLE)
        return self.bundle.trust

    # --- explanation ---------------------------------------------------------------------------------------------
    @property
    def explainer(self) -> InteractionLRP:
        with self._lock:
            if self._explainer is None:
                self._explainer = InteractionLRP.from_fitted(self.bundle.fitted)
            return self._explainer

    @property
    def members(self) -> list[Member]:
        """CV fold models shipped for explanation stability (empty for bundles without ``members.pt``)."""
        with self._lock:
            if self._members is None:
                data = self.bundle.read_optional(MEMBERS_FILE)
                self._members = [] if data is None else load_members(data, self.bundle.model.config)
            return self._members

    @property
    def discovery(self) -> Discovery | None:
        """The bundle's discovery artefact (None for bundles trained before it existed)."""
        with self._lock:
            if self._discovery is False:
                parquet, arrays = (self.bundle.read_optional(n) for n in (PARQUET_FILE, ARRAYS_FILE))
                self._discovery = (
                    None if parquet is None or arrays is None else Discovery.load(parquet, arrays)
                )
            return self._discovery  # type: ignore[return-value]

    def resolve_drugs(self, drugs: Sequence[str]) -> pd.DataFrame:
        """What each query matched: one row per (query, screen entry) with compound id and name.

        A query may be a drug key ('GDSC2:1003'), a GDSC id, a compound id, a drug or compound name or a synonym
        (case and punctuation ignored); a name matches every screen entry of its compound.
        """
        table = self.bundle.drugs
        by_key, by_name, by_synonym = self._drug_lookup()
        records, unknown = [], []
        for query in drugs:
            key = normalise_name(query)
            found = [by_key[query]] if query in by_key else by_name.get(key) or by_synonym.get(key, [])
            if not found:
                unknown.append(query)
            for i in dict.fromkeys(found):
                records.append({"query": query, "index": i})
        if unknown:
            raise NeurixError(
                f"unknown drug(s): {', '.join(map(str, unknown[:5]))}; `neurix drugs` lists names and ids"
            )
        matched = pd.DataFrame(records, columns=["query", "index"])
        info = table.iloc[matched["index"].to_numpy()][
            ["compound_id", "compound_name", "drug_key", "screen", "drug_id", "drug_name"]
        ]
        return pd.concat([matched.reset_index(drop=True), info.reset_index(drop=True)], axis=1)

    def _drug_lookup(self) -> tuple[dict[str, int], dict[str, list[int]], dict[str, list[int]]]:
        """drug_key → index, normalised name/id → indices, synonym → indices: built once per loaded bundle (it
        depends on the drug table only), because every explanation request resolves its drugs."""
        with self._lock:
            if self._lookup is not None:
                return self._lookup
        table = self.bundle.drugs
        by_key = {k: i for i, k in enumerate(table["drug_key"])}
        compound_rows = table.groupby("compound_id").indices
        by_name: dict[str, list[int]] = {}  # names and ids first; synonyms only when no name matches
        by_synonym: dict[str, list[int]] = {}
        for row in table[["drug_name", "drug_id", "compound_id", "compound_name", "synonyms"]].itertuples(
            index=False
        ):
            entries = [int(j) for j in compound_rows[row.compound_id]]
            for name in (row.drug_name, row.drug_id, row.compound_id, row.compound_name):
                by_name.setdefault(normalise_name(name), []).extend(entries)
            for name in str(row.synonyms).split(","):
                if normalise_name(name):
                    by_synonym.setdefault(normalise_name(name), []).extend(entries)
        with self._lock:
            self._lookup = (by_key, by_name, by_synonym)
            return self._lookup

    def drug_indices(self, drugs: Sequence[str] | None) -> list[int]:
        """Indices of drugs given by key ('GDSC2:1003'), id, compound id, name or synonym; all drugs when None."""
        if drugs is None:
            return list(range(len(self.bundle.drugs)))
        by_key = self._drug_lookup()[0]
        if all(isinstance(d, str) and d in by_key for d in drugs):  # drug keys (the pages' usual request)
            return list(dict.fromkeys(by_key[d] for d in drugs))
        return list(dict.fromkeys(self.resolve_drugs(drugs)["index"].tolist()))

    def explain(
        self,
        profile: ProfileLike,
        drugs: Sequence[str] | None = None,
        top: int | None = 20,
        samples: Sequence[str] | None = None,
        level: str = "compound",
    ) -> pd.DataFrame:
        """Gene relevances (LRP-γ) per (sample, drug): positive pushes towards resistance, negative towards
        sensitivity. Adds drug labels and whether the gene is one of the drug's annotated targets.

        ``level="compound"`` (default) explains, for each sample, the screen entry its compound-level
        prediction comes from (the same entry ``predict`` reports); ``level="screen"`` every matching entry.
        """
        if level not in LEVELS:
            raise NeurixError(f"unknown level {level!r}: use {' or '.join(LEVELS)}")
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
        frame = explanation_table(
            self.explainer,
            self.members,
            model_input,
            rows,
            indices,
            bundle_labels(self.bundle),
            top,
            compound_names=level == "compound",
        )
        if level == "compound":
            known = self._drug_lookup()[0]
            exact = {d for d in drugs or () if d in known}  # asked for by key: always kept
            # names or all drugs: keep each sample's compound-level entry (predicted only when needed)
            if len(exact) < len(drugs or known):
                chosen = self.predict(_subset(model_input, rows))
                pairs = pd.MultiIndex.from_arrays([chosen["sample"].astype(str), chosen["drug_key"]])
                here = pd.MultiIndex.from_arrays([frame["sample"].astype(str), frame["drug_key"]])
                keep = frame["drug_key"].isin(exact).to_numpy() | here.isin(pairs)
                frame = frame[keep].reset_index(drop=True)
        return frame

    def relevance_matrix(self, profile: ProfileLike, sample: str, drugs: Sequence[str]) -> pd.DataFrame:
        """genes × drugs relevance for one sample (all genes), for heatmaps."""
        model_input = self.prepare(profile)
        row = model_input.sample_index(sample)
        indices = self.drug_indices(drugs)
        relevance = self.explainer.relevance(model_input.scaled[row : row + 1], indices)[0].numpy()
        return pd.DataFrame(
            relevance.T, index=self.bundle.genes, columns=self.bundle.drugs["drug_key"].iloc[indices]
        )

    def overview(self, profile: ProfileLike, sample: str, drugs: Sequence[str]) -> dict:
        """What the selected drugs' explanations for one sample share (shown once) and what sets each apart, with
        the prediction budget and missing targets (see ``readable.explanation_overview``)."""
        frame = self.explain(profile, drugs=drugs, top=None, samples=[sample])
        return explanation_overview(frame, self.bundle.genes, self.bundle.drugs)

    def discover(self, drug: str, top: int | None = 50) -> pd.DataFrame:
        """Genes that most consistently drive the drug's predictions on held-out cell lines (CV fold models),
        with direction, known/novel marks and sources; one block per matching drug key."""
        discovery = self.discovery
        if discovery is None:
            raise NeurixError(
                "this bundle has no discovery view (it was trained before discovery existed); retrain it with "
                "`neurix train` to compute it"
            )
        table = self.bundle.drugs
        frames = []
        for index in self.drug_indices([drug]):
            row = table.iloc[index]
            genes = discovery.genes[discovery.genes["drug_key"] == row["drug_key"]].sort_values(
                "discovery_rank"
            )
            if top is not None:
                genes = genes.head(int(top))
            genes = annotate(genes, row)
            genes.insert(1, "drug_name", row["drug_name"])
            frames.append(genes)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def discovery_points(self, drug_key: str, gene: str) -> pd.DataFrame:
        """Per held-out cell line (fixed random subsample): expression z and the gene's relevance for the drug,
        for the relevance-vs-expression plot; empty when the gene is not among the drug's plotted top genes."""
        discovery = self.discovery
        if discovery is None:
            raise NeurixError("this bundle has no discovery view; retrain it with `neurix train`")
        keys = discovery.drugs["drug_key"].tolist()
        if drug_key not in keys:
            raise NeurixError(f"unknown drug key {drug_key!r}")
        d = keys.index(drug_key)
        slots = list(discovery.plot_genes[d])
        if gene not in slots:
            return pd.DataFrame(columns=["cell_line", "expression_z", "relevance"])
        relevance = discovery.plot_relevance[d, slots.index(gene)].astype(np.float64)
        points = pd.DataFrame(
            {
                "cell_line": discovery.plot_expression.index,
                "expression_z": discovery.plot_expression[gene].to_numpy(dtype=np.float64),
                "relevance": relevance,
            }
        )
        return points[np.isfinite(points["relevance"])].reset_index(drop=True)

    def cohort(self, expression: pd.DataFrame, drug: str, top: int | None = 50) -> pd.DataFrame:
        """Genes with the largest mean relevance for one drug across many profiles (rows of ``expression``)."""
        model_input = self.prepare(expression)
        index = self.drug_indices([drug])[0]
        return cohort_relevance(self.explainer, model_input.scaled, index, self.bundle.genes, top=top)

    # --- report ----------------------------------------------------------------------------------------------------
    def report(
        self, profile: ProfileLike, sample: str | None = None, fmt: str = "pdf", **options: object
    ) -> bytes:
        """The tumour-board report of one sample as PDF or HTML bytes (``neurix_core.report.make.make_report``
        lists the options: case details, drugs to explain, table length, paper size)."""
        from neurix_core.report.make import make_report

        return make_report(self, profile, sample, fmt=fmt, **options)  # type: ignore[arg-type]

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
    def drug_map(self, level: str = "compound") -> pd.DataFrame:
        """UMAP coordinates of the drug tower's latent space, joined with the drug table; at compound level one
        point per compound (its most reliable screen entry)."""
        if self.bundle.drug_map is None:
            raise NeurixError("this bundle has no drug map; retrain it with `neurix train`")
        table = self.bundle.drug_map.merge(self.bundle.drugs, on="drug_key", how="left")
        if level == "compound":
            table = table[table["drug_key"].isin(set(representative_entries(self.bundle.drugs)))].copy()
            table["drug_name"] = table["compound_name"]
        return table.reset_index(drop=True)

    def drug_neighbours(self, drug: str, k: int = 8) -> pd.DataFrame:
        """The ``k`` drugs nearest to ``drug`` (name, id or key) in the drug tower's latent space (cosine), with
        their map coordinates: the neighbours the drug map shows for a searched or clicked drug."""
        from neurix_core.repurpose.drug_map import drug_latent_matrix, nearest_drugs

        index = self.drug_indices([drug])[0]
        with self._lock:
            if self._drug_latent is None:
                self._drug_latent = drug_latent_matrix(self.bundle.model)
        order, similarity = nearest_drugs(self._drug_latent, index, k)
        table = self.bundle.drugs.iloc[order].reset_index(drop=True)
        table.insert(0, "similarity", similarity)
        if self.bundle.drug_map is not None:
            table = table.merge(self.bundle.drug_map, on="drug_key", how="left")
        return table

    def repurposing_candidates(
        self,
        predictions: pd.DataFrame,
        sample: str,
        tumour_type: str | None = None,
        suggested_lineage: str | None = None,
        **thresholds: float,
    ) -> pd.DataFrame:
        """Strong (relative and absolute), reliable predicted effects of clinical-stage drugs outside their
        approved indications, non-oncology first (rules in ``neurix_core/repurpose/candidates.py``). Needs a
        tumour type, or a suggested lineage that is labelled as such."""
        rows = predictions[predictions["sample"] == sample]
        if rows.empty:
            raise NeurixError(f"no predictions for sample {sample!r}")
        return repurposing_candidates(
            rows, self.bundle.drugs, tumour_type, suggested_lineage=suggested_lineage, **thresholds
        )

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


def _subset(model_input: ModelInput, rows: list[int]) -> ModelInput:
    """The model input restricted to some samples (for predictions that go with an explanation)."""
    return ModelInput(
        samples=[model_input.samples[r] for r in rows],
        zscored=model_input.zscored[rows],
        scaled=model_input.scaled[rows],
        coverage=model_input.coverage[rows],
    )
