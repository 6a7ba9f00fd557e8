"""Worker loss on a real two-worker Dask cluster: the cohort run still ends with every sample exactly once.

The cluster is started as separate processes (``dask scheduler`` + two ``dask worker``, loopback only), as on
SLURM or Kubernetes; ``neurix cohort --scheduler tcp://...`` runs in its own process; one worker is SIGKILLed
as soon as the first partition is marked done, while most partitions are still queued or running.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurix_core.api import Neurix

anndata = pytest.importorskip("anndata")
pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
N_SAMPLES = 24


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _digest(samples) -> str:
    return hashlib.sha256("\n".join(sorted(map(str, samples))).encode()).hexdigest()


def test_killing_a_worker_mid_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    neurix = Neurix.load()
    examples = neurix.example_profiles()
    rng = np.random.default_rng(1)
    values = np.repeat(examples.to_numpy(), 4, axis=0)[:N_SAMPLES] + rng.normal(
        0, 0.3, (N_SAMPLES, examples.shape[1])
    )
    names = [f"T{i:03d}" for i in range(N_SAMPLES)]
    source = tmp_path / "cohort.h5ad"
    anndata.AnnData(
        X=values.astype(np.float32),
        obs=pd.DataFrame(index=pd.Index(names, dtype=object)),
        var=pd.DataFrame(index=pd.Index(list(examples.columns), dtype=object)),
    ).write_h5ad(source)

    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
    }
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            _start(
                [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
                env,
                tmp_path / "scheduler.log",
            )
        )
        worker = [
            str(BIN / "dask"),
            "worker",
            address,
            "--nthreads",
            "1",
            "--no-nanny",
            "--host",
            "127.0.0.1",
        ]
        worker += ["--no-dashboard", "--memory-limit", "0"]
        workers = [_start(worker, env, tmp_path / f"worker{i}.log") for i in range(2)]
        processes += workers
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)

        out = tmp_path / "out"
        run = [sys.executable, "-m", "neurix_core.cli", "cohort", "--input", str(source), "--out", str(out)]
        run += ["--scheduler", address, "--partition-size", "1"]
        driver = _start(run, env, tmp_path / "driver.log")
        processes.append(driver)
        deadline = time.monotonic() + 180
        markers = out / "_partitions"
        while not (markers.is_dir() and list(markers.glob("part-*.json"))):
            assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "no partition finished"
            time.sleep(0.02)
        workers[0].send_signal(signal.SIGKILL)  # a node lost mid-run
        done_at_kill = len(list(markers.glob("part-*.json")))
        workers[0].wait()
        assert driver.wait(timeout=300) == 0, (tmp_path / "driver.log").read_text()[-2000:]
        assert done_at_kill < N_SAMPLES  # the kill really happened in the middle of the run
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()

    predictions = pd.concat(
        [pd.read_parquet(p) for p in sorted((out / "predictions").glob("part-*.parquet"))]
    )
    quality = pd.concat([pd.read_parquet(p) for p in sorted((out / "quality").glob("part-*.parquet"))])
    n_drugs = int(neurix.bundle.drugs["compound_id"].nunique())  # compound level, as `neurix predict`
    assert len(predictions) == N_SAMPLES * n_drugs
    assert predictions.groupby("sample").size().eq(n_drugs).all()
    assert len(quality) == N_SAMPLES and (quality["status"] == "predicted").all()
    assert _digest(quality["sample"]) == _digest(names)
    assert _digest(predictions["sample"].unique()) == _digest(names)
