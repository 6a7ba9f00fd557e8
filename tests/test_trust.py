"""Trust mechanics: percentiles, conformal intervals, hit rates, the domain check and neighbours.

Synthetic data checks the mechanics only (coverage on the real data is measured in benchmarks/trust.py). A small
bundle trained here carries the trust files through save → load → predict/neighbours/CLI; the shipped bundle (which
may lack them) must degrade with a clear message.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neurix_core.api import Neurix
from neurix_core.cli import main
from neurix_core.data.dataset import ResponseData
from neurix_core.errors import BundleError, NeurixError
from neurix_core.model.bundle import DEFAULT_BUNDLE, load_bundle, save_bundle
from neurix_core.model.towers import TrainingConfig
from neurix_core.report.html import build_report
from neurix_core.train.cv import cross_validate, interaction_predictor
from neurix_core.train.fit import fit
from neurix_core.trust import calibration, domain
from neurix_core.trust.artifacts import NOT_AVAILABLE, TRUST_FILES
from neurix_core.trust.neighbours import lineage_warning, nearest_lines

SMALL = {
    "expression_hidden": (32,),
    "latent_dim": 8,
    "drug_hidden": (16,),
    "dropout": 0.0,
    "input_dropout": 0.0,
}
TRAINING = TrainingConfig(epochs=25, batch_cell_lines=32, learning_rate=3e-3, weight_decay=0.0)
LINEAGES = ("Lung", "Breast", "Skin")


def planted(n_cells: int = 150, n_genes: int = 60, n_drugs: int = 6, seed: int = 0) -> ResponseData:
    """Three lineages with distinct expression programmes; responses follow two programmes plus noise."""
    rng = np.random.default_rng(seed)
    genes = (
        (DEFAULT_BUNDLE / "genes.txt").read_text().split()[:n_genes]
    )  # real symbols: the CLI can read them
    lineage = rng.integers(0, len(LINEAGES), n_cells)
    centres = rng.normal(scale=1.5, size=(len(LINEAGES), n_genes))
    expression = (centres[lineage] + rng.normal(size=(n_cells, n_genes))).astype(np.float32)
    expression = (expression - expression.mean(1, keepdims=True)) / expression.std(1, keepdims=True)
    programmes = np.stack([expression[:, :5].mean(1), expression[:, 5:10].mean(1)], axis=1)
    log_auc = (programmes @ rng.normal(size=(2, n_drugs)) + 0.3 * rng.normal(size=(n_cells, n_drugs))).astype(
        np.float32
    )
    log_auc[rng.random(log_auc.shape) < 0.2] = np.nan
    cells = [f"ACH-{i:06d}" for i in range(n_cells)]
    drugs = pd.DataFrame(
        {
            "drug_key": [f"GDSC2:{i}" for i in range(n_drugs)],
            "screen": "GDSC2",
            "drug_id": [str(i) for i in range(n_drugs)],
            "drug_name": [f"drug{i}" for i in range(n_drugs)],
            "drug_class": "targeted",
            "targets": "",
            "pathway": "",
            "moa": "",
            "smiles": "",
        }
    )
    info = pd.DataFrame(
        {
            "cell_line_name": [f"LINE-{i}" for i in range(n_cells)],
            "lineage": [LINEAGES[k] for k in lineage],
            "primary_disease": "",
        },
        index=cells,
    )
    return ResponseData(cells, genes, expression.astype(np.float32), drugs, log_auc, info)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ResponseData]:
    """A small bundle with trust files, built the way ``train_bundle`` builds them."""
    from neurix_core.trust.artifacts import trust_from_cv

    data = planted()
    fingerprints = {k: np.zeros(8, np.float32) for k in data.drugs["drug_key"]}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: thread hand-offs cost more than they save on a shared machine
    try:
        cv = cross_validate(
            data, interaction_predictor(TRAINING, SMALL, fingerprints=fingerprints), n_folds=5
        )
        fitted = fit(data, TRAINING, SMALL, fingerprints=torch.zeros(len(data.drugs), 8))
    finally:
        torch.set_num_threads(threads)
    drugs = data.drugs.copy()
    drugs["cv_rho"] = cv.per_drug["rho"].to_numpy()
    drugs["n_cell_lines"] = np.isfinite(data.log_auc).sum(axis=0)
    trust = trust_from_cv(data, cv, fitted, drugs)
    out = tmp_path_factory.mktemp("trust") / "bundle"
    save_bundle(out, fitted, data.genes, drugs, {}, {}, ["GDSC2"], trust=trust)
    return out, data


# --- mechanics on synthetic arrays ----------------------------------------------------------------------------------
def test_percentile_is_the_share_of_training_lines_measured_more_resistant() -> None:
    measured = np.arange(100, dtype=float)[:, None]  # one drug, z 0..99
    grid = calibration.response_quantiles(measured)
    result = calibration.percentiles(np.array([[-5.0], [24.75], [1000.0]]), grid)
    np.testing.assert_allclose(result[:, 0], [100.0, 75.0, 0.0], atol=0.5)


def test_percentiles_equal_np_interp_per_drug_for_few_and_many_samples() -> None:
    """The all-drugs comparison (few samples) and the per-drug path both equal np.interp, bit for bit: ties in
    the quantile grid, predictions exactly on a quantile, outside the grid, NaN, untested drugs."""
    rng = np.random.default_rng(3)
    for n_samples in (1, 5, calibration.FEW_SAMPLES, calibration.FEW_SAMPLES + 7):
        measured = np.round(rng.normal(size=(40, 30)), 1)  # rounded: many tied quantiles
        measured[rng.random(measured.shape) < 0.2] = np.nan
        measured[:, 0] = np.nan  # an untested drug
        grid = calibration.response_quantiles(measured)
        x = rng.normal(scale=1.5, size=(n_samples, 30))
        on_grid = np.nan_to_num(grid[np.arange(30), rng.integers(0, 101, (n_samples, 30))])
        x = np.where(rng.random(x.shape) < 0.3, on_grid, x)
        x[rng.random(x.shape) < 0.05] = np.nan
        x[0, 1], x[0, 2] = np.inf, -np.inf
        expected = np.full(x.shape, np.nan)
        for d in range(1, 30):
            share = np.interp(x[:, d], grid[d], calibration.QUANTILE_GRID, left=0.0, right=1.0)
            expected[:, d] = 100.0 * (1.0 - share)
        np.testing.assert_array_equal(calibration.percentiles(x, grid), expected)


def test_untested_drug_has_no_percentile() -> None:
    measured = np.column_stack([np.arange(10.0), np.full(10, np.nan)])
    result = calibration.percentiles(np.zeros((1, 2)), calibration.response_quantiles(measured))
    assert np.isfinite(result[0, 0]) and np.isnan(result[0, 1])


def test_hit_rate_of_perfect_and_reversed_predictions() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(200, 2))
    folds = np.arange(200) % 5
    perfect = calibration.hit_rates(y, y.copy(), folds)
    reversed_ = calibration.hit_rates(y, -y, folds)
    assert (perfect["hit_rate"] == 1.0).all()
    assert (reversed_["hit_rate"] == 0.0).all()
    assert (perfect["hit_n"] >= 35).all()


def test_conformal_intervals_cover_near_nominal_on_held_out_folds() -> None:
    rng = np.random.default_rng(1)
    n, d = 1000, 3
    predictions = rng.normal(size=(n, d))
    distance = rng.uniform(0.2, 0.8, n)
    log_auc = predictions + rng.normal(size=(n, d)) * (0.5 + distance[:, None])  # noise grows with distance
    folds = np.arange(n) % 5
    # targets on each fold's z scale ≈ log_auc here (already ~standardised), so the residuals are the noise
    report = calibration.nested_evaluation(log_auc, predictions, folds, distance, {}, 0.99)
    for level in calibration.LEVELS:
        assert abs(report["coverage"][f"{level:.0%}"]["overall"] - level) < 0.04
    difficulty, _ = calibration.fit_intervals(log_auc, predictions, distance)
    assert difficulty.slope > 0  # farther samples get wider intervals


def test_domain_distance_separates_real_from_scrambled_profiles() -> None:
    data = planted(n_cells=200)
    folds = np.arange(200) % 5
    held_out = domain.held_out_distances(data.expression, folds)
    threshold = domain.domain_threshold(held_out)
    from neurix_core.features.scaling import GeneScaler

    scaler = GeneScaler.fit(data.expression)
    space = domain.ReferenceSpace.fit(scaler.transform(data.expression))
    rng = np.random.default_rng(0)
    scrambled = np.array([rng.permutation(row) for row in data.expression[:20]])
    assert (domain.domain_distance(space.similarities(scaler.transform(scrambled))) > threshold).all()
    assert np.mean(held_out <= threshold) >= 0.98


def test_neighbours_are_the_most_similar_lines_and_warn_on_lineage() -> None:
    similarity = np.array([[0.1, 0.9, 0.8, 0.2]])
    lines = pd.DataFrame(
        {
            "cell_line": list("abcd"),
            "cell_line_name": list("ABCD"),
            "lineage": ["Lung", "Skin", "Skin", "Lung"],
            "primary_disease": "",
        }
    )
    table = nearest_lines(similarity, lines, np.arange(4.0)[:, None], ["s"], drug_index=0, k=2)
    assert table["cell_line"].tolist() == ["b", "c"]
    assert table["measured_z_log_auc"].tolist() == [1.0, 2.0]
    assert "Skin" in lineage_warning(table, "Lung")
    assert lineage_warning(table, "Skin") is None and lineage_warning(table, None) is None


# --- a small trained bundle with trust files ------------------------------------------------------------------------
def test_trust_files_are_in_the_manifest_and_checked(trained) -> None:  # noqa: ANN001
    path, _ = trained
    manifest = json.loads((path / "manifest.json").read_text())
    assert set(TRUST_FILES) <= set(manifest["files"])
    assert load_bundle(path).trust is not None
    with open(path / "trust_drugs.csv", "a") as handle:
        handle.write("tampered\n")
    try:
        with pytest.raises(BundleError, match="trust_drugs.csv"):
            load_bundle(path)
    finally:
        text = (path / "trust_drugs.csv").read_text().removesuffix("tampered\n")
        (path / "trust_drugs.csv").write_text(text)
    load_bundle(path)


def test_predictions_carry_percentile_interval_and_domain(trained) -> None:  # noqa: ANN001
    path, data = trained
    neurix = Neurix.load(path)
    profiles = pd.DataFrame(data.expression[:3], index=["a", "b", "c"], columns=data.genes)
    table = neurix.predict(profiles)
    assert (
        table[["percentile", "interval_low", "interval_high", "domain_distance", "hit_rate"]]
        .notna()
        .all()
        .all()
    )
    assert (
        (table["interval_low"] < table["z_log_auc"]) & (table["z_log_auc"] < table["interval_high"])
    ).all()
    assert table["percentile"].between(0, 100).all()
    assert table["in_domain"].all()  # training lines are in their own domain
    report = neurix.bundle.trust.report
    assert set(report["coverage"]) == {"80%", "90%"}
    assert 0 <= report["domain"]["held_out_false_alarm_rate"] <= 0.1


def test_shifted_profile_is_flagged_and_never_gets_narrower_intervals(trained) -> None:  # noqa: ANN001
    path, data = trained
    neurix = Neurix.load(path)
    rng = np.random.default_rng(0)
    real = pd.DataFrame(data.expression[:1], index=["real"], columns=data.genes)
    noise = pd.DataFrame(rng.normal(size=(1, len(data.genes))), index=["noise"], columns=data.genes)
    constant = pd.DataFrame(np.full((1, len(data.genes)), 5.0), index=["constant"], columns=data.genes)
    table = neurix.predict(pd.concat([real, noise, constant]))
    assert not table.loc[table["sample"] == "constant", "in_domain"].any()
    assert (table.loc[table["sample"] == "constant", "domain_distance"] == 1.0).all()
    by_sample = table.assign(width=table["interval_high"] - table["interval_low"]).groupby("sample")
    assert not by_sample["in_domain"].first()["noise"]
    assert (
        by_sample["width"].mean()["noise"] >= by_sample["width"].mean()["real"]
    )  # the slope is never negative
    html = build_report("noise", table, pd.DataFrame(), fingerprint="0" * 64)
    assert "extrapolations" in html


def test_neighbours_api_and_cli(trained, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path, data = trained
    neurix = Neurix.load(path)
    lineage = data.cell_info["lineage"].iloc[0]
    profiles = pd.DataFrame(data.expression[:1], index=["s1"], columns=data.genes)
    table = neurix.neighbours(profiles, drug="drug0", tumour_type="Bone")
    assert len(table) == 5 and table["distance"].is_monotonic_increasing
    assert table["cell_line"].iloc[0] == data.cell_lines[0]  # a training line's nearest line is itself
    assert (table["lineage"] == lineage).sum() >= 3
    assert (
        table["lineage_warning"]
        .iloc[0]
        .startswith(f"The most similar training cell lines are mostly {lineage}")
    )
    source = tmp_path / "profile.csv"
    profiles.T.rename_axis("gene").to_csv(source)
    out = tmp_path / "neighbours.csv"
    code = main(
        ["neighbours", "--bundle", str(path), "--input", str(source), "--values", "zscore", "--drug", "drug0"]
    )
    assert code == 0 and "LINE-0" in capsys.readouterr().out
    assert main(["neighbours", "--bundle", str(path), "--input", str(source), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 5


# --- a bundle without trust files (e.g. the shipped one before retraining) ------------------------------------------
def test_bundle_without_trust_degrades_clearly(trained, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    import shutil

    path, data = trained
    bare = Path(shutil.copytree(path, tmp_path / "bare"))
    manifest = json.loads((bare / "manifest.json").read_text())
    for name in TRUST_FILES:
        (bare / name).unlink()
        del manifest["files"][name]
    (bare / "manifest.json").write_text(json.dumps(manifest))
    neurix = Neurix.load(bare)
    assert not neurix.has_trust
    table = neurix.predict(pd.DataFrame(data.expression[:1], index=["s"], columns=data.genes))
    assert table[["percentile", "interval_low", "interval_high", "domain_distance"]].isna().all().all()
    assert table["in_domain"].isna().all()
    with pytest.raises(NeurixError, match="not available in this bundle"):
        neurix.neighbours(table)
    source = tmp_path / "profile.csv"
    pd.DataFrame(data.expression[:1], index=["s"], columns=data.genes).T.rename_axis("gene").to_csv(source)
    assert main(["neighbours", "--bundle", str(bare), "--input", str(source)]) == 2
    assert NOT_AVAILABLE in capsys.readouterr().err
    assert (
        main(["predict", "--bundle", str(bare), "--input", str(source), "--out", str(tmp_path / "p.csv")])
        == 0
    )
    assert "not available in this bundle" in capsys.readouterr().err
    html = build_report("s", table, pd.DataFrame(), fingerprint="0" * 64)
    assert "not available in this model bundle" in html


def test_build_trust_keeps_bundle_drug_order(trained) -> None:  # noqa: ANN001
    path, data = trained
    trust = load_bundle(path).trust
    assert trust.drugs["drug_key"].tolist() == data.drugs["drug_key"].tolist()
    assert trust.measured.shape == data.log_auc.shape
