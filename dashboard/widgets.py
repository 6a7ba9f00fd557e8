"""Shared widgets and session helpers for every dashboard page.

Privacy model: the model bundle is loaded once per process (``st.cache_resource``: it holds no patient data),
but everything derived from an upload (parsed profile, predictions, explanations) lives only in this browser
session's ``st.session_state``, never in a global cache, on disk or in the logs, so two users of a shared
deployment can never see each other's data. Results are cached per session by the sha256 fingerprint of the
upload, so switching pages or samples never re-runs the model.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import logging
import os
import re
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import workers
from dashboard.pacing import PAGE_TURNS
from neurix_core.admission import PARSING, parse_units
from neurix_core.api import Neurix
from neurix_core.errors import LimitExceededError, NeurixError
from neurix_core.explain.readable import explanation_overview
from neurix_core.features.scaling_modes import MIN_COHORT_SAMPLES, SCALING_MODES
from neurix_core.io.profile import VALUE_SCALES, ParsedProfile, ProfileLimits, precheck_upload
from neurix_core.predict import ModelInput
from neurix_core.quality import DataQuality
from neurix_core.report.inputs import SCALE_LABELS, input_summary
from neurix_core.report.pdf import load_renderer
from neurix_core.report.text import (
    DISCLAIMER,
    HIT_RATE_EXPLANATION,
    RELIABILITY_EXPLANATION,
    drug_labels,
    hit_rate,
    reliability,
)
from neurix_core.repurpose.candidates import tumour_types

LOG = logging.getLogger("neurix.dashboard")
T = TypeVar("T")

BUNDLE_ENV = "NEURIX_BUNDLE"
PROFILE_KEY = "neurix_profile"  # the LoadedProfile shown on every page
SAMPLE_KEY = "neurix_sample"  # canonical current sample (not a widget key: pages may change it mid-run)
SAMPLE_WIDGET = "neurix_sample_widget"
RESULTS_KEY = "neurix_results"  # per-session LRU: (fingerprint, value scale) → LoadedProfile
EXPLAIN_KEY = "neurix_explanations"  # per-session LRU: (fingerprint, scale, sample, drug_key) → explain rows
UPLOAD_KEY = "neurix_upload_state"  # the last processed upload and its error, shown again on reruns
DRUGS_KEY = "neurix_explain_drugs"  # (fingerprint, sample) → drugs chosen for explanation (shared pages)
TUMOUR_KEY = "neurix_tumour_type"
UPLOADER_KEY = "neurix_upload"  # + a generation number: bumping it empties the file uploader
MAX_RESULTS = 4
PARSES_KEY = "neurix_parse_times"  # monotonic times of this session's recent parses (upload budget)
MAX_PARSES_PER_WINDOW = 12  # per session: a person re-trying files is far below this; a script is not
PARSE_WINDOW_S = 600.0
MAX_EXPLANATIONS = 40  # drugs; one drug's all-gene explanation is ~0.5 MB
UPLOAD_TYPES = ["csv", "tsv", "txt", "tab", "xlsx", "gz", "h5ad"]
PLATFORM_LABELS = {"rnaseq": "RNA-seq", "microarray": "microarray", "unknown": "unknown (normalised values)"}
SCALING_LABELS = {
    "auto": "Best available",
    "sample": "Single sample",
    "cohort": "Cohort-centred",
    "reference": "RNA-seq reference",
}
GENERIC_ERROR = (
    "Something went wrong while building this page. Your data were not stored. Reload the page or try "
    "another file; if it happens again, tell the Neurix maintainers the time and the page name."
)


# --- model -------------------------------------------------------------------------------------------------


def bundle_dir() -> str | None:
    """Bundle directory from ``$NEURIX_BUNDLE``; None means the shipped default bundle."""
    return os.environ.get(BUNDLE_ENV) or None


@st.cache_resource(show_spinner="Loading the Neurix model…")
def _load_neurix(directory: str | None) -> Neurix:
    neurix = Neurix.load(directory)
    _warm_up(neurix)
    # The model and its tables live as long as the process: out of the garbage collector's sight, so that the
    # automatic full collections a busy server runs do not walk them again and again.
    gc.freeze()
    return neurix


def _warm_up(neurix: Neurix) -> None:
    """Load the gene-id tables and the explainer once per process, so no user's first upload or first Explain
    page pays for it (about 2 s together)."""
    with contextlib.suppress(NeurixError):
        neurix.read_profile(b"gene,warm_up\nTP53,1.5\nEGFR,2.5\nMYC,0.5\n", "warm_up.csv")
    load_renderer()  # the PDF renderer's first import probes system libraries: not during a user's visit
    examples = neurix.bundle.examples
    if examples is None or examples.empty:
        return
    try:
        model_input = neurix.prepare(examples.iloc[:1])
        neurix.explain(model_input, drugs=[neurix.bundle.drugs["drug_key"].iloc[0]], top=1)
    except Exception as exc:  # noqa: BLE001 - warm-up is an optimisation only
        LOG.warning("explainer warm-up skipped: %s", type(exc).__name__)


def get_neurix(quiet: bool = False) -> Neurix | None:
    """The process-wide Neurix; shows an error (unless ``quiet``) and returns None for an unusable bundle."""
    try:
        return _load_neurix(bundle_dir())
    except NeurixError as exc:
        if not quiet:
            st.error(f"The Neurix model could not be loaded: {exc}", icon=":material/error:")
    return None


def profile_limits() -> ProfileLimits:
    """Upload limits matching ``server.maxUploadSize`` (MiB), so the widget and the parser agree."""
    try:
        megabytes = int(st.get_option("server.maxUploadSize"))
    except Exception:  # noqa: BLE001 - outside a Streamlit runtime
        megabytes = 50
    return ProfileLimits(max_bytes=megabytes * 2**20)


# --- the loaded profile ------------------------------------------------------------------------------------


@dataclass
class LoadedProfile:
    """An upload (or the examples) after parsing and prediction: everything the pages show for it."""

    source: str  # "upload" | "example"
    label: str  # file name or "example cell lines"
    fingerprint: str
    value_scale: str
    orientation: str
    id_type: str
    n_input_genes: int
    n_mapped_genes: int
    n_duplicate_genes: int
    warnings: list[str]
    model_input: ModelInput
    predictions: pd.DataFrame  # one row per (sample, compound): what every page shows
    screen_predictions: pd.DataFrame | None = None  # one row per (sample, screen entry): one click away
    quality: DataQuality | None = None
    scale_reason: str = ""
    sample_info: dict[str, dict[str, str]] = field(default_factory=dict)
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    # What the pages derive from this profile (figures, tables, neighbours), built once per key: see ``memo``.
    views: OrderedDict = field(default_factory=OrderedDict, repr=False, compare=False)

    @property
    def samples(self) -> list[str]:
        return list(self.model_input.samples)

    @property
    def is_example(self) -> bool:
        return self.source == "example"

    def sample_label(self, sample: str) -> str:
        info = self.sample_info.get(sample)
        if not info:
            return str(sample)
        return f"{sample} · {info.get('cell_line_name', '')} ({info.get('lineage', '')})"

    def coverage(self, sample: str) -> float:
        return float(self.model_input.coverage[self.model_input.sample_index(sample)])

    def sample_predictions(self, sample: str) -> pd.DataFrame:
        """The sample's compound rows by rank; built once per profile and sample (pages ask for it several times per
        run). Read-only by convention: callers derive new frames from it."""
        return memo(
            self,
            ("sample_predictions", sample),
            lambda: (
                self.predictions[self.predictions["sample"] == sample]
                .sort_values("rank")
                .reset_index(drop=True)
            ),
        )

    def sample_entries(self, sample: str, compound_id: str) -> pd.DataFrame:
        """The screen-level predictions behind one compound row of ``sample``."""
        table = self.screen_predictions
        if table is None:
            return pd.DataFrame()
        rows = table[(table["sample"] == sample) & (table["compound_id"] == compound_id)]
        return rows.sort_values("z_log_auc").reset_index(drop=True)

    def summary(self) -> dict[str, str]:
        """What was detected, in words (also written into the report)."""
        return {
            **input_summary(
                source="example cell lines" if self.is_example else "uploaded file",
                value_scale=self.value_scale,
                orientation=self.orientation,
                id_type=self.id_type,
                n_mapped_genes=self.n_mapped_genes,
                n_input_genes=self.n_input_genes,
                n_samples=len(self.samples),
                scale_reason=self.scale_reason,
            ),
            **self.scaling_summary(),
        }

    def scaling_summary(self) -> dict[str, str]:
        """Platform and scaling in words, with the benchmark's figure for that path (shown and reported)."""
        choice = self.model_input.scaling
        if choice is None:
            return {}
        summary = {
            "Platform": f"{PLATFORM_LABELS.get(choice.platform, choice.platform)} (model trained on "
            f"{PLATFORM_LABELS.get(choice.training_platform, choice.training_platform)})",
            "Scaling": f"{SCALING_LABELS.get(choice.mode, choice.mode)} – benchmark mean per-drug ρ "
            f"{choice.benchmark_rho:.3f} on this path",
        }
        if choice.flag:
            summary["Platform warning"] = choice.flag
        return summary


MAX_VIEWS = 48  # derived views kept per profile (a figure or a table each; all small)


def memo(profile: LoadedProfile, key: Hashable, build: Callable[[], T]) -> T:
    """``build()`` once per (profile, key), then reused: reruns, page switches and widget changes redraw from it.

    Why: every widget change reruns the whole page script, and building plotly figures and neighbour tables again
    each time was most of a rerun's CPU (CSV downloads are built only when clicked: ``dashboard/downloads.py``).
    The store lives on the profile, i.e. in this session's ``st.session_state`` only (never process-wide), and
    goes with the profile.
    """
    store = profile.views
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = build()
    store[key] = value
    while len(store) > MAX_VIEWS:
        store.popitem(last=False)
    return value


def _lru_put(store_key: str, key: Hashable, value: Any, limit: int) -> None:
    store: OrderedDict = st.session_state.setdefault(store_key, OrderedDict())
    store[key] = value
    store.move_to_end(key)
    while len(store) > limit:
        store.popitem(last=False)


def _lru_get(store_key: str, key: Hashable) -> Any:
    store: OrderedDict | None = st.session_state.get(store_key)
    if store is None or key not in store:
        return None
    store.move_to_end(key)
    return store[key]


def profile_from_parsed(neurix: Neurix, parsed: ParsedProfile, scaling: str = "auto") -> LoadedProfile:
    """Prepare and predict a parsed upload (raises NeurixError, e.g. for too low gene coverage)."""
    quality = neurix.quality(parsed)
    model_input = neurix.prepare(parsed, scaling=scaling)
    screen = neurix.predict(model_input, level="screen")
    detection = parsed.scale_detection
    return LoadedProfile(
        source="upload",
        label="uploaded file",
        fingerprint=parsed.fingerprint,
        value_scale=parsed.value_scale,
        orientation=parsed.orientation,
        id_type=parsed.id_type,
        n_input_genes=parsed.n_input_genes,
        n_mapped_genes=parsed.n_mapped_genes,
        n_duplicate_genes=parsed.n_duplicate_genes,
        warnings=list(parsed.warnings),
        model_input=model_input,
        predictions=neurix.to_compounds(screen),
        screen_predictions=screen,
        quality=quality,
        scale_reason=(
            ("chosen; " if detection.manual else "detected: ") + detection.reason
            if detection is not None
            else ""
        ),
    )


def ingest_job(
    neurix: Neurix, data: bytes, filename: str, values: str, scaling: str, limits: ProfileLimits
) -> LoadedProfile:
    """Parse, check, prepare and predict one upload: the heavy part of an upload, run by ``dashboard.workers``
    (in a worker process of the server, or here). Raises NeurixError for anything wrong with the file."""
    parsed = neurix.read_profile(data, filename, values=values, limits=limits)
    profile = profile_from_parsed(neurix, parsed, scaling)
    if neurix.has_trust:  # the similar-lines panel's first view, here rather than in the server process
        with contextlib.suppress(NeurixError):  # the panel shows the error itself
            neighbours(neurix, profile, *neighbour_defaults(profile, profile.samples[0]))
    return profile


def neighbour_defaults(profile: LoadedProfile, sample: str) -> tuple[str, str]:
    """The similar-lines panel's first view: the sample's top-ranked drug and its known tumour type ('' if none)."""
    lineage = profile.sample_info.get(sample, {}).get("lineage", "")
    drug = str(profile.sample_predictions(sample)["drug_key"].iloc[0])
    return drug, lineage if lineage in tumour_types() else ""


def neighbours(neurix: Neurix, profile: LoadedProfile, drug: str, tumour: str) -> pd.DataFrame:
    """``Neurix.neighbours`` of all the profile's samples for one drug and tumour type, once per profile."""
    return memo(
        profile,
        ("neighbours", drug, tumour),
        lambda: neurix.neighbours(profile.model_input, drug=drug, tumour_type=tumour or None),
    )


def ingest_bytes(
    neurix: Neurix, data: bytes, filename: str, values: str = "auto", scaling: str = "auto"
) -> LoadedProfile:
    """Parse, prepare and predict uploaded bytes, reusing this session's result for identical bytes and scale.

    Raises NeurixError with a user-readable message for anything wrong with the file.
    """
    key = (hashlib.sha256(data).hexdigest(), values, scaling)
    cached = _lru_get(RESULTS_KEY, key)
    if cached is not None:
        return cached
    _spend_parse_budget()
    limits = profile_limits()
    precheck_upload(data, limits)  # bombs and far oversized tables are refused here, not after the queue
    queued = st.empty()

    def _queued(place: int) -> None:
        queued.info(
            f"Queued: {place - 1} other upload(s) are being read first; yours starts automatically.",
            icon=":material/hourglass_top:",
        )

    # no page turn held while queued for a parse (dashboard/pacing.py): the others go on meanwhile
    with PAGE_TURNS.paused(), PARSING.admit(parse_units(data), on_wait=_queued):
        queued.empty()
        profile = workers.run(neurix, ingest_job, data, filename, values, scaling, limits)
    profile.label = filename
    _lru_put(RESULTS_KEY, key, profile, MAX_RESULTS)
    return profile


def _spend_parse_budget() -> None:
    """Per-session upload budget: at most MAX_PARSES_PER_WINDOW new files parsed per PARSE_WINDOW_S."""
    now = time.monotonic()
    recent = [t for t in st.session_state.get(PARSES_KEY, []) if now - t < PARSE_WINDOW_S]
    if len(recent) >= MAX_PARSES_PER_WINDOW:
        wait = int(PARSE_WINDOW_S - (now - recent[0])) + 1
        raise LimitExceededError(
            f"This session has read {len(recent)} files in the last {PARSE_WINDOW_S / 60:.0f} minutes, the most "
            f"allowed: try again in {wait} s."
        )
    st.session_state[PARSES_KEY] = [*recent, now]


def example_profile(neurix: Neurix) -> LoadedProfile:
    """The bundle's held-out example cell lines as one multi-sample profile (already within-sample z)."""
    examples = neurix.example_profiles()
    digest = hashlib.sha256()
    digest.update("\n".join(map(str, examples.index)).encode())
    digest.update("\n".join(map(str, examples.columns)).encode())
    digest.update(np.ascontiguousarray(examples.to_numpy(dtype=np.float64)).tobytes())
    key = (digest.hexdigest(), "example")
    cached = _lru_get(RESULTS_KEY, key)
    if cached is not None:
        return cached
    model_input = neurix.prepare(examples)
    screen = neurix.predict(model_input, level="screen")
    info: dict[str, dict[str, str]] = {}
    for sample in model_input.samples:
        responses = neurix.example_responses(sample)
        if len(responses):
            first = responses.iloc[0]
            info[sample] = {
                name: str(first[name])
                for name in ("cell_line_name", "lineage", "primary_disease")
                if name in responses.columns and pd.notna(first[name])
            }
    profile = LoadedProfile(
        source="example",
        label="example cell lines",
        fingerprint=key[0],
        value_scale="zscore",
        orientation="samples_by_genes",
        id_type="symbol",
        n_input_genes=int(examples.shape[1]),
        n_mapped_genes=int(examples.shape[1]),
        n_duplicate_genes=0,
        warnings=[],
        model_input=model_input,
        predictions=neurix.to_compounds(screen),
        screen_predictions=screen,
        quality=neurix.quality(examples),
        scale_reason="held-out cell lines, already z-scored within each line as in training",
        sample_info=info,
    )
    _lru_put(RESULTS_KEY, key, profile, MAX_RESULTS)
    return profile


def set_profile(profile: LoadedProfile | None, sample: str | None = None) -> None:
    """Make ``profile`` the one all pages show (None clears it) and select ``sample`` (default: the first)."""
    if profile is None:
        for key in (PROFILE_KEY, SAMPLE_KEY, UPLOAD_KEY):
            st.session_state.pop(key, None)
        return
    st.session_state[PROFILE_KEY] = profile
    st.session_state[SAMPLE_KEY] = sample if sample in profile.samples else profile.samples[0]


def current_profile() -> LoadedProfile | None:
    profile = st.session_state.get(PROFILE_KEY)
    return profile if isinstance(profile, LoadedProfile) else None


def current_sample(profile: LoadedProfile | None = None) -> str | None:
    profile = profile or current_profile()
    if profile is None:
        return None
    sample = st.session_state.get(SAMPLE_KEY)
    return sample if sample in profile.samples else profile.samples[0]


def measured_responses(neurix: Neurix, profile: LoadedProfile, sample: str) -> pd.Series | None:
    """drug_key → measured z log AUC for an example cell line; None for uploads."""
    if not profile.is_example:
        return None
    responses = neurix.example_responses(sample)
    if responses.empty:
        return None
    return responses.set_index("drug_key")["measured_z_log_auc"].astype(float)


def explanation(
    neurix: Neurix, profile: LoadedProfile, sample: str, drug_keys: Sequence[str], summarise: bool = False
) -> pd.DataFrame:
    """All-gene explanation rows for (sample, drugs), computing only drugs not yet cached in this session.

    With ``summarise`` (the Explain page), when every drug is computed now, the worker also summarises them
    (``explanation_overview``), kept for ``overview`` so that the server process does not redo it.
    """
    base = (profile.fingerprint, profile.value_scale, sample)
    missing = [key for key in drug_keys if _lru_get(EXPLAIN_KEY, (*base, key)) is None]
    if missing:
        whole = summarise and missing == list(drug_keys)
        frame, summary = workers.run(neurix, explain_job, profile.model_input, missing, sample, whole)
        blocks = drug_blocks(frame)
        for key, rows in blocks.items():
            _lru_put(EXPLAIN_KEY, (*base, key), frame.iloc[rows].reset_index(drop=True), MAX_EXPLANATIONS)
        if summary is not None:
            memo(profile, _overview_key(sample, drug_keys), lambda: summary)
        if list(blocks) == list(drug_keys):  # all of them computed now, in this order: no re-assembly
            return frame
    parts = [_lru_get(EXPLAIN_KEY, (*base, key)) for key in drug_keys]
    parts = [p for p in parts if p is not None]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def overview(
    neurix: Neurix, profile: LoadedProfile, sample: str, drug_keys: Sequence[str], frame: pd.DataFrame
) -> dict:
    """``explanation_overview`` of ``frame`` (the explanation of these drugs), once per profile, sample and drugs."""
    return memo(
        profile,
        _overview_key(sample, drug_keys),
        lambda: explanation_overview(frame, neurix.bundle.genes, neurix.bundle.drugs),
    )


def _overview_key(sample: str, drug_keys: Sequence[str]) -> tuple:
    return ("explanation_overview", sample, tuple(drug_keys))


def csv_job(_neurix: Neurix, table: pd.DataFrame) -> bytes:
    """A table as the downloads offer it (UTF-8 CSV, no index): run by ``dashboard.workers``."""
    return table.to_csv(index=False).encode("utf-8")


def csv_download(neurix: Neurix, table: pd.DataFrame) -> Callable[[], bytes]:
    """A download button's ``data``: the CSV, built only when clicked and in a worker process.

    Why a worker: pandas took ~37 ms of the server's one interpreter for one sample's 537 predictions (seconds for
    a many-sample upload), against ~1 ms to send the table to a worker.
    """
    return lambda: workers.run(neurix, csv_job, table)


def explain_job(
    neurix: Neurix, model_input: ModelInput, drug_keys: list[str], sample: str, summarise: bool
) -> tuple[pd.DataFrame, dict | None]:
    """All-gene explanations of one sample for these drugs (LRP and stability) and, with ``summarise``, their
    ``explanation_overview``: run by ``dashboard.workers``."""
    frame = neurix.explain(model_input, drugs=drug_keys, top=None, samples=[sample])
    summary = explanation_overview(frame, neurix.bundle.genes, neurix.bundle.drugs) if summarise else None
    return frame, summary


def drug_blocks(frame: pd.DataFrame) -> dict[str, slice | np.ndarray]:
    """drug_key → its rows of an explanation frame, in order of appearance: a slice where they are contiguous (as
    ``Neurix.explain`` writes them), so that selecting one drug's rows copies nothing."""
    codes, keys = pd.factorize(frame["drug_key"])
    if codes.size == 0 or (np.diff(codes) >= 0).all():  # blocks in order: boundaries by position
        edges = np.searchsorted(codes, np.arange(len(keys) + 1))
        return {str(k): slice(int(edges[i]), int(edges[i + 1])) for i, k in enumerate(keys)}
    return {str(k): np.flatnonzero(codes == i) for i, k in enumerate(keys)}


CASE_KEY = "neurix_case"  # (fingerprint, sample) → case fields for the report; this session's memory only


def case_store(profile: LoadedProfile, sample: str) -> dict[str, Any]:
    """The report's case fields (specimen, tumour type, requester, date) of one sample, editable in place."""
    return st.session_state.setdefault(CASE_KEY, {}).setdefault((profile.fingerprint, sample), {})


def chosen_drugs(profile: LoadedProfile, sample: str, default_n: int = 5) -> list[str]:
    """Drugs selected for explanation for this sample (Explain and Report share it); default: top 5."""
    chosen = st.session_state.get(DRUGS_KEY, {}).get((profile.fingerprint, sample))
    if chosen:
        return list(chosen)
    return profile.sample_predictions(sample)["drug_key"].head(default_n).tolist()


def remember_drugs(profile: LoadedProfile, sample: str, drug_keys: Sequence[str]) -> None:
    st.session_state.setdefault(DRUGS_KEY, {})[(profile.fingerprint, sample)] = list(drug_keys)


MAX_EXPLAINED_DRUGS = 12  # LRP per page run stays well under the 3 s budget


def drug_picker(neurix: Neurix, profile: LoadedProfile, sample: str, label: str, page: str) -> list[str]:
    """Multiselect of drugs to explain, in predicted order; the choice is shared by Explain and Report."""
    options = drug_options(neurix, profile, sample)
    key = f"{page}_drugs_" + hashlib.sha256(f"{profile.fingerprint}|{sample}".encode()).hexdigest()[:12]
    selected = st.multiselect(
        label,
        list(options),
        default=chosen_drugs(profile, sample),
        format_func=options.get,
        key=key,
        max_selections=MAX_EXPLAINED_DRUGS,
    )
    remember_drugs(profile, sample, selected)
    return selected


def drug_names(neurix: Neurix) -> dict[str, str]:
    """drug_key → the compound's display name (every screen entry of a compound shows as one drug)."""
    return _drug_names(neurix.bundle.version, id(neurix.bundle), neurix)


@st.cache_resource(show_spinner=False, max_entries=4)
def _drug_names(version: str, bundle_id: int, _neurix: Neurix) -> dict[str, str]:
    """Process-wide: the labels depend on the model only (no patient data), and every page run needs them."""
    return drug_labels(_neurix.bundle.drugs)


def drug_options(neurix: Neurix, profile: LoadedProfile, sample: str) -> dict[str, str]:
    """drug_key → 'rank. label' in predicted order, for drug pickers."""

    def build() -> dict[str, str]:
        rows = profile.sample_predictions(sample)
        names = drug_names(neurix)
        return {
            key: f"{rank}. {names.get(key, key)}"
            for key, rank in zip(rows["drug_key"], rows["rank"], strict=True)
        }

    return dict(memo(profile, ("drug_options", sample), build))  # a copy: callers may edit theirs


# --- upload ------------------------------------------------------------------------------------------------


def upload_widget(neurix: Neurix) -> None:
    """File uploader + value-scale override; a new file (or scale) is parsed and predicted once per session.

    Errors stay on screen while the bad file is selected, and clear the previous profile so that nobody
    mistakes old predictions for the new file's.
    """
    from dashboard.auth import session_may_upload

    if not session_may_upload():  # pages do not render then either; this keeps the widget closed regardless
        st.warning("Sign in to upload a profile.", icon=":material/lock:")
        return
    left, middle, right = st.columns([2.3, 1, 1])  # one row: the results start higher on a laptop screen
    with middle:
        scale = st.selectbox(
            "Value scale",
            ["auto", *VALUE_SCALES],
            format_func=lambda v: SCALE_LABELS.get(v, v),
            key="neurix_value_scale",
            help=(
                "Auto-detect: z-scores only when every sample has mean ≈ 0 and sd ≈ 1; other negative values "
                "≤ 20 → log2 values; all 0–20 → log2(TPM+1); whole numbers → read counts (normalised to CPM); "
                "otherwise TPM. What was detected and why is shown below the upload; a choice that the data "
                "contradict is warned about."
            ),
        )
    with right:
        st.selectbox(
            "Scaling",
            list(SCALING_MODES),
            format_func=lambda v: SCALING_LABELS.get(v, v),
            key="neurix_scaling",
            help=(
                "How the profile is put on the training scale. Best available: the RNA-seq reference of a bundle "
                f"that has one, else cohort centring for files with ≥ {MIN_COHORT_SAMPLES} RNA-seq samples, else "
                "single-sample. Cohort-centred predictions are relative to the file's samples, which should be a "
                "mix of tumour types."
            ),
        )
    with left:
        limits = profile_limits()
        uploaded = st.file_uploader(
            "Upload an RNA-seq expression profile",
            type=UPLOAD_TYPES,
            key=f"{UPLOADER_KEY}_{st.session_state.get(UPLOADER_KEY, 0)}",
            max_upload_size=max(1, limits.max_bytes // 2**20),
            help=(
                "CSV, TSV, TXT or XLSX (optionally gzipped), or AnnData .h5ad. Genes as rows or columns; HGNC symbols, "
                "Entrez or Ensembl gene ids; one or several samples. The file stays in this browser "
                "session only."
            ),
        )
    if uploaded is None:
        return
    scaling = st.session_state.get("neurix_scaling", "auto")
    upload_id = (uploaded.file_id, uploaded.name, uploaded.size, scale, scaling)
    state = st.session_state.get(UPLOAD_KEY)
    if state is None or state["id"] != upload_id:
        try:
            with st.spinner("Reading the profile and predicting…"):
                profile = ingest_bytes(neurix, uploaded.getvalue(), uploaded.name, scale, scaling)
            set_profile(profile)
            state = {"id": upload_id, "error": None}
        except NeurixError as exc:
            set_profile(None)
            state = {"id": upload_id, "error": str(exc)}
        st.session_state[UPLOAD_KEY] = state
    if state["error"]:
        st.error(
            f"**{_markdown_text(uploaded.name)}** could not be used. {state['error']}",
            icon=":material/error:",
        )


def _markdown_text(text: str) -> str:
    """Escape Markdown in user-supplied text (file names) so it shows literally."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~-])", r"\\\1", text)


def reset_uploader() -> None:
    """Empty the file uploader (a new widget key) so a file still selected is not processed again."""
    st.session_state[UPLOADER_KEY] = st.session_state.get(UPLOADER_KEY, 0) + 1
    st.session_state.pop(UPLOAD_KEY, None)


def clear_profile() -> None:
    """Forget the current profile and empty the uploader (the 'Clear profile' button)."""
    set_profile(None)
    reset_uploader()


def load_example_button(neurix: Neurix, label: str = "Try an example", key: str = "example_button") -> bool:
    """Load the example cell lines (selected example first) and say whether it happened in this run."""
    if neurix.bundle.examples is None:
        st.caption("This model bundle ships no example profiles.")
        return False
    if st.button(label, key=key, type="primary", icon=":material/science:"):
        set_profile(example_profile(neurix), st.session_state.get("neurix_example_choice"))
        reset_uploader()
        return True
    return False


# --- shared displays ---------------------------------------------------------------------------------------


def sample_switcher(profile: LoadedProfile) -> str:
    """Sample selectbox for multi-sample files; keeps the canonical choice outside the widget's own state."""
    current = current_sample(profile) or profile.samples[0]
    if len(profile.samples) == 1:
        st.markdown(f"**Sample:** {profile.sample_label(current)}")
        return current
    st.session_state[SAMPLE_WIDGET] = current

    def _changed() -> None:
        st.session_state[SAMPLE_KEY] = st.session_state[SAMPLE_WIDGET]

    st.selectbox(
        f"Sample ({len(profile.samples)} in this file)",
        profile.samples,
        key=SAMPLE_WIDGET,
        format_func=profile.sample_label,
        on_change=_changed,
    )
    return current


MISSING = "–"


def _cell(value: object, fmt: str | None) -> str:
    if fmt:
        try:
            return fmt % value
        except (TypeError, ValueError):
            pass
    return f"{value:,.3g}" if isinstance(value, float) else str(value)


def show_table(frame: pd.DataFrame, column_config: dict | None = None, **kwargs: Any) -> None:
    """``st.dataframe`` that shows "–" for missing values (Streamlit writes "None") and multi-valued
    annotations ("a|b") as "a, b"; numeric columns with gaps become text formatted like their column config."""
    frame, config = table_view(frame, column_config)
    st.dataframe(frame, column_config=config, **kwargs)


def table_view(frame: pd.DataFrame, column_config: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """The frame and column config ``show_table`` displays (pages may ``memo`` it).

    Built from Python lists, one new frame at the end: page tables are small (25-700 rows), where pandas' string
    methods cost ~0.1 ms per call and column per column; this was ~25 ms of an upload's first page.
    """
    config = dict(column_config or {})
    columns: dict[object, object] = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or (
            pd.api.types.is_numeric_dtype(series) and not series.isna().any()
        ):
            columns[column] = series
            continue
        if pd.api.types.is_numeric_dtype(series):
            spec = config.get(column)
            spec = spec if isinstance(spec, dict) else {"label": spec} if isinstance(spec, str) else {}
            fmt = (spec.get("type_config") or {}).get("format")
            columns[column] = [MISSING if _is_missing(v) else _cell(v, fmt) for v in series.tolist()]
            config[column] = st.column_config.TextColumn(
                spec.get("label"),
                help=spec.get("help"),
                width=spec.get("width"),
                pinned=spec.get("pinned"),
                alignment="right",  # still reads as a number column
            )
            continue
        columns[column] = [_text_cell(v) for v in series.tolist()]
    return pd.DataFrame(columns, index=frame.index), config


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _text_cell(value: object) -> str:
    """One cell of a text column as shown: "–" for missing, "a|b" as "a, b", surrounding spaces dropped."""
    if _is_missing(value):
        return MISSING
    text = str(value).strip().replace("|", ", ")
    return MISSING if text in ("", "nan", "None", "<NA>") else text


def reliability_badge(rho: float | None, rate: float | None = None, placements: float | None = None) -> None:
    """The drug's measured hit rate in plain words where the bundle has it, else the ρ tier badge."""
    hits = hit_rate(rate, placements)
    if hits.tier != "unmeasured":
        colour = {"strong": "green", "moderate": "orange", "weak": "red"}[hits.tier]
        st.badge(f"{hits.short} ({hits.tier}; chance 33%)", color=colour, help=HIT_RATE_EXPLANATION)
        st.caption(hits.words)
        return
    tier = reliability(rho)
    colour = {"high": "green", "moderate": "orange", "low": "red"}.get(tier.tier, "gray")
    rho_text = "no ρ" if rho is None or pd.isna(rho) else f"ρ = {float(rho):.2f}"
    st.badge(
        f"{tier.symbol} {tier.tier} reliability · {rho_text}", color=colour, help=RELIABILITY_EXPLANATION
    )


def disclaimer(compact: bool = False) -> None:
    if compact:
        st.caption(f":material/warning: {DISCLAIMER}")
    else:
        st.warning(DISCLAIMER, icon=":material/warning:")


def need_profile(neurix: Neurix, what: str) -> LoadedProfile | None:
    """The current profile, or an explanation of how to get one (upload or example) and None."""
    profile = current_profile()
    if profile is not None:
        return profile
    st.info(
        f"No profile loaded yet: upload one on the Predict page or load an example to see {what}.",
        icon=":material/info:",
    )
    left, right = st.columns([1, 3])
    with left:
        if load_example_button(neurix, key=f"example_button_{what}"):
            st.rerun()
    with right:
        st.page_link(
            "views/predict.py", label="Go to Predict to upload a profile", icon=":material/upload_file:"
        )
    return None


def profile_page(title: str, what: str) -> tuple[Neurix, LoadedProfile, str] | None:
    """Title, model and current profile/sample for a page that needs an uploaded profile; None if either is missing."""
    neurix = get_neurix()
    st.title(title)
    if neurix is None:
        return None
    profile = need_profile(neurix, what)
    if profile is None:
        return None
    return neurix, profile, sample_switcher(profile)


def run_page(render: Callable[[], None], page: str) -> None:
    """Run a page body: NeurixError → its message; anything else → a generic message, never a traceback.

    Only the exception type and code locations are logged (no message text: it could echo uploaded values).
    """
    try:
        render()
    except NeurixError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - the page must never show a traceback
        where = "; ".join(
            f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
            for frame in traceback.extract_tb(exc.__traceback__)
        )
        LOG.error("dashboard page %r failed with %s at %s", page, type(exc).__name__, where)
        st.error(GENERIC_ERROR, icon=":material/error:")


def sidebar(neurix: Neurix | None) -> None:
    """Current model, profile and sample: the context every page shares."""
    from dashboard.auth import sign_out_button

    with st.sidebar:
        sign_out_button()
        profile = current_profile()
        if profile is not None:
            st.subheader("Current profile")
            st.caption(
                f"{profile.label} · {len(profile.samples)} sample(s) · loaded {profile.loaded_at:%H:%M} UTC"
            )
            st.markdown(f"**Sample:** {profile.sample_label(current_sample(profile) or profile.samples[0])}")
            if st.button("Clear profile", key="clear_profile", icon=":material/delete:"):
                clear_profile()
                st.rerun()
        if neurix is not None:
            st.caption(
                f"Model {neurix.bundle.version} · {neurix.bundle.drugs['compound_id'].nunique():,} compounds "
                f"({len(neurix.bundle.drugs):,} screen entries) · {len(neurix.bundle.genes):,} genes · trained on "
                "GDSC microarray expression"
            )
        disclaimer(compact=True)
