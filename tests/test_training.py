"""Training mechanics on synthetic data (accuracy claims are measured on real data in benchmarks/)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from neurix_core.data.dataset import ResponseData
from neurix_core.model.towers import InteractionModel, ModelConfig, TrainingConfig
from neurix_core.train.baselines import ridge_predictor
from neurix_core.train.cv import cross_validate, interaction_predictor
from neurix_core.train.fit import fit
from neurix_core.train.metrics import per_drug_spearman

SMALL = {
    "expression_hidden": (32,),
    "latent_dim": 8,
    "drug_hidden": (16,),
    "dropout": 0.0,
    "input_dropout": 0.0,
    "drug_dropout": 0.0,
}


def planted_data(
    n_cells: int = 160, n_genes: int = 40, n_drugs: int = 12, missing: float = 0.3, seed: int = 0
):
    """Responses driven by two gene programmes, each drug loading on them differently."""
    rng = np.random.default_rng(seed)
    expression = rng.normal(size=(n_cells, n_genes)).astype(np.float32)
    programmes = np.stack([expression[:, :5].mean(axis=1), expression[:, 5:10].mean(axis=1)], axis=1)
    loadings = rng.normal(size=(2, n_drugs))
    log_auc = (programmes @ loadings + 0.2 * rng.normal(size=(n_cells, n_drugs))).astype(np.float32)
    log_auc[rng.random(log_auc.shape) < missing] = np.nan
    drugs = pd.DataFrame(
        {
            "drug_key": [f"GDSC2:{i}" for i in range(n_drugs)],
            "screen": "GDSC2",
            "drug_name": [f"drug{i}" for i in range(n_drugs)],
            "drug_class": "targeted",
            "smiles": "",
        }
    )
    return ResponseData(
        [f"ACH-{i:06d}" for i in range(n_cells)],
        [f"G{i}" for i in range(n_genes)],
        expression,
        drugs,
        log_auc,
        pd.DataFrame(),
    )


def test_fit_learns_a_planted_signal_on_held_out_cell_lines() -> None:
    data = planted_data()
    train, test = data.select(cells=np.arange(120)), data.select(cells=np.arange(120, 160))
    fitted = fit(
        train,
        TrainingConfig(epochs=150, batch_cell_lines=32, learning_rate=3e-3, weight_decay=0.0),
        SMALL,
        fingerprints=torch.zeros(12, 8),
    )
    rho = per_drug_spearman(fitted.predict(test.expression), test.log_auc)
    assert np.nanmean(rho) > 0.7
    assert fitted.loss_history[-1] < fitted.loss_history[0]


def test_scalers_are_fitted_on_training_cell_lines_only() -> None:
    data = planted_data()
    train = data.select(cells=np.arange(80))
    fitted = fit(train, TrainingConfig(epochs=1), SMALL, fingerprints=torch.zeros(12, 8))
    np.testing.assert_allclose(fitted.gene_scaler.mean, train.expression.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(fitted.target_scaler.mean, np.nanmean(train.log_auc, axis=0), atol=1e-5)


def test_untested_pairs_do_not_influence_training() -> None:
    """Changing the value hidden behind a NaN mask changes nothing: masked pairs never reach the loss."""
    data = planted_data(missing=0.5)
    mask = np.isnan(data.log_auc)
    models = []
    for fill in (0.0, 100.0):
        log_auc = data.log_auc.copy()
        values = np.where(mask, fill, log_auc)
        values[mask] = np.nan  # NaN is the mask; the fill must not leak through any path
        changed = ResponseData(
            data.cell_lines, data.genes, data.expression, data.drugs, values, data.cell_info
        )
        models.append(fit(changed, TrainingConfig(epochs=3, seed=1), SMALL, fingerprints=torch.zeros(12, 8)))
    a, b = (m.predict(data.expression) for m in models)
    np.testing.assert_array_equal(a, b)


def test_matrix_prediction_equals_per_pair_interaction() -> None:
    torch.manual_seed(0)
    config = ModelConfig(n_genes=20, n_drugs=7, fingerprint_bits=16, **SMALL)
    model = InteractionModel(config, (torch.rand(7, 16) > 0.5).float()).eval()
    x = torch.randn(5, 20)
    matrix = model(x)
    for i in range(5):
        for d in range(7):
            pair = (model.expression_tower(x[i : i + 1]) * model.drug_latent(torch.tensor([d]))).mean()
            assert matrix[i, d].item() == pytest.approx(pair.item(), abs=1e-6)


def test_cross_validation_scores_every_cell_line_out_of_fold_and_ridge_runs_on_same_folds() -> None:
    data = planted_data(n_cells=100)
    model_cv = cross_validate(
        data,
        interaction_predictor(
            TrainingConfig(epochs=40, learning_rate=3e-3),
            SMALL,
            fingerprints={k: np.zeros(8, np.float32) for k in data.drugs["drug_key"]},
        ),
        n_folds=4,
    )
    ridge_cv = cross_validate(data, ridge_predictor(), n_folds=4)
    assert np.isfinite(model_cv.predictions).all()
    np.testing.assert_array_equal(model_cv.folds, ridge_cv.folds)
    assert ridge_cv.summary["all"]["mean_rho"] > 0.6
    assert model_cv.summary["all"]["n_drugs"] == 12


def test_external_validation_keeps_train_and_test_cell_lines_disjoint() -> None:
    from neurix_core.train.external import external_validation

    rng = np.random.default_rng(0)
    n_cells = 60
    gdsc_cells, prism_cells = np.arange(n_cells) < 45, np.arange(n_cells) >= 30  # 15 lines screened by both
    log_auc = rng.normal(size=(n_cells, 4)).astype(np.float32)
    log_auc[~gdsc_cells, :2] = np.nan
    log_auc[~prism_cells, 2:] = np.nan
    drugs = pd.DataFrame(
        {
            "drug_key": ["GDSC1:1", "GDSC2:2", "PRISM:BRD-K1", "PRISM:BRD-K2"],
            "screen": ["GDSC1", "GDSC2", "PRISM", "PRISM"],
            "drug_name": ["Alpha", "Beta", "alpha", "gamma"],
            "synonyms": ["", "Gamma", "", ""],
            "drug_class": "targeted",
            "smiles": "",
        }
    )
    cells = [f"ACH-{i:06d}" for i in range(n_cells)]
    data = ResponseData(cells, ["G1", "G2"], rng.normal(size=(n_cells, 2)).astype(np.float32), drugs, log_auc,
                        pd.DataFrame())  # fmt: skip
    seen: list[tuple[set, set]] = []

    def recording_predictor(train: ResponseData, test: ResponseData) -> np.ndarray:
        seen.append((set(train.cell_lines), set(test.cell_lines)))
        return rng.normal(size=(len(test.cell_lines), len(train.drugs)))

    results = external_validation(data, recording_predictor)
    (gdsc_train, prism_test), (prism_train, gdsc_test) = seen
    names = np.array(cells)
    assert gdsc_train == set(names[gdsc_cells & ~prism_cells]) and prism_test == set(names[prism_cells])
    assert prism_train == set(names[prism_cells]) and gdsc_test == set(names[gdsc_cells & ~prism_cells])
    assert not (gdsc_train & prism_test) and not (prism_train & gdsc_test)
    assert len(results["gdsc_to_prism"][0]) == 2  # Alpha↔alpha by name, Beta↔gamma by synonym


def test_drug_identity_latent_is_an_offset_on_the_fingerprint_mlp_that_training_learns() -> None:
    data = planted_data()
    fitted = fit(
        data,
        TrainingConfig(epochs=20, batch_cell_lines=32, learning_rate=3e-3, weight_decay=0.0),
        architecture=SMALL,
    )
    tower = fitted.model.drug_tower
    assert tower.identity_latent is not None
    assert float(tower.identity_latent.weight.detach().abs().max()) > 0  # starts at zero, so it was trained
    drugs = torch.arange(len(data.drugs))
    with torch.no_grad():
        shared = tower.net(torch.cat([tower.fingerprints[drugs], tower.identity(drugs)], dim=1))
        assert torch.allclose(fitted.model.drug_latent(), shared + tower.identity_latent(drugs))


def test_sparse_fingerprint_layer_is_the_dense_layer_in_value_and_gradient() -> None:
    """The drug tower's first layer runs as a sparse product for all drugs: the same function and gradients as
    one dense Linear over [fingerprint; identity], for all drugs, a subset, after loading and after a copy."""
    torch.manual_seed(0)
    config = ModelConfig(n_genes=30, n_drugs=9, fingerprint_bits=64, drug_hidden=(16,), latent_dim=8)
    fingerprints = (torch.rand(9, 64) < 0.1).float()
    model = InteractionModel(config, fingerprints).eval()
    tower = model.drug_tower
    with torch.no_grad():
        tower.identity_latent.weight.normal_()

    def dense(drugs: torch.Tensor) -> torch.Tensor:
        features = torch.cat([tower.fingerprints[drugs], tower.identity(drugs)], dim=1)
        return tower.net(features) + tower.identity_latent(drugs)

    every = torch.arange(9)
    gradients = []
    for forward in (lambda: dense(every), lambda: tower(None)):
        model.zero_grad()
        forward().square().sum().backward()
        gradients.append([p.grad.clone() for p in tower.parameters()])
    for a, b in zip(*gradients, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    subset = torch.tensor([4, 1, 1, 8])
    with torch.no_grad():
        assert torch.allclose(tower(None), dense(every), atol=1e-6)
        assert torch.allclose(tower(subset), dense(subset), atol=1e-6)
        reloaded = InteractionModel(config).eval()
        reloaded.drug_latent()  # builds its cache from the zero fingerprints first
        reloaded.load_state_dict(model.state_dict())
        assert torch.allclose(reloaded.drug_latent(), tower(None), atol=1e-6)
        assert torch.allclose(copy.deepcopy(model).drug_latent(), tower(None), atol=1e-6)


def test_configs_written_before_the_identity_latent_existed_rebuild_without_it() -> None:
    old_manifest_config = {
        "n_genes": 40,
        "n_drugs": 12,
        "fingerprint_bits": 16,
        "expression_hidden": [32],
        "drug_hidden": [16],
    }
    config = ModelConfig.from_dict(old_manifest_config)
    assert config.drug_identity_latent is False
    model = InteractionModel(config)
    assert not any("identity_latent" in name for name in model.state_dict())
