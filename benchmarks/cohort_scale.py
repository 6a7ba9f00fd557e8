"""Cohort throughput and memory: `neurix cohort` on 1k / 10k / 50k synthetic tumours, in one process and on Dask.

Synthetic cohorts are real GDSC cell-line profiles (../shared/data/expression, within-line z-scores over the model's
5,778 genes) drawn with replacement plus Gaussian noise (sd 0.3), with the line's lineage as ``obs['tumour_type']``,
written as dense .h5ad (X filled in chunks, so building a 50k cohort needs no 1 GB array).

Configurations: ``inline`` (one process, no Dask), ``workers1`` and ``workers2`` (a ``dask scheduler`` and 1 or 2
``dask worker`` processes, one thread each, loopback only, started here as separate processes; the driver is
``neurix cohort --scheduler tcp://...``). Each run is its own process tree; peak memory is the largest RSS summed
over driver, workers and scheduler, sampled every 0.1 s (psutil), and the largest single worker. Each figure is
printed with /proc/loadavg read before and after it: on a shared machine, the load says how much of the 2 cores the
run really had.

    nice -n 10 python benchmarks/cohort_scale.py                       # all sizes, all configs (long)
    python benchmarks/cohort_scale.py --sizes 1000 --explain-samples 50  # quick

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_once(source: Path, out: Path, config: str, explain_top: int, log: Path) -> dict:
    """One `neurix cohort` run in its own process tree; returns seconds, peak memory and the run's counts."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1" if config != "inline" else "2"}
    command = [sys.executable, "-m", "neurix_core.cli", "cohort", "--input", str(source), "--out", str(out)]
    if explain_top:
        command += ["--explain-top", str(explain_top)]
    cluster: list[subprocess.Popen] = []
    try:
        if config == "inline":
            command += ["--scheduler", "inline"]
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
        return {
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
    parser.add_argument("--configs", default="inline,workers1,workers2")
    parser.add_argument(
        "--explain-samples", type=int, default=100, help="cohort size for the top-20-genes runs"
    )
    parser.add_argument("--explain-top", type=int, default=20)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/neurix_cohort_bench"))
    parser.add_argument("--out", type=Path, default=RESULTS / "cohort_scale")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    log = args.work_dir / "runs.log"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    configs = [c for c in args.configs.split(",") if c]
    rows = _previous(args.out)  # runs of other sizes/configs from earlier invocations are kept
    explain = [(args.explain_samples, args.explain_top)] if args.explain_samples else []
    jobs = (
        [(n, 0) for n in sizes[:1]] + explain + [(n, 0) for n in sizes[1:]]
    )  # smallest first: early figures
    for n, top in jobs:
        source = make_cohort(n, args.work_dir / f"cohort_{n}.h5ad")
        for config in configs:
            result = run_once(source, args.work_dir / f"out_{n}_{config}_{top}", config, top, log)
            row = {"samples": n, "config": config, "explain_top": top, **result}
            row["samples_per_s"] = result["n_predicted"] / result["seconds"]
            row["samples_per_s_processing"] = result["n_predicted"] / result["processing_seconds"]
            row["samples_per_cpu_s"] = result["n_predicted"] / max(result["cpu_seconds"], 1e-9)
            rows = [r for r in rows if (r["samples"], r["config"], r["explain_top"]) != (n, config, top)]
            rows.append(row)
            print(
                f"{n:>6} samples {config:<9} top={top:<3} {row['samples_per_s']:8.1f} samples/s end to end "
                f"({row['samples_per_s_processing']:.1f} without start-up, "
                f"{row['samples_per_cpu_s']:.1f} per CPU-second) "
                f"{result['seconds']:7.1f} s  peak {result['peak_rss_mib']:7.0f} MiB  "
                f"load {result['loadavg_before']} → {result['loadavg_after']}",
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
    lines = [
        "| samples | config | top genes | samples/s end to end | samples/s without start-up "
        "| samples per CPU-second (all processes) | seconds "
        "| peak RSS MiB (all processes) | peak worker MiB | 2-worker efficiency | loadavg before → after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.to_dict(orient="records"):
        efficiency = row.get("scaling_efficiency_2_workers")
        worker = row.get("peak_worker_rss_mib")
        worker_text = "" if worker is None or pd.isna(worker) else f"{worker:.0f}"
        efficiency_text = "" if efficiency is None or pd.isna(efficiency) else f"{efficiency:.2f}"
        lines.append(
            f"| {row['samples']:,} | {row['config']} | {row['explain_top'] or '-'} | {row['samples_per_s']:.1f} "
            f"| {row['samples_per_s_processing']:.1f} | {_fmt(row.get('samples_per_cpu_s'), '.1f')} "
            f"| {row['seconds']:.1f} | {row['peak_rss_mib']:.0f} | {worker_text} | {efficiency_text} "
            f"| {row['loadavg_before']} → {row['loadavg_after']} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
