"""The repeated cross-validation reaches the model card only for the model and data it was run on."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from neurix_core.cli import main
from neurix_core.model.towers import TrainingConfig
from neurix_core.report.html import _cv_summary
from neurix_core.report.protocol import methods_frame, paired_sentence, repeated_cv_text
from neurix_core.train.repeated_cv import (
    RepeatedCVMismatchError,
    benchmark_record,
    read_repeated_cv,
    repeated_cv_block,
)

FINGERPRINT = {"GDSC_fitted_dose_response.csv.gz": "a" * 64, "gdsc_microarray_rowz.parquet": "b" * 64}


def method(mean: float, low: float, high: float) -> dict:
    return {
        "summary": {"all": {"mean_rho": mean, "median_rho": mean, "n_rho_gt_0.2": 600, "n_drugs": 697}},
        "mean_rho_by_seed": [mean - 0.001, mean, mean + 0.001],
        "within_lineage_rho": mean / 2,
        "bootstrap_ci95": [low, high],
    }


def results_file(tmp_path: Path, training: TrainingConfig, fingerprint: dict) -> Path:
    summary = {
        "partition_seeds": [0, 1, 2],
        "n_cell_lines": 692,
        "n_lineages_within": 17,
        "model": method(0.370, 0.360, 0.380),
        "ridge": method(0.352, 0.342, 0.362),
        "tissue": method(0.232, 0.220, 0.244),
        "paired": {
            "model_vs_ridge": {
                "mean_difference": 0.018,
                "ci95": [0.016, 0.020],
                "wins": 520,
                "n_drugs": 697,
                "win_fraction": 520 / 697,
                "wilcoxon_p": 1e-50,
                "within_lineage_difference": 0.02,
            }
        },
        "per_drug_rho": {"model": [0.1] * 697},
    }
    path = tmp_path / "cross_validation.json"
    path.write_text(
        json.dumps({"folds": 5, "n_boot": 100, "summary": summary, **benchmark_record(training, fingerprint)})
    )
    return path


def test_figures_of_this_model_and_data_are_attached(tmp_path: Path) -> None:
    training = TrainingConfig()
    bundle_files = {**FINGERPRINT, "secondary-screen-dose-response-curve-parameters.csv.gz": "c" * 64}
    results = read_repeated_cv(results_file(tmp_path, training, FINGERPRINT), training)
    block = repeated_cv_block(results, bundle_files)
    assert block["partition_seeds"] == [0, 1, 2] and block["n_cell_lines"] == 692
    assert "per_drug_rho" not in block["protocol"]  # summary figures only
    one_partition = {"summary": {"all": {"mean_rho": 0.366, "n_rho_gt_0.2": 612, "n_drugs": 697}}}
    validation = {"cross_validation": one_partition, "repeated_cv": block}
    table = methods_frame(block["protocol"])
    assert table.loc["Neurix (hybrid, shipped)", "95% interval"] == "0.360–0.380"
    assert table.loc["per-drug ridge (α per drug by LOO)", "by partition"] == "0.351, 0.352, 0.353"
    assert "3 random partitions of the same 692 evaluation cell lines" in repeated_cv_text(validation)
    # four decimals: a margin of +0.0147 must not read as the +0.015 bar
    assert "+0.0180 mean per-drug ρ (95% interval +0.0160 to +0.0200)" in paired_sentence(
        block["protocol"], "ridge"
    )
    assert pd.isna(
        table.loc["tissue-only lookup (no expression)", "within-lineage ρ"]
    )  # no ranking within lineage
    text = _cv_summary(validation)
    assert "Repeated 5-fold" in text and "0.360–0.380" in text and "520 of 697" in text


@pytest.mark.parametrize(
    "change",
    [
        {"training": TrainingConfig(epochs=60)},
        {"training": TrainingConfig(linear_weight=0.3)},
        {"fingerprint": {**FINGERPRINT, "gdsc_microarray_rowz.parquet": "d" * 64}},
    ],
)
def test_figures_of_another_model_or_data_are_refused(tmp_path: Path, change: dict) -> None:
    path = results_file(
        tmp_path, change.get("training", TrainingConfig()), change.get("fingerprint", FINGERPRINT)
    )
    with pytest.raises(RepeatedCVMismatchError, match="rerun benchmarks/cross_validation.py"):
        repeated_cv_block(read_repeated_cv(path, TrainingConfig()), FINGERPRINT)


def test_train_refuses_a_foreign_results_file_before_training(tmp_path: Path, capsys) -> None:
    path = tmp_path / "cross_validation.json"
    path.write_text(json.dumps({"folds": 5, "summary": {}}))  # an old file: no settings recorded
    data_dir = Path(__file__).resolve().parents[2] / "shared" / "data"
    code = main(
        ["train", "--data-dir", str(data_dir), "--out", str(tmp_path / "b"), "--repeated-cv", str(path)]
    )
    assert code == 2
    assert "does not record its training settings" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_a_file_from_before_the_reduced_rank_part_counts_as_run_without_it(tmp_path: Path) -> None:
    path = results_file(tmp_path, TrainingConfig(reduced_rank_weight=0.0), FINGERPRINT)
    record = json.loads(path.read_text())
    del record["training"]["reduced_rank_weight"]  # written before the setting existed
    path.write_text(json.dumps(record))
    with pytest.raises(RepeatedCVMismatchError, match="reduced_rank_weight 0.0 ≠ 0.2"):
        read_repeated_cv(path, TrainingConfig())
    assert read_repeated_cv(path, TrainingConfig(reduced_rank_weight=0.0))["summary"]
