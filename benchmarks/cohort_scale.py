"""Cohort throughput and memory: `neurix cohort` on 1k / 10k / 50k synthetic tumours, in one process and on Dask.

Synthetic cohorts are real GDSC cell-line profiles (../shared/data/expression, within-line z-scores over the model's
5,778 genes) drawn with replacement plus Gaussian noise (sd 0.3), with the line's lineage as ``obs['tumour_type']``,
written as dense .h5ad (X filled in chunks, so building a 50k cohort needs no 1 GB array).

Configurations: ``inline`` (one process, no Dask: partitions on a thread per core), ``local`` (the default, no
``--scheduler``: a Dask LocalCluster with one in-process worker, a thread per core), ``workers1`` and ``workers2`` (a
``dask scheduler`` and 1 or 2 ``dask worker`` processes, one thread each, loopback only, started here as separate
processes; the driver is ``neurix cohort --scheduler tcp://...``). Each run is its own process tree; peak memory is
the largest RSS summed over driver, workers and scheduler, sampled every 0.1 s (psutil), and the largest single
worker. Each figure is printed with /proc/loadavg read before and after it: on a shared machine, the load says how
much of the 2 cores the run really had.

Every figure also comes as CPU seconds per 1,000 samples, per stage of a partition (read, parse, prepare,
predict, quality, writing, top genes; summed from the partitions' completion markers: the partition thread's CPU
time where torch runs single-threaded, else the process's) and for the whole run (all processes, psutil): the
load-independent cost from which the README projects a cluster's time. The targets are printed next to the figures.

    nice -n 10 python benchmarks/cohort_scale.py   # final run: 1k, 10k (all configs), 50k (inline, local), ~15 min idle
    python benchmarks/cohort_scale.py --sizes 1000 --configs inline --explain-samples 50  # quick check

Results: benchmarks/results/cohort_scale.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data"
BIN = Path(sys.executable).parent


TARGET_PREDICT = 1000.0  # samples/s, predictions for all compounds written to Parquet (2 cores)
TARGET_EXPLAIN = 20.0  # samples/s, predictions + top-20 genes
TARGET_MEMORY = 0.10  # peak memory at 50k within 10% of 1k


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def make_cohort(n: int, path: Path, seed: int = 0, noise: float = 0.3) -> Path:
    """n synthetic tumours from the real GDSC lines (+ noise) as a dense .h5ad, written chunk by chunk."""
    import anndata
    import h5py

    if path.exists():
        return path
    expression = pd.read_parquet(DATA / "expression" / "gdsc_microarray_rowz.parquet")
    mapping = pd.read_csv(DATA / "gdsc" / "cell_line_mapping.csv")
    lineage = mapping.drop_duplicates("DepMap_ModelID").set_index("DepMap_ModelID")["DepMap_OncotreeLineage"]
    rng = np.random.default_rng(seed)
    lines = rng.integers(0, len(expression), n)
    obs = pd.DataFrame(
        {
            "source_line": pd.Categorical(expression.index.to_numpy()[lines].astype(str)),
            "tumour_type": pd.Categorical(
                lineage.reindex(expression.index[lines]).fillna("Unknown").to_numpy().astype(str)
            ),
        },
        index=pd.Index([f"TUM{i:06d}" for i in range(n)], dtype=object),
    )
    var = pd.DataFrame(index=pd.Index([str(g) for g in expression.columns], dtype=object))
    tmp = path.with_suffix(".tmp")
    anndata.AnnData(obs=obs, var=var).write_h5ad(tmp)
    values = expression.to_numpy(np.float32)
    with h5py.File(tmp, "a") as handle:
        if "X" in handle:
            del handle["X"]
        X = handle.create_dataset(
            "X", shape=(n, values.shape[1]), dtype=np.float32, chunks=(min(256, n), values.shape[1])
        )
        X.attrs["encoding-type"], X.attrs["encoding-version"] = "array", "0.2.0"
        for start in range(0, n, 2048):
            stop = min(n, start + 2048)
            block = values[lines[start:stop]] + rng.normal(0, noise, (stop - start, values.shape[1]))
            X[start:stop] = block.astype(np.float32)
    tmp.rename(path)
    return path


class PeakMemory:
    """Samples the summed RSS of a set of process trees every 0.1 s; keeps the peak total and peak single process."""

    def __init__(self, pids: list[int], workers: list[int] | None = None) -> None:
        self.pids, self.workers = list(pids), list(workers or [])
        self.total = 0
        self.worker = 0
        self.cpu: dict[int, float] = {}  # CPU seconds (user + system) per process tree, last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self, pid: int) -> int:
        import psutil

        try:
            process = psutil.Process(pid)
            return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
        except psutil.Error:
            return 0

    def _cpu(self, pid: int) -> float:
        import psutil

        try:
            process = psutil.Process(pid)
            return sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])
        except psutil.Error:
            return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), self._cpu(pid))
            self.total = max(self.total, sum(self._rss(p) for p in self.pids))
            if self.workers:
                self.worker = max(self.worker, max(self._rss(p) for p in self.workers))
            time.sleep(0.1)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def stage_cpu(out: Path) -> dict[str, float]:
    """CPU seconds per partition stage, summed over the run's completion markers (written by the workers)."""
    total: dict[str, float] = {}
    for marker in (out / "_partitions").glob("part-*.json"):
        for stage, seconds in json.loads(marker.read_text()).get("cpu_seconds", {}).items():
            total[stage] = total.get(stage, 0.0) + seconds
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_once(source: Path, out: Path, config: str, explain_top: int, log: Path) -> dict:
    """One `neurix cohort` run in its own process tree; returns seconds, peak memory and the run's counts."""
    shutil.rmtree(out, ignore_errors=True)
    # the previous run's gigabytes of Parquet written back to disk first, so their write-back does not slow this
    # run (the default configuration's 50k run took 54.7 s right after the one-process run, 46.3 s on its own)
    os.sync()
    time.sleep(2)
    in_process = config in ("inline", "local")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2" if in_process else "1"}
    command = [sys.executable, "-m", "neurix_core.cli", "cohort", "--input", str(source), "--out", str(out)]
    if explain_top:
        command += ["--explain-top", str(explain_top)]
    cluster: list[subprocess.Popen] = []
    try:
        if config == "inline":
            command += ["--scheduler", "inline"]
        elif config == "local":
            pass  # the default: a local Dask cluster (one in-process worker, a thread per core)
        else:
            n_workers = int(config.removeprefix("workers"))
            address = f"tcp://127.0.0.1:{_free_port()}"
            port = address.rsplit(":", 1)[1]
            handle = log.open("ab")
            cluster.append(
                subprocess.Popen(
                    [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
            worker = [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny"]
            worker += ["--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0"]
            cluster += [
                subprocess.Popen(worker, env=env, stdout=handle, stderr=subprocess.STDOUT)
                for _ in range(n_workers)
            ]
            from distributed import Client

            with Client(address, timeout="60s") as client:
                client.wait_for_workers(n_workers, timeout=180)
            command += ["--scheduler", address]
        load_before = loadavg()
        began = time.perf_counter()
        with log.open("ab") as handle:
            driver = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
            with PeakMemory([driver.pid, *[p.pid for p in cluster]], [p.pid for p in cluster[1:]]) as peak:
                code = driver.wait()
        seconds = time.perf_counter() - began
        if code != 0:
            raise RuntimeError(f"neurix cohort failed ({code}); see {log}")
        state = json.loads((out / "cohort.json").read_text())["result"]
        stages = stage_cpu(out)
        return {
            "stage_cpu_s_per_1000": {k: 1000 * v / max(state["n_predicted"], 1) for k, v in stages.items()},
            "seconds": seconds,
            "processing_seconds": state["processing_seconds"],
            "peak_rss_mib": peak.total / 2**20,
            "cpu_seconds": sum(peak.cpu.values()),  # load-independent cost (sampled every 0.1 s)
            "peak_worker_rss_mib": (peak.worker / 2**20) if cluster else None,
            "n_predicted": state["n_predicted"],
            "n_partitions": state["n_partitions"],
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        }
    finally:
        for process in reversed(cluster):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--configs", default="inline,local,workers1,workers2")
    parser.add_argument(
        "--configs-50k",
        default="inline,local",
        help="configs for cohorts over 10,000 samples (each ~1.5 min on an idle machine)",
    )
    parser.add_argument(
        "--explain-samples", type=int, default=1000, help="cohort size for the top-20-genes runs"
    )
    parser.add_argument("--explain-top", type=int, default=20)
    parser.add_argument(
        "--keep-previous", action="store_true", help="keep rows of earlier runs in the results"
    )
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/neurix_cohort_bench"))
    parser.add_argument("--out", type=Path, default=RESULTS / "cohort_scale")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    log = args.work_dir / "runs.log"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    configs = [c for c in args.configs.split(",") if c]
    # runs of other sizes/configs from earlier invocations are kept only on request (a final run starts clean)
    rows = _previous(args.out) if args.keep_previous else []
    explain = [(args.explain_samples, args.explain_top)] if args.explain_samples else []
    jobs = (
        [(n, 0) for n in sizes[:1]] + explain + [(n, 0) for n in sizes[1:]]
    )  # smallest first: early figures
    for n, top in jobs:
        source = make_cohort(n, args.work_dir / f"cohort_{n}.h5ad")
        for config in configs if n <= 10_000 else [c for c in args.configs_50k.split(",") if c]:
            result = run_once(source, args.work_dir / f"out_{n}_{config}_{top}", config, top, log)
            row = {"samples": n, "config": config, "explain_top": top, **result}
            row["samples_per_s"] = result["n_predicted"] / result["seconds"]
            row["samples_per_s_processing"] = result["n_predicted"] / result["processing_seconds"]
            row["samples_per_cpu_s"] = result["n_predicted"] / max(result["cpu_seconds"], 1e-9)
            row["cpu_s_per_1000"] = 1000 * result["cpu_seconds"] / max(result["n_predicted"], 1)
            per_sample = {k: v for k, v in result["stage_cpu_s_per_1000"].items() if k != "load_bundle"}
            row["partition_cpu_s_per_1000"] = sum(per_sample.values())  # without a worker's bundle load
            rows = [r for r in rows if (r["samples"], r["config"], r["explain_top"]) != (n, config, top)]
            rows.append(row)
            target = TARGET_EXPLAIN if top else TARGET_PREDICT
            stages = ", ".join(f"{k} {v:.2f}" for k, v in per_sample.items())
            print(
                f"{n:>6} samples {config:<9} top={top:<3} {row['samples_per_s']:8.1f} samples/s end to end "
                f"({row['samples_per_s_processing']:.1f} without start-up; target ≥ {target:,.0f}) "
                f"{result['seconds']:7.1f} s  peak {result['peak_rss_mib']:7.0f} MiB  "
                f"load {result['loadavg_before']} → {result['loadavg_after']}\n"
                f"        CPU-s per 1,000 samples: {row['cpu_s_per_1000']:.2f} all processes, "
                f"{row['partition_cpu_s_per_1000']:.2f} in partitions ({stages}); start-up: everything else, "
                f"incl. loading the bundle on each worker",
                flush=True,
            )
            _write(rows, args.out)
    _write(rows, args.out)


def _fmt(value, spec: str) -> str:
    return "" if value is None or pd.isna(value) else format(value, spec)


def _previous(out: Path) -> list[dict]:
    try:
        return json.loads(out.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return []


STAGES = [
    "load_bundle",  # once per worker process (its first partition): start-up, not per-sample work
    "read",
    "parse",
    "prepare",
    "predict",
    "quality",
    "write_predictions",
    "drug_partials",
    "top_genes",
    "write_genes",
    "write_quality",
]


def _write(rows: list[dict], out: Path) -> None:
    frame = pd.DataFrame(rows).sort_values(["explain_top", "samples", "config"], kind="stable")
    frame = frame.drop(columns=["scaling_efficiency_2_workers"], errors="ignore")
    for _, group in frame.groupby(["samples", "explain_top"]):
        one = group.loc[group["config"] == "workers1", "samples_per_s_processing"]
        two = group.loc[group["config"] == "workers2", "samples_per_s_processing"]
        if len(one) and len(two):
            frame.loc[group.index, "scaling_efficiency_2_workers"] = float(two.iloc[0]) / (
                2 * float(one.iloc[0])
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(frame.to_dict(orient="records"), indent=1))
    records = frame.to_dict(orient="records")
    lines = [
        "Generated by `benchmarks/cohort_scale.py` (do not edit by hand). Machine: "
        f"{os.cpu_count()} CPU cores; the load average before → after each run says how much of them it had.",
        "",
        f"Targets (2 cores): predictions for all compounds → Parquet ≥ {TARGET_PREDICT:,.0f} samples/s; "
        f"with top-20 genes ≥ {TARGET_EXPLAIN:,.0f} samples/s; peak memory at 50k within "
        f"{TARGET_MEMORY:.0%} of 1k.",
        "",
        "| samples | config | top genes | samples/s end to end | samples/s without start-up | target samples/s "
        "| CPU-s per 1,000 samples (all processes) | of which per-sample work in partitions | seconds "
        "| peak RSS MiB (all processes) | peak worker MiB | 2-worker efficiency | loadavg before → after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in records:
        efficiency = row.get("scaling_efficiency_2_workers")
        worker = row.get("peak_worker_rss_mib")
        target = TARGET_EXPLAIN if row["explain_top"] else TARGET_PREDICT
        lines.append(
            f"| {row['samples']:,} | {row['config']} | {row['explain_top'] or '-'} | {row['samples_per_s']:.1f} "
            f"| {row['samples_per_s_processing']:.1f} | ≥ {target:,.0f} | {_fmt(row.get('cpu_s_per_1000'), '.2f')} "
            f"| {_fmt(row.get('partition_cpu_s_per_1000'), '.2f')} | {row['seconds']:.1f} "
            f"| {row['peak_rss_mib']:.0f} | {_fmt(worker, '.0f')} | {_fmt(efficiency, '.2f')} "
            f"| {row['loadavg_before']} → {row['loadavg_after']} |"
        )
    stages = [s for s in STAGES if any(s in (r.get("stage_cpu_s_per_1000") or {}) for r in records)]
    lines += [
        "",
        "CPU seconds per 1,000 samples by partition stage (the CPU time of the thread running the partition "
        "where torch is single-threaded, as in every configuration here with partitions on threads or one-thread "
        "workers; else of its whole process; mostly independent of the machine's load; `load_bundle` is a "
        "worker's start-up, paid once per process):",
        "",
        "| samples | config | top genes | " + " | ".join(stages) + " |",
        "|---|---|---|" + "---|" * len(stages),
    ]
    for row in records:
        cost = row.get("stage_cpu_s_per_1000") or {}
        cells = " | ".join(_fmt(cost.get(s), ".3f") for s in stages)
        lines.append(f"| {row['samples']:,} | {row['config']} | {row['explain_top'] or '-'} | {cells} |")
    inline = {r["samples"]: r for r in records if r["config"] == "inline" and not r["explain_top"]}
    if 1000 in inline and 50000 in inline:
        ratio = inline[50000]["peak_rss_mib"] / inline[1000]["peak_rss_mib"] - 1
        verdict = "met" if abs(ratio) <= TARGET_MEMORY else "not met"
        lines += [
            "",
            f"Peak memory, one process: {inline[1000]['peak_rss_mib']:.0f} MiB at 1k, "
            f"{inline[50000]['peak_rss_mib']:.0f} MiB at 50k ({ratio:+.1%}; target ±{TARGET_MEMORY:.0%}: {verdict}).",
        ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
