"""One partition of a cohort, start to finish, on whichever process Dask gives it: read, parse, predict, explain,
write.

Why a self-contained task: a partition's outputs (predictions, top genes, per-sample quality, partial summaries) are
written under fixed names with an atomic rename, and its completion marker last. A task that runs twice (a worker
was lost after writing, the scheduler re-ran it) replaces the same files with the same content, so every sample is
in the output exactly once; a partition without a marker is simply run again on resume.

Bad samples never stop a partition: the parser and the coverage rule are first applied to the whole partition
(fast path) and, only when that raises, to each sample alone, so every refused sample gets the same one-sentence
reason ``neurix predict`` would give.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.cohort.sources import CohortSource
from neurix_core.errors import ProfileError
from neurix_core.io.atomic import write_atomically
from neurix_core.io.gene_ids import GeneMapping, map_genes
from neurix_core.io.profile import profile_from_matrix
from neurix_core.predict import MIN_GENE_COVERAGE, ModelInput, align_to_genes, coverage_refusal, prepare_input
from neurix_core.predict_block import PredictionBlock, dictionary_array, write_parquet
from neurix_core.threads import adopt_torch_threads, tune_worker_process

SENSITIVE_Z = (
    -1.0
)  # summaries count predictions at least one training-sd more sensitive than the average line
OK, FAILED = "predicted", "failed"
PREDICTIONS, GENES, QUALITY, STATE = "predictions", "genes", "quality", "_partitions"


@dataclass(frozen=True)
class PartitionTask:
    """Everything a worker needs for one partition (picklable; paths must be visible to every worker)."""

    index: int
    start: int
    stop: int
    source: CohortSource
    out: str
    bundle_dir: str | None
    config_hash: str
    explain_top: int = 0
    min_coverage: float = MIN_GENE_COVERAGE
    group_by: str | None = None
    level: str | None = None  # compound|screen where the API has levels; None = ``predict``'s default

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}"


def marker_path(out: str | Path, name: str) -> Path:
    return Path(out) / STATE / f"{name}.json"


def read_marker(out: str | Path, name: str, config_hash: str) -> dict | None:
    """The completion marker of a partition of this run configuration, or None (absent, damaged, other run)."""
    try:
        marker = json.loads(marker_path(out, name).read_text())
    except (OSError, ValueError):
        return None
    return marker if marker.get("config_hash") == config_hash else None


def sample_digest(samples: list[str]) -> str:
    """Checksum of a partition's sample ids, stored in its marker (and summed by tests over the whole run)."""
    return hashlib.sha256("\n".join(samples).encode()).hexdigest()


# --- per-process caches: one bundle and one gene mapping per worker ---------------------------------------------
_NEURIX: dict[str, object] = {}
_MAPPINGS: dict[tuple, GeneMapping] = {}
_TARGETS: dict[str, np.ndarray] = {}
_METADATA: dict[tuple, pd.DataFrame] = {}
# partitions may run on several threads of one process (``--scheduler inline``, the default local cluster)
_CACHE_LOCK = threading.RLock()


def _cached(store: dict, key, build):
    """The value for ``key`` (only the latest key is kept), built once per process even when partitions run on
    several threads."""
    with _CACHE_LOCK:
        if key not in store:
            value = build()
            store.clear()
            store[key] = value
        return store[key]


def cached_neurix(bundle_dir: str | Path | None):
    """The bundle, loaded (and verified) once per process; ``None`` = $NEURIX_BUNDLE or the shipped bundle."""
    from neurix_core.api import Neurix
    from neurix_core.model.bundle import DEFAULT_BUNDLE

    directory = Path(bundle_dir or os.environ.get("NEURIX_BUNDLE") or DEFAULT_BUNDLE).resolve()
    try:
        key = f"{directory}|{(directory / 'manifest.json').stat().st_mtime_ns}"
    except OSError:
        key = str(directory)  # load_bundle raises the readable error

    def load():
        _tune_if_dask_worker()
        return Neurix.load(directory)

    return _cached(_NEURIX, key, load)


def _tune_if_dask_worker() -> None:
    """On a Dask worker process: single-threaded maths per partition, and the allocator Dask's nanny changed put
    back (``tune_worker_process``). Partitions on threads of this process (``--scheduler inline``, the default
    local cluster) are set by the runner instead."""
    if "distributed" not in sys.modules:  # inline run: ``_execute_in_process`` decides
        return
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not on a worker
        return
    tune_worker_process()


def _mapping(source: CohortSource, known_genes: list[str]) -> GeneMapping:
    key = (str(source.path), source.layer, len(source.genes), tuple(source.genes[:5]))
    return _cached(_MAPPINGS, key, lambda: map_genes(source.genes, known_genes))


def _target_matrix(neurix) -> np.ndarray:
    """drugs × model genes: is the gene an annotated target of the drug (for the top-gene table)."""
    from neurix_core.data.drugs import target_genes

    def build() -> np.ndarray:
        index = {g.upper(): i for i, g in enumerate(neurix.bundle.genes)}
        matrix = np.zeros((len(neurix.bundle.drugs), len(neurix.bundle.genes)), dtype=bool)
        for d, targets in enumerate(neurix.bundle.drugs["targets"].fillna("")):
            for gene in target_genes(str(targets)):
                if gene.upper() in index:
                    matrix[d, index[gene.upper()]] = True
        return matrix

    return _cached(_TARGETS, str(neurix.bundle.path), build)


class StageClock:
    """CPU seconds (``time.process_time``: every thread of this process) per named stage of a partition.

    Why CPU and not wall time: on a shared machine wall time measures the contention; the CPU cost per sample is
    what a cluster's size is planned from (README, projected time for 10,000 tumours).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        import torch

        # with single-threaded torch all of a partition's work runs on its own thread, and partitions may share
        # the process (threads of ``--scheduler inline``): count this thread only; else every thread of the process
        self._now = time.thread_time if torch.get_num_threads() == 1 else time.process_time

    @contextmanager
    def __call__(self, stage: str):
        began = self._now()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + self._now() - began


# --- the task ---------------------------------------------------------------------------------------------------


def run_partition(task: PartitionTask) -> dict:
    """Process one partition and return its marker (small: counts, checksum, warnings)."""
    existing = read_marker(task.out, task.name, task.config_hash)
    if existing is not None:  # a duplicate run of a finished partition (e.g. rescheduled after a lost worker)
        return existing
    adopt_torch_threads()  # the runner's single-thread setting, on this worker thread too
    clock = StageClock()
    with clock("load_bundle"):
        neurix = cached_neurix(task.bundle_dir)
    with clock("read"):
        matrix, samples = task.source.read(task.start, task.stop)
    warnings: list[str] = []
    with clock("parse"):
        expression, failed = _parse(neurix, task.source, matrix, samples, warnings)
    del matrix
    with clock("prepare"):
        model_input, refused = _prepare(neurix, expression, task.source.values)
    failed.update(refused)
    metadata = _metadata(task)
    options = {"level": task.level} if task.level else {}
    with clock("predict"):
        predictions = neurix.predict_block(model_input, **options) if model_input is not None else None
    with clock("quality"):
        quality = _quality(neurix, task, samples, expression, model_input, predictions, failed, metadata)
    out = Path(task.out)
    rows = {"prediction_rows": 0, "gene_rows": 0}
    if predictions is not None:
        drugs = neurix.bundle.drugs
        with clock("write_predictions"):
            table = predictions.to_arrow(drugs)
            write_atomically(
                out / PREDICTIONS / f"{task.name}.parquet", lambda tmp: write_parquet(table, tmp)
            )
        rows["prediction_rows"] = len(predictions)
        with clock("drug_partials"):
            _write_parquet(
                _arrow(_drug_partials(predictions, drugs, quality, task.group_by)),
                out / STATE / f"{task.name}.drugs.parquet",
            )
        if task.explain_top > 0:
            with clock("top_genes"):
                genes, partials = _top_genes(neurix, model_input, task.explain_top, predictions)
            with clock("write_genes"):
                write_atomically(out / GENES / f"{task.name}.parquet", lambda tmp: write_parquet(genes, tmp))
                _write_parquet(partials, out / STATE / f"{task.name}.genes.parquet")
            rows["gene_rows"] = genes.num_rows
    with clock("write_quality"):
        _write_parquet(_arrow(quality), out / QUALITY / f"{task.name}.parquet")
    marker = {
        "partition": task.index,
        "start": task.start,
        "stop": task.stop,
        "n_samples": len(samples),
        "n_predicted": int((quality["status"] == OK).sum()),
        "n_failed": int((quality["status"] == FAILED).sum()),
        "samples_sha256": sample_digest(samples),
        "warnings": sorted(set(warnings)),
        "config_hash": task.config_hash,
        "cpu_seconds": clock.seconds,  # per stage, this process (all its threads): load-independent cost
        **rows,
    }
    _write_text(json.dumps(marker), marker_path(out, task.name))
    return marker


def _parse(
    neurix, source: CohortSource, matrix: np.ndarray, samples: list[str], warnings: list[str]
) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """Upload-parser rules on the whole partition; on a refusal, sample by sample to name each bad one."""
    genes = neurix.bundle.genes
    mapping = _mapping(source, genes)

    def parse(rows: np.ndarray, names: list[str]) -> pd.DataFrame:
        parsed = profile_from_matrix(rows, source.genes, names, source.values, genes, mapping=mapping)
        warnings.extend(parsed.warnings)
        return parsed.expression

    try:
        return parse(matrix, samples), {}
    except ProfileError:
        pass
    good, failed = [], {}
    for i, sample in enumerate(samples):
        try:
            good.append(parse(matrix[i : i + 1], [sample]))
        except ProfileError as exc:
            failed[sample] = str(exc)
    return (pd.concat(good) if good else None), failed


def _prepare(
    neurix, expression: pd.DataFrame | None, value_scale: str
) -> tuple[ModelInput | None, dict[str, str]]:
    """The coverage rule of ``predict`` on the whole partition, then per sample when it refuses one.

    ``value_scale`` is the parser's scale (decided once per cohort), as ``neurix predict`` passes a parsed file's:
    the same platform and scaling choice, without re-deriving the scale from the values of every partition.
    """
    if expression is None or expression.empty:
        return None, {}

    def prepare(frame: pd.DataFrame) -> ModelInput:
        return prepare_input(neurix.bundle, frame, neurix.min_coverage, value_scale=value_scale)

    try:
        return prepare(expression), {}
    except ProfileError:
        pass
    # the rule refused some samples: name each with the sentence ``predict`` gives it alone, keep the others
    # together (the scaling choice depends on how many samples are scaled at once, as in ``predict``)
    genes = neurix.bundle.genes
    coverage = np.isfinite(align_to_genes(expression, genes)).mean(axis=1)
    low = coverage < neurix.min_coverage
    failed = {
        str(sample): coverage_refusal([(str(sample), float(fraction))], len(genes), neurix.min_coverage)
        for sample, fraction in zip(expression.index[low], coverage[low], strict=True)
    }
    if low.all():
        return None, failed
    return prepare(expression.loc[~low]), failed


def _metadata(task: PartitionTask) -> pd.DataFrame:
    """The partition's rows of the sample annotations, read once per process (not once per partition: reading a
    50k-sample ``obs`` for each of 200 partitions grew with the square of the cohort)."""
    source = task.source
    try:
        key = (str(source.path), source.fingerprint())
    except OSError:  # ``metadata`` raises the readable error
        key = (str(source.path), "")
    return _cached(_METADATA, key, source.metadata).iloc[task.start : task.stop]


def _quality(
    neurix,
    task: PartitionTask,
    samples: list[str],
    expression: pd.DataFrame | None,
    model_input: ModelInput | None,
    predictions: PredictionBlock | None,
    failed: dict[str, str],
    metadata: pd.DataFrame,
) -> pd.DataFrame:
    """One row per input sample: status and reason, model-gene coverage, imputed genes, domain flag, metadata."""
    n_genes = len(neurix.bundle.genes)
    coverage = pd.Series(np.nan, index=pd.Index(samples), dtype=np.float64)
    if model_input is not None:
        coverage.loc[model_input.samples] = model_input.coverage
    if expression is not None and not expression.empty:  # refused samples: coverage computed the same way
        refused = [s for s in expression.index if str(s) in failed]
        if refused:
            aligned = align_to_genes(expression.loc[refused], neurix.bundle.genes)
            coverage.loc[[str(s) for s in refused]] = np.isfinite(aligned).mean(axis=1)
    frame = pd.DataFrame(
        {
            "sample": samples,
            "partition": task.index,
            "status": [FAILED if s in failed else OK for s in samples],
            "reason": [failed.get(s, "") for s in samples],
            "coverage": coverage.to_numpy(),
        }
    )
    frame["model_genes_measured"] = np.round(frame["coverage"] * n_genes).astype("Int64")
    frame["model_genes_imputed"] = (n_genes - frame["model_genes_measured"]).astype("Int64")
    if expression is not None and not expression.empty:
        frame = _join_quality(neurix, frame, expression)
    if predictions is not None:
        per_sample = [c for c in ("in_domain", "domain_distance") if c in predictions.columns]
        if per_sample:
            first = pd.DataFrame(
                {c: predictions.per_sample(c) for c in per_sample},
                index=pd.Index(predictions.samples, dtype="str", name="sample"),
            )
            frame = frame.join(first, on="sample")
    if not metadata.empty and len(metadata.columns):
        meta = metadata.reset_index(drop=True)
        meta.columns = [f"obs_{c}" if c in frame.columns else str(c) for c in meta.columns]
        frame = pd.concat([frame, meta], axis=1)
    return frame


def _join_quality(neurix, frame: pd.DataFrame, expression: pd.DataFrame) -> pd.DataFrame:
    """Add the data-quality figures of ``neurix predict`` (genes absent, values missing, imputed, status), from the
    coverage already computed (the profile is not aligned to the model's genes a second time)."""
    from neurix_core.quality import assess_quality

    measured = frame.set_index("sample")["model_genes_measured"].reindex(expression.index.astype(str))
    if measured.isna().any():  # a parsed sample without a coverage figure: let the quality rules align it
        measured = None
    table = assess_quality(
        expression,
        neurix.bundle.genes,
        neurix.min_coverage,
        genes_measured=None if measured is None else measured.to_numpy(dtype=np.int64),
    ).table()
    table = table.rename(
        columns={c: f"quality_{c}" for c in table.columns if c in frame.columns and c != "sample"}
    )
    return frame.merge(table.astype({"sample": str}), on="sample", how="left")


def _drug_partials(
    predictions: PredictionBlock, drugs: pd.DataFrame, quality: pd.DataFrame, group_by: str | None
) -> pd.DataFrame:
    """Mergeable per-drug sums (n, Σz, Σz², n sensitive, min) for the whole cohort and per group.

    Keyed by ``compound_id`` at compound level, by the screen entry's ``drug_key`` at screen level. Integer codes
    and bincounts over the block's index arrays (~540k rows per 1,000 samples); drugs and groups numbered in order
    of first appearance, as a groupby of the rows would.
    """
    key = drug_column(predictions)
    row_codes = _first_appearance(pd.factorize(drugs[key], use_na_sentinel=False)[0][predictions.drug_row])
    drug_codes, first_rows = row_codes
    n_drugs = len(first_rows)
    z = np.asarray(predictions.values["z_log_auc"], dtype=np.float64)
    sample_index = predictions.sample_index
    group_codes = np.zeros(len(z), dtype=np.int64)
    group_names = ["all"]
    if group_by:
        labels = pd.Series(predictions.samples).map(quality.set_index("sample")[group_by].astype(str))
        codes, names = pd.factorize(labels.fillna("NA"))
        group_codes = np.concatenate([group_codes, codes[sample_index] + 1])
        group_names += [str(n) for n in names]
        drug_codes, z, sample_index = np.tile(drug_codes, 2), np.tile(z, 2), np.tile(sample_index, 2)
    cell = group_codes * n_drugs + drug_codes
    size = len(group_names) * n_drugs
    n = np.bincount(cell, minlength=size)
    first = _first_minimum(cell, z, size)
    present = np.flatnonzero(n)
    keys = drugs[key].to_numpy(dtype=object)[predictions.drug_row[first_rows]]
    names = {
        column: _first_present(drug_codes[: len(predictions)], n_drugs, by_row, predictions.drug_row)
        for column, by_row in (
            ("drug_name", predictions.drug_name if predictions.drug_name is not None else drugs["drug_name"]),
            ("drug_class", drugs["drug_class"]),
        )
    }
    return pd.DataFrame(
        {
            "group": np.asarray(group_names, dtype=object)[present // n_drugs],
            "drug": keys[present % n_drugs],
            "n": n[present],
            "sum_z": np.bincount(cell, weights=z, minlength=size)[present],
            "sum_z2": np.bincount(cell, weights=z * z, minlength=size)[present],
            "n_sensitive": np.bincount(cell, weights=(z <= SENSITIVE_Z), minlength=size)[present].astype(
                np.int64
            ),
            "drug_name": names["drug_name"][present % n_drugs],
            "drug_class": names["drug_class"][present % n_drugs],
            "min_z": z[first[present]],
            "min_sample": np.asarray(predictions.samples, dtype=object)[sample_index[first[present]]],
            "key": key,
        }
    )


def _first_minimum(cell: np.ndarray, z: np.ndarray, size: int) -> np.ndarray:
    """Per cell, the first row holding its smallest z (NaN only: its first row); -1 for an empty cell.

    The stable sort by (cell, z) it replaces took most of the partials' time; two unbuffered ufunc passes do not.
    """
    rows = np.arange(len(cell))
    smallest = np.full(size, np.inf)
    np.fmin.at(smallest, cell, z)  # fmin: NaN never wins
    first = np.full(size, len(cell))
    at_minimum = z == smallest[cell]
    np.minimum.at(first, cell[at_minimum], rows[at_minimum])
    unset = np.full(size, len(cell))  # cells whose z are all NaN (or +inf): their first row, as the sort gave
    np.minimum.at(unset, cell, rows)
    first = np.where(first == len(cell), unset, first)
    return np.where(first == len(cell), -1, first)


def _first_appearance(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber small non-negative codes in order of first appearance; also each new code's first row."""
    first = np.full(int(codes.max()) + 1 if len(codes) else 0, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    seen = np.flatnonzero(first < len(codes))
    by_appearance = seen[np.argsort(first[seen], kind="stable")]
    renumber = np.full(len(first), -1, dtype=np.int64)
    renumber[by_appearance] = np.arange(len(by_appearance))
    return renumber[codes], first[by_appearance]


def _first_present(codes: np.ndarray, n_codes: int, by_drug_row, drug_row: np.ndarray) -> np.ndarray:
    """Per code, the value (a per-drug-row annotation) of its first row where it is not missing (groupby.first)."""
    values = np.asarray(by_drug_row, dtype=object)
    known_rows = ~pd.isna(values)[drug_row]
    first = np.full(n_codes, len(codes))
    np.minimum.at(first, codes[known_rows], np.flatnonzero(known_rows))
    out = np.full(n_codes, None, dtype=object)
    found = first < len(codes)
    out[found] = values[drug_row[first[found]]]
    return out


def drug_column(predictions: PredictionBlock) -> str:
    """The column naming one output entry: the compound at compound level, the screen entry at screen level
    (keying screen-level summaries by compound would pool a compound's GDSC1 and GDSC2 entries)."""
    return "compound_id" if predictions.level == "compound" else "drug_key"


def explained_rows(predictions: PredictionBlock) -> np.ndarray | None:
    """Per sample, the screen entries its prediction rows show (profiles × compounds, in drug-table order) at
    compound level; ``None`` (every entry) at screen level."""
    if predictions.level == "screen":
        return None
    n_samples = len(predictions.samples)
    return np.sort(predictions.drug_row.reshape(n_samples, -1), axis=1)


def _top_genes(neurix, model_input: ModelInput, top: int, predictions: PredictionBlock):
    """The top-K genes table (Arrow, dictionary-encoded) and the per-(drug, gene) counts for the summary.

    One block of K genes per prediction row: at compound level the entry the row shows for that sample (the
    consensus choice), at screen level every entry.
    """
    import pyarrow as pa

    from neurix_core.explain.topk import top_gene_relevances

    result = top_gene_relevances(neurix.explainer, model_input.scaled, top, explained_rows(predictions))
    n_profiles, n_drugs, keep = result.gene_index.shape
    gene_index = result.gene_index.reshape(-1)
    relevance = result.relevance.reshape(-1)
    profile_index = np.repeat(np.arange(n_profiles, dtype=np.int32), n_drugs * keep)
    drug_index = np.repeat(result.drug_index.reshape(-1).astype(np.int32), keep)
    drugs = neurix.bundle.drugs
    genes = pa.array([str(g) for g in neurix.bundle.genes])
    by_drug = {"drug_key": dictionary_array(drug_index, drugs["drug_key"].astype(str).to_numpy(dtype=object))}
    if predictions.level != "screen" and "compound_id" in drugs.columns:
        by_drug = {
            "compound_id": dictionary_array(drug_index, drugs["compound_id"].to_numpy(dtype=object)),
            **by_drug,
        }
    table = pa.table(
        {
            "sample": pa.DictionaryArray.from_arrays(profile_index, pa.array(model_input.samples)),
            **by_drug,
            "rank": np.tile(np.arange(1, keep + 1, dtype=np.int16), n_profiles * n_drugs),
            "gene": pa.DictionaryArray.from_arrays(gene_index, genes),
            "relevance": relevance,
            "direction": pa.DictionaryArray.from_arrays(
                (relevance > 0).astype(np.int8), pa.array(["sensitising", "resistance"])
            ),
            "expression_z": model_input.zscored[profile_index, gene_index].astype(np.float32),
            "is_target": _target_matrix(neurix)[drug_index, gene_index],
        }
    )
    key = drug_index.astype(np.int64) * len(neurix.bundle.genes) + gene_index
    size = len(neurix.bundle.drugs) * len(neurix.bundle.genes)
    counts = np.bincount(key, minlength=size)
    sums = np.bincount(key, weights=relevance.astype(np.float64), minlength=size)
    present = np.flatnonzero(counts)
    partials = pa.table(
        {
            "drug_index": (present // len(neurix.bundle.genes)).astype(np.int32),
            "gene_index": (present % len(neurix.bundle.genes)).astype(np.int32),
            "n": counts[present].astype(np.int64),
            "sum_relevance": sums[present],
        }
    )
    return table, partials


# --- atomic writes ----------------------------------------------------------------------------------------------


def _arrow(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def _write_parquet(table, path: Path) -> None:
    import pyarrow.parquet as pq

    write_atomically(path, lambda tmp: pq.write_table(table, tmp))


def _write_text(text: str, path: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    write_atomically(path, write)
