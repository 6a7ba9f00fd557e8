"""Issue 10 mechanics on synthetic data: per-drug LOO ridge, the hybrid, the protocol's comparisons, the bundle."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from neurix_core.explain.lrp import InteractionLRP
from neurix_core.model.bundle import load_bundle, save_bundle
from neurix_core.model.towers import TrainingConfig
from neurix_core.train.evaluation import cross_validate_methods, summarise_methods
from neurix_core.train.fit import fit
from neurix_core.train.linear import INTERCEPT_FEATURE, fit_linear_component, float16_storage_error
from neurix_core.train.protocol import (
    choose_examples,
    paired_comparison,
    protocol_lines,
    selection_mask,
    within_lineage_rho,
)
from tests.test_training import SMALL, planted_data


def test_per_drug_ridge_equals_the_direct_solution_and_loo_matches_refitting() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 30))
    y = x @ rng.normal(size=(30, 4)) * 0.2 + rng.normal(size=(120, 4))
    y[rng.random(y.shape) < 0.2] = np.nan
    y[:90, 3] = np.nan  # mostly untested: solved directly on its own lines
    component, loo = fit_linear_component(x, y)
    scale = np.mean(np.sum(x * x, axis=1))
    constant = INTERCEPT_FEATURE * scale

    def ridge(rows: np.ndarray, drug: int, alpha: float) -> np.ndarray:
        """Direct solve of ridge with a constant feature (the intercept): predictions for every line."""
        target = y[rows, drug]
        dual = np.linalg.solve(
            x[rows] @ x[rows].T + constant + alpha * np.eye(rows.sum()), target - target.mean()
        )
        return x @ (x[rows].T @ dual) + target.mean() + constant * dual.sum()

    for drug in range(4):
        rows = np.isfinite(y[:, drug])
        alpha = component.alpha[drug] * scale
        np.testing.assert_allclose(component.predict(x)[:, drug], ridge(rows, drug, alpha), atol=1e-4)
        lines = np.flatnonzero(rows)[:10]
        refit = []
        for i in lines:  # leave-one-out by refitting without line i
            keep = rows.copy()
            keep[i] = False
            refit.append(ridge(keep, drug, alpha)[i])
        np.testing.assert_allclose(loo[lines, drug], refit, atol=1e-3)
        assert np.isnan(loo[~rows, drug]).all()
    relevance = component.relevance(x[:2])
    np.testing.assert_allclose(
        relevance.sum(axis=2) + component.intercept, component.predict(x[:2]), atol=1e-4
    )


def test_paired_comparison_and_within_lineage() -> None:
    a = np.array([0.5, 0.4, 0.3, 0.6, np.nan])
    b = np.array([0.4, 0.41, 0.2, 0.5, 0.3])
    paired = paired_comparison(a, b)
    assert paired["n_drugs"] == 4 and paired["wins"] == 3
    assert paired["mean_difference"] == pytest.approx(0.0725)
    assert paired["ci95"][0] < paired["mean_difference"] < paired["ci95"][1]
    rng = np.random.default_rng(1)
    measured = rng.normal(size=(40, 3))
    lineage = np.array(["lung"] * 20 + ["skin"] * 15 + ["tiny"] * 5)
    offset = np.where(lineage == "lung", 5.0, 0.0)[:, None]
    value, per_lineage = within_lineage_rho(measured + offset, measured, lineage)
    assert set(per_lineage) == {"lung", "skin"} and value == pytest.approx(1.0)  # tiny lineage skipped
    mask = selection_mask([f"c{i}" for i in range(50)])
    assert mask.sum() == 10 and np.array_equal(mask[::-1], selection_mask([f"c{i}" for i in range(50)][::-1]))


def test_protocol_lines_keep_examples_and_untested_lines_out_of_both_roles() -> None:
    data = planted_data(n_cells=80, missing=0.1)
    lineage = [f"lineage{i % 8}" for i in range(80)]
    data = dataclasses.replace(data, cell_info=pd.DataFrame({"lineage": lineage}, index=data.cell_lines))
    data.log_auc[3] = np.nan  # a line without any response
    evaluation, selection = protocol_lines(data)
    examples = set(choose_examples(data.select(cells=np.isfinite(data.log_auc).any(axis=1))))
    assert len(examples) == 6
    used = set(evaluation.cell_lines) | set(selection.cell_lines)
    assert not set(evaluation.cell_lines) & set(selection.cell_lines)
    assert used == set(data.cell_lines) - examples - {data.cell_lines[3]}
    assert len(selection.cell_lines) == round(0.2 * len(used))


def test_drugs_screened_on_the_same_lines_share_one_solve_and_get_their_own_fit() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 20))
    y = x @ rng.normal(size=(20, 2)) * 0.3 + rng.normal(size=(80, 2))
    y[:50, :] = np.nan  # both mostly untested on the same lines: one eigendecomposition for the pair
    alone, loo_alone = fit_linear_component(x, y[:, :1])
    both, loo_both = fit_linear_component(x, np.column_stack([y[:, 0], 2 * y[:, 0], y[:, 1]]))
    np.testing.assert_allclose(both.weights[:, 0], alone.weights[:, 0], atol=1e-9)
    np.testing.assert_allclose(both.weights[:, 1], 2 * alone.weights[:, 0], atol=1e-9)  # linear in y, same α
    assert both.alpha[0] == both.alpha[1] == alone.alpha[0]
    np.testing.assert_allclose(loo_both[:, 1], 2 * loo_alone[:, 0], atol=1e-9)
    assert not np.allclose(both.weights[:, 2], both.weights[:, 0])


def test_cv_of_the_hybrid_gives_every_method_on_the_same_folds() -> None:
    data = planted_data(n_cells=100)
    data.cell_info = pd.DataFrame(
        {"lineage": ["lung" if i % 2 else "skin" for i in range(100)]}, index=data.cell_lines
    )
    training = TrainingConfig(epochs=20, learning_rate=3e-3, linear_weight=0.5, reduced_rank_weight=0.2)
    runs = cross_validate_methods(data, training, SMALL, n_folds=4)
    predictions = runs.predictions
    assert set(predictions) == {"model", "network", "ridge", "reduced_rank", "tissue"}
    np.testing.assert_allclose(
        predictions["model"],
        0.3 * predictions["network"] + 0.5 * predictions["ridge"] + 0.2 * predictions["reduced_rank"],
        atol=1e-5,
    )
    summary = summarise_methods(data, [runs])
    assert summary["ridge"]["summary"]["all"]["mean_rho"] > 0.6  # planted linear signal
    assert summary["tissue"]["summary"]["all"]["mean_rho"] < 0.3  # lineage carries none of it
    assert summary["n_lineages_within"] == 2
    assert {"model_vs_ridge", "model_vs_network", "model_vs_tissue"} <= set(summary["paired"])


def test_hybrid_bundle_round_trip_and_version_one_bundles(tmp_path) -> None:
    data = planted_data(n_cells=60)
    training = TrainingConfig(epochs=2, linear_weight=0.3, reduced_rank_weight=0.2)
    fitted = fit(data, training, SMALL, fingerprints=torch.zeros(12, 8))
    directory = save_bundle(
        tmp_path / "b", fitted, data.genes, data.drugs.assign(cv_rho=0.3), {}, {}, ["GDSC2"]
    )
    bundle = load_bundle(directory)
    assert bundle.fitted.linear_weight == pytest.approx(
        0.5
    )  # ridge 0.3 + reduced rank 0.2, stored as one part
    assert bundle.fitted.training == training
    scaled = fitted.gene_scaler.transform(data.expression[:3])
    # the ridge weights are stored as float16: within the 1e-3 the bundle may differ, and as the recorded bound says
    bound = float16_storage_error(fitted.linear, fitted.linear_weight, scaled)
    change = np.abs(bundle.fitted.predict_scaled(scaled) - fitted.predict_scaled(scaled)).max()
    assert change <= max(bound, 1e-6) * 1.01 + 1e-6 and change < 1e-3
    explainer = InteractionLRP.from_fitted(bundle.fitted)
    np.testing.assert_allclose(
        explainer.predict(scaled).numpy(), bundle.fitted.predict_scaled(scaled), atol=1e-5
    )
    # a version-1 manifest (network only) still loads, without the linear part
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest.update(format_version=1)
    manifest.pop("linear_weight")
    for setting in ("reduced_rank_weight", "joint_hybrid"):
        manifest["training_config"].pop(setting)  # settings added after version 1: they ran without them
    (directory / "manifest.json").write_text(json.dumps(manifest))
    old = load_bundle(directory)
    assert old.fitted.linear is None
    assert old.fitted.training.reduced_rank_weight == 0.0 and not old.fitted.training.joint_hybrid
    np.testing.assert_allclose(old.fitted.predict_scaled(scaled), fitted.predict_network(scaled), atol=1e-6)


def test_run_validation_reports_the_protocol_without_the_selection_lines() -> None:
    from neurix_core.train.pipeline import run_validation

    data = planted_data(n_cells=120)
    data.cell_info = pd.DataFrame({"lineage": ["lung"] * 60 + ["skin"] * 60}, index=data.cell_lines)
    training = TrainingConfig(epochs=10, learning_rate=3e-3, linear_weight=0.5)
    validation, drugs = run_validation(
        data, None, 4, training, SMALL, baseline=True, external=False, log=lambda m: None
    )
    assert validation["n_selection_cell_lines"] == 24 and validation["n_evaluation_cell_lines"] == 96
    assert validation["protocol"]["n_cell_lines"] == 96
    assert {"ridge_rho", "network_rho", "tissue_rho", "cv_rho"} <= set(drugs.columns)
    assert validation["ridge_baseline"]["n_compared"] == 12
    assert "wilcoxon_p" in validation["protocol"]["paired"]["model_vs_ridge"]


def test_protocol_figures_render_as_table_and_sentences() -> None:
    from neurix_core.report.protocol import methods_frame, paired_sentence, protocol_text

    block = {
        "summary": {"all": {"mean_rho": 0.4, "median_rho": 0.39, "n_rho_gt_0.2": 600}},
        "within_lineage_rho": 0.2,
    }
    protocol = {
        "model": block,
        "ridge": block,
        "n_cell_lines": 692,
        "n_lineages_within": 14,
        "paired": {
            "model_vs_ridge": {
                "n_drugs": 697,
                "mean_difference": 0.012,
                "ci95": [0.009, 0.015],
                "wins": 450,
                "win_fraction": 450 / 697,
                "wilcoxon_p": 1e-20,
                "within_lineage_difference": 0.004,
            }
        },
    }
    table = methods_frame(protocol)
    assert list(table.index) == ["Neurix (hybrid, shipped)", "per-drug ridge (α per drug by LOO)"]
    assert table.loc["Neurix (hybrid, shipped)", "within-lineage ρ"] == 0.2
    sentence = paired_sentence(protocol)
    assert "+0.012" in sentence and "450 of 697" in sentence and "within lineage +0.004" in sentence
    assert paired_sentence(protocol, "tissue") is None and paired_sentence(None) is None
    assert "692 evaluation cell lines" in protocol_text({"protocol": protocol, "n_selection_cell_lines": 173})
    assert protocol_text({}) is None  # bundles before format 2
