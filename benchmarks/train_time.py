"""Time budget of the whole ``neurix train`` (issue 10: under 10 minutes on a 2-core machine), phase by phase.

    python benchmarks/train_time.py                       # run the README's training command into a temp folder
    python benchmarks/train_time.py --bundle assets/models/default   # phases recorded when that bundle was trained

Every bundle's manifest records the wall and CPU seconds of each training phase (``training_time``, written by
``neurix_core/train/pipeline.py``); a fresh run also measures the command's own wall time, CPU time and peak memory
from outside. Prints the figures against the 600 s target and writes benchmarks/results/train_time.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 600.0
COMMAND = ["train", "--screens", "GDSC1,GDSC2", "--cv", "5", "--baseline", "--external"]


def run_training(data_dir: Path, out: Path) -> dict:
    """The README's command as a child process: wall seconds, CPU seconds and peak RSS of the whole run."""
    command = [
        sys.executable,
        "-m",
        "neurix_core.cli",
        *COMMAND,
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"neurix train failed with exit code {completed.returncode}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "command": "neurix " + " ".join(COMMAND),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument(
        "--bundle", type=Path, default=None, help="report an existing bundle's recorded phases"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    measured: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle
        if bundle is None:
            bundle = Path(tmp) / "bundle"
            measured = run_training(args.data_dir, bundle)
        manifest = json.loads((bundle / "manifest.json").read_text())
    phases = manifest.get("training_time")
    if not phases:
        raise SystemExit("this bundle records no training phases (trained before they were recorded)")
    total = measured.get("wall_seconds", phases["total_wall_seconds"])
    results = {
        "model_version": manifest.get("model_version"),
        "target_seconds": TARGET_SECONDS,
        "total_wall_seconds": total,
        "within_target": total <= TARGET_SECONDS,
        "phases": phases,
        "run": measured,
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    print(f"{'phase':<36}{'wall s':>8}{'CPU s':>8}")
    for phase, wall in phases["wall_seconds"].items():
        print(f"{phase:<36}{wall:>8.0f}{phases['cpu_seconds'].get(phase, float('nan')):>8.0f}")
    print(f"{'total (phases)':<36}{phases['total_wall_seconds']:>8.0f}{phases['total_cpu_seconds']:>8.0f}")
    if measured:
        print(
            f"whole command: {measured['wall_seconds']:.0f} s wall, {measured['cpu_seconds']:.0f} s CPU, "
            f"peak {measured['peak_rss_mb']:.0f} MB"
        )
    print(
        f"target ≤ {TARGET_SECONDS:.0f} s: {'met' if results['within_target'] else 'NOT met'} ({total:.0f} s; "
        f"load average before {load_before[0]:.1f}, {os.cpu_count()} CPUs)"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_time.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
