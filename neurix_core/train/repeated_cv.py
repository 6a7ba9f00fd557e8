"""The repeated cross-validation's figures, attached to the model card of the model they describe.

Why: the headline accuracy claim is the repeated 5-fold CV over three partitions of the evaluation lines, with
intervals (``benchmarks/cross_validation.py``). ``neurix train`` runs one partition (its fold models feed the
calibration and discovery); running three would triple the training time. The benchmark therefore records the
training settings and the input files' sha256 it ran with, and ``neurix train --repeated-cv FILE`` copies its
figures into ``validation.json`` only when both match the model being trained, so the Model page and the report
never show another model's figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from neurix_core.errors import NeurixError
from neurix_core.model.towers import SETTINGS_BEFORE_THEY_EXISTED, TrainingConfig

# the settings that change what a fold model predicts (the seed only picks a network initialisation)
COMPARED_SETTINGS = (
    "epochs",
    "batch_cell_lines",
    "learning_rate",
    "weight_decay",
    "linear_weight",
    "joint_hybrid",
    "reduced_rank_weight",
)
METHODS = ("model", "network", "ridge", "tissue")


class RepeatedCVMismatchError(NeurixError):
    """The results file describes another model or other data than the one being trained."""


def benchmark_record(training: TrainingConfig, data_fingerprint: Mapping[str, str]) -> dict:
    """What the benchmark stores so a later ``neurix train`` can check the figures are its own."""
    settings = training.to_dict()
    return {
        "training": {key: settings[key] for key in COMPARED_SETTINGS},
        "data_fingerprint": dict(data_fingerprint),
    }


def read_repeated_cv(path: str | Path, training: TrainingConfig) -> dict:
    """Load a ``cross_validation.json`` and check it was run with these training settings (cheap: before any data
    is read); RepeatedCVMismatchError otherwise."""
    try:
        results = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise RepeatedCVMismatchError(
            f"cannot read the repeated-CV results {Path(path).name}: {error}"
        ) from None
    ran = results.get("training") if isinstance(results, Mapping) else None
    if not isinstance(ran, Mapping) or not isinstance(results.get("summary"), Mapping):
        raise RepeatedCVMismatchError(
            f"{Path(path).name} does not record its training settings; rerun benchmarks/cross_validation.py"
        )
    settings = training.to_dict()
    differing = [
        f"{key} {ran.get(key, SETTINGS_BEFORE_THEY_EXISTED.get(key))} ≠ {settings[key]}"
        for key in COMPARED_SETTINGS
        if ran.get(key, SETTINGS_BEFORE_THEY_EXISTED.get(key)) != settings[key]
    ]
    if differing:
        raise RepeatedCVMismatchError(
            f"{Path(path).name} was run with other training settings ({'; '.join(differing)}); rerun "
            "benchmarks/cross_validation.py with this model's settings"
        )
    return results


def repeated_cv_block(results: Mapping, data_fingerprint: Mapping[str, str]) -> dict:
    """The model-card block of checked results, if every input file they were computed from is this bundle's."""
    files = results.get("data_fingerprint") or {}
    changed = sorted(name for name, digest in files.items() if data_fingerprint.get(name) != digest)
    if not files or changed:
        raise RepeatedCVMismatchError(
            f"the repeated-CV results were computed on other input data ({', '.join(changed) or 'none recorded'}); "
            "rerun benchmarks/cross_validation.py on this data"
        )
    summary = results["summary"]
    return {
        "source": "benchmarks/cross_validation.py",
        "n_folds": results.get("folds", 5),
        "partition_seeds": summary.get("partition_seeds"),
        "n_cell_lines": summary.get("n_cell_lines"),
        "n_boot": results.get("n_boot"),
        "n_lineages_within": summary.get("n_lineages_within"),
        "protocol": {key: _without_per_drug(summary[key]) for key in (*METHODS, "paired") if key in summary},
    }


def _without_per_drug(block: Mapping) -> dict:
    """Summary figures only: per-drug vectors stay in the benchmark's results file."""
    return {key: value for key, value in block.items() if not key.startswith("per_drug")}
