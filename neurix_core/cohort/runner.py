"""Run a cohort through Dask: partitions of samples as tasks, on a local cluster or any running Dask cluster.

The driver only opens the input, decides the value scale once, lists the partitions that have no completion marker
and submits them; workers read, predict and write their own partitions (``partition.run_partition``), so the driver's
memory does not grow with the cohort. ``scheduler``:

* ``None``: a local cluster, one worker in this process with a thread per core (started and stopped here);
* ``"tcp://host:8786"``: an existing cluster (SLURM via dask-jobqueue, Kubernetes, ``dask scheduler`` +
  ``dask worker``): the same tasks, the output directory must be on a filesystem every worker sees;
* ``"inline"``: no Dask, partitions on a thread per core of this process (no scheduler at all: debugging, the
  benchmark's baseline).

A lost worker's tasks are rescheduled by Dask; a run that stops is resumed by running it again with the same
``out``: completed partitions are skipped, and a directory written with other settings is refused.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.cohort.partition import (
    GENES,
    PREDICTIONS,
    QUALITY,
    STATE,
    PartitionTask,
    _write_text,
    cached_neurix,
    read_marker,
    run_partition,
)
from neurix_core.cohort.sources import CohortSource, open_source
from neurix_core.errors import NeurixError, ProfileError
from neurix_core.io.atomic import write_atomically
from neurix_core.io.profile import profile_from_matrix
from neurix_core.predict import MIN_GENE_COVERAGE
from neurix_core.threads import math_threads

RUN_FILE = "cohort.json"
RUN_FORMAT = 2  # 2: top genes per prediction row (the compound's chosen entry at compound level)
SUMMARY = "summary"
# The local cluster shares this process (and its GIL) with the partitions. Dask's statistical profiler wakes every
# 10 ms in the scheduler and the worker to sample stacks, and its monitors and tick every 20-500 ms; each wake-up
# takes the GIL from a partition's Python steps. Nobody reads these here (no dashboard), so the profiler is off and
# the monitors run once a second: measured 5-20 % more samples/s on 2 cores (10,000 samples, alternating runs).
# A cluster given with --scheduler keeps its own settings.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "1s",
}
TOP_GENES_PER_DRUG = 50  # genes kept per drug in the cohort gene summary


@dataclass
class CohortResult:
    """What a run did: counts, time, the value scale used and the warnings met on the way."""

    out: Path
    n_samples: int
    n_predicted: int
    n_failed: int
    n_partitions: int
    n_skipped: int
    seconds: float
    value_scale: str
    processing_seconds: float = 0.0  # partitions only: without start-up (imports, bundle, opening the input)
    warnings: list[str] = field(default_factory=list)
    h5ad: Path | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["out"], data["h5ad"] = str(self.out), (str(self.h5ad) if self.h5ad else None)
        return data


def run_cohort(
    source: str | Path,
    out: str | Path,
    *,
    bundle_dir: str | Path | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    explain_top: int = 0,
    level: str | None = None,
    values: str = "auto",
    layer: str | None = None,
    partition_size: int | None = None,
    group_by: str | None = None,
    min_coverage: float = MIN_GENE_COVERAGE,
    progress: bool | Callable[[int, int], None] = True,
) -> CohortResult:
    """Predict (and optionally explain) every sample of a cohort file into partitioned Parquet under ``out``.

    ``out`` ending in ``.h5ad`` writes an AnnData instead (for cohorts that fit in memory); the partitioned run
    is kept beside it in ``<out>.parts`` so that it can resume.
    """
    from neurix_core.api import Neurix

    began = time.perf_counter()
    out = Path(out)
    h5ad = out if out.suffix.lower() == ".h5ad" else None
    run_dir = Path(f"{out}.parts") if h5ad else out
    if run_dir.exists() and not run_dir.is_dir():
        raise NeurixError(f"{run_dir} exists and is not a directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    neurix = cached_neurix(bundle_dir)
    if level is not None and "level" not in inspect.signature(Neurix.predict).parameters:
        raise NeurixError(
            "--level needs compound-level predictions, which this version of Neurix does not have"
        )
    bundle_path = str(neurix.bundle.path) if neurix.bundle.path else None
    cohort = open_source(source, run_dir, neurix.bundle.genes, layer=layer, values=values)
    samples = cohort.sample_ids()
    _check_unique(samples)
    size = cohort.partition_size(partition_size, explain=explain_top > 0)
    if cohort.values == "auto":
        cohort.values = _detect_scale(cohort, neurix, size)
    if group_by is not None and group_by not in cohort.metadata().columns:
        raise NeurixError(
            f"--group-by {group_by!r} is not a sample annotation; available: "
            + ", ".join(map(str, list(cohort.metadata().columns)[:10]))
        )
    config = {
        "format": RUN_FORMAT,
        "input": str(Path(source).resolve()),
        "input_fingerprint": cohort.fingerprint(),
        "n_samples": len(samples),
        "bundle": neurix.bundle.version,
        "bundle_manifest_sha256": _manifest_digest(neurix),
        "value_scale": cohort.values,
        "layer": layer,
        "partition_size": size,
        "explain_top": int(explain_top),
        "group_by": group_by,
        "level": level,
        "min_coverage": float(min_coverage),
    }
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    _claim(run_dir, config, config_hash)

    tasks = [
        PartitionTask(
            index=i,
            start=start,
            stop=min(start + size, len(samples)),
            source=cohort,
            out=str(run_dir),
            bundle_dir=bundle_path,
            config_hash=config_hash,
            explain_top=int(explain_top),
            min_coverage=float(min_coverage),
            group_by=group_by,
            level=level,
        )
        for i, start in enumerate(range(0, len(samples), size))
    ]
    markers = {t.name: read_marker(run_dir, t.name, config_hash) for t in tasks}
    pending = [t for t in tasks if markers[t.name] is None]
    report = _progress(progress, len(tasks), len(tasks) - len(pending))
    processing_began = time.perf_counter()
    errors = _execute(pending, scheduler, n_workers, markers, report)
    processing = time.perf_counter() - processing_began
    if errors:
        first = next(iter(errors.items()))
        raise NeurixError(
            f"{len(errors)} of {len(tasks)} partition(s) failed ({first[0]}: {first[1]}); the others are saved: "
            "run the same command again to retry only those"
        )
    done = [markers[t.name] for t in tasks]
    _summarise(run_dir, neurix, len(tasks), group_by)
    warnings = sorted({w for m in done for w in m.get("warnings", [])} | set(cohort.warnings))
    result = CohortResult(
        out=run_dir,
        n_samples=len(samples),
        n_predicted=sum(m["n_predicted"] for m in done),
        n_failed=sum(m["n_failed"] for m in done),
        n_partitions=len(tasks),
        n_skipped=len(tasks) - len(pending),
        seconds=time.perf_counter() - began,
        value_scale=cohort.values,
        processing_seconds=processing,
        warnings=warnings,
    )
    state = {**config, "config_hash": config_hash, "status": "complete", "result": result.to_dict()}
    _write_text(json.dumps(state, indent=1), run_dir / RUN_FILE)
    if h5ad is not None:
        from neurix_core.cohort.anndata_io import read_cohort_anndata

        adata = read_cohort_anndata(run_dir)
        write_atomically(h5ad, adata.write_h5ad)
        result.h5ad = h5ad
    return result


def _check_unique(samples: list[str]) -> None:
    if not samples:
        raise ProfileError("the cohort has no samples")
    seen: set[str] = set()
    for sample in samples:
        if sample in seen:
            raise ProfileError(
                f"sample id {sample!r} occurs more than once; make sample ids unique (in AnnData: "
                "adata.obs_names_make_unique())"
            )
        seen.add(sample)


def _detect_scale(cohort: CohortSource, neurix, size: int) -> str:
    """Value scale of the whole cohort, decided once on its first partition with the upload parser's rules."""
    matrix, names = cohort.read(0, min(size, cohort.n_samples))
    try:
        return profile_from_matrix(matrix, cohort.genes, names, "auto", neurix.bundle.genes).value_scale
    except ProfileError:
        for i in range(min(len(names), 50)):  # a bad first sample must not decide for the cohort
            try:
                return profile_from_matrix(
                    matrix[i : i + 1], cohort.genes, names[i : i + 1], "auto", neurix.bundle.genes
                ).value_scale
            except ProfileError:
                continue
        raise


def _manifest_digest(neurix) -> str:
    return hashlib.sha256(json.dumps(neurix.bundle.manifest, sort_keys=True).encode()).hexdigest()[:16]


def _claim(run_dir: Path, config: dict, config_hash: str) -> None:
    """Refuse to mix runs: an output directory holds one cohort with one set of settings."""
    path = run_dir / RUN_FILE
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except ValueError:
            previous = {}
        if previous.get("config_hash") not in (None, config_hash):
            changed = [k for k in config if previous.get(k) != config[k]]
            raise NeurixError(
                f"{run_dir} holds a cohort run with other settings ({', '.join(changed) or 'format'} differ): "
                "choose another --out, or delete it to start again"
            )
    elif any(run_dir.iterdir()) and not (run_dir / "_input").exists():
        raise NeurixError(f"{run_dir} is not empty and holds no cohort run: choose an empty or new directory")
    _write_text(json.dumps({**config, "config_hash": config_hash, "status": "running"}, indent=1), path)


def _progress(progress, total: int, initial: int) -> Callable[[dict], None]:
    if callable(progress):
        state = {"done": initial}

        def report(marker: dict) -> None:
            state["done"] += 1
            progress(state["done"], total)

        return report
    if not progress:
        return lambda marker: None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, desc="cohort", unit="partition", file=sys.stderr)

    def update(marker: dict) -> None:
        bar.update(1)
        bar.set_postfix(failed=marker.get("n_failed", 0), refresh=False)
        if bar.n >= total:
            bar.close()

    return update


def _execute(
    tasks: list[PartitionTask],
    scheduler: str | None,
    n_workers: int | None,
    markers: dict[str, dict | None],
    report: Callable[[dict], None],
) -> dict[str, str]:
    """Run the tasks; return {partition: error} for those that failed (the rest are written and marked)."""
    errors: dict[str, str] = {}
    if not tasks:
        return errors
    if scheduler == "inline":
        return _execute_in_process(tasks, n_workers or os.cpu_count() or 1, markers, report)
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is None:
            # one worker in this process, a thread per core: the heavy steps release the GIL, the bundle is
            # loaded once (not once per worker process) and tasks need no pickling (measured on 2 cores, 50k
            # samples: 668 against 611 samples/s for two single-threaded worker processes)
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                cluster = LocalCluster(
                    n_workers=1,
                    threads_per_worker=n_workers or os.cpu_count() or 1,
                    processes=False,
                    dashboard_address=None,
                )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise NeurixError(f"could not reach the Dask scheduler {scheduler}: {exc}") from exc
    try:
        run_id = tasks[0].config_hash
        # the local cluster's worker threads share this process's torch: one product thread per partition
        with math_threads(1 if cluster is not None else None):
            futures = {
                client.submit(
                    run_partition, task, key=f"neurix-cohort-{run_id}-{task.name}", pure=False
                ): task
                for task in tasks
            }
            for future in as_completed(futures):
                task = futures[future]
                try:
                    markers[task.name] = future.result()
                    report(markers[task.name])
                except Exception as exc:  # noqa: BLE001 - a partition's failure is reported, the others go on
                    errors[task.name] = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return errors


def _execute_in_process(
    tasks: list[PartitionTask], threads: int, markers: dict[str, dict | None], report: Callable[[dict], None]
) -> dict[str, str]:
    """No Dask: the partitions on ``threads`` threads of this process, torch single-threaded inside each.

    Why threads: the heavy steps (HDF5 reads, numpy, the torch products, Parquet writing) release the GIL, so two
    partitions at once keep both cores busy through the single-threaded steps between them, with one bundle in
    memory (measured: 1.3-1.4× the samples/s of one partition at a time with 2-thread torch).
    """
    errors: dict[str, str] = {}
    threads = max(1, min(threads, len(tasks)))
    pool = ThreadPoolExecutor(threads, thread_name_prefix="neurix-partition")
    try:
        with math_threads(1 if threads > 1 else None):
            futures = {pool.submit(run_partition, task): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    markers[task.name] = future.result()
                    report(markers[task.name])
                except NeurixError as exc:
                    errors[task.name] = str(exc)
    finally:  # Ctrl-C or an unexpected error: the partitions not started are dropped (a rerun resumes them)
        pool.shutdown(wait=True, cancel_futures=True)
    return errors


# --- cohort summaries -------------------------------------------------------------------------------------------


def _read_partials(paths: list[Path]) -> pd.DataFrame:
    """All partitions' partial tables, in partition order, in one multi-threaded Arrow read (4× faster than a
    DataFrame per file for 100 partitions); file by file where their schemas differ (an all-empty text column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table([str(p) for p in paths]).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


def _summarise(run_dir: Path, neurix, n_partitions: int, group_by: str | None) -> None:
    """Merge the partitions' partial sums into per-drug (and per-group) summaries and per-drug top genes."""
    state = run_dir / STATE
    summary = run_dir / SUMMARY
    summary.mkdir(exist_ok=True)
    drug_parts = sorted(state.glob("part-*.drugs.parquet"))
    drugs = neurix.bundle.drugs
    if drug_parts:
        partial = _read_partials(drug_parts)
        key = str(partial["key"].iloc[0])
        keys = ["group", "drug"]
        sums = partial.groupby(keys, sort=False).agg(
            n=("n", "sum"),
            sum_z=("sum_z", "sum"),
            sum_z2=("sum_z2", "sum"),
            n_sensitive=("n_sensitive", "sum"),
            drug_name=("drug_name", "first"),
            drug_class=("drug_class", "first"),
        )
        best = partial.loc[
            partial.groupby(keys, sort=False)["min_z"].idxmin(), [*keys, "min_z", "min_sample"]
        ]
        merged = sums.join(best.set_index(keys)).reset_index()
        mean = merged["sum_z"] / merged["n"]
        merged["mean_z"] = mean
        merged["sd_z"] = np.sqrt(np.maximum(merged["sum_z2"] / merged["n"] - mean**2, 0.0))
        merged["fraction_sensitive"] = merged["n_sensitive"] / merged["n"]
        merged = merged.rename(columns={"n": "n_samples", "min_sample": "most_sensitive_sample", "drug": key})
        columns = [
            key, "drug_name", "drug_class", "n_samples", "mean_z", "sd_z",
            "n_sensitive", "fraction_sensitive", "min_z", "most_sensitive_sample",
        ]  # fmt: skip
        overall = merged[merged["group"] == "all"].sort_values("mean_z")
        overall[columns].to_parquet(summary / "drugs.parquet", index=False)
        if group_by:
            groups = merged[merged["group"] != "all"].rename(columns={"group": group_by})
            groups.sort_values([group_by, "mean_z"])[[group_by, *columns]].to_parquet(
                summary / "drugs_by_group.parquet", index=False
            )
    gene_parts = sorted(state.glob("part-*.genes.parquet"))
    if gene_parts:
        # keyed like the predictions: by compound at compound level (each sample explains the entry its row
        # shows, so a compound's entries add up), by screen entry at screen level
        if drug_parts and key == "compound_id":
            owner, labels = pd.factorize(drugs["compound_id"], use_na_sentinel=False)
            shown = merged[merged["group"] == "all"].set_index(key)["drug_name"]  # the names predictions show
            names = shown.reindex(labels)
        else:
            key, owner = "drug_key", np.arange(len(drugs))
            labels, names = drugs["drug_key"], drugs["drug_name"]
        labels, names = np.asarray(labels, dtype=object), np.asarray(names, dtype=object)
        n_drugs, n_genes = len(labels), len(neurix.bundle.genes)
        counts = np.zeros(n_drugs * n_genes, dtype=np.int64)
        sums = np.zeros(n_drugs * n_genes, dtype=np.float64)
        for path in gene_parts:  # dense drugs × genes accumulators: memory independent of the cohort size
            part = pd.read_parquet(path)
            drug = owner[part["drug_index"].to_numpy(np.int64)].astype(np.int64)
            cell = drug * n_genes + part["gene_index"].to_numpy(np.int64)
            np.add.at(counts, cell, part["n"].to_numpy())
            np.add.at(sums, cell, part["sum_relevance"].to_numpy())
        counts, sums = counts.reshape(n_drugs, n_genes), sums.reshape(n_drugs, n_genes)
        keep = min(TOP_GENES_PER_DRUG, n_genes)
        top = np.argsort(-counts, axis=1, kind="stable")[:, :keep]
        rows = np.repeat(np.arange(n_drugs), keep)
        cols = top.reshape(-1)
        n = counts[rows, cols]
        n_samples = max(1, sum(json.loads((state / f"{p.name.split('.')[0]}.json").read_text())["n_predicted"]
                               for p in gene_parts))  # fmt: skip
        frame = pd.DataFrame(
            {
                key: labels[rows],
                "drug_name": names[rows],
                "gene": np.asarray(neurix.bundle.genes, dtype=object)[cols],
                "n_samples_in_top": n,
                "fraction_in_top": n / n_samples,
                "mean_relevance_when_top": np.where(n > 0, sums[rows, cols] / np.maximum(n, 1), np.nan),
            }
        )
        frame = frame[frame["n_samples_in_top"] > 0]
        frame["direction"] = np.where(frame["mean_relevance_when_top"] > 0, "resistance", "sensitising")
        frame.to_parquet(summary / "genes.parquet", index=False)


def clean_run(run_dir: str | Path) -> None:
    """Delete a cohort run directory (only one that holds a cohort run)."""
    run_dir = Path(run_dir)
    if (run_dir / RUN_FILE).exists():
        shutil.rmtree(run_dir)


__all__ = ["CohortResult", "run_cohort", "clean_run", "PREDICTIONS", "GENES", "QUALITY", "SUMMARY"]
