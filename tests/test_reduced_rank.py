"""The reduced-rank linear part: it collapses exactly into per-drug weights and joins the ridge in one linear part."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurix_core.model.towers import InteractionModel, ModelConfig, TrainingConfig
from neurix_core.train.fit import fit
from neurix_core.train.linear import LinearComponent
from neurix_core.train.reduced_rank import REDUCED_RANK_ARCHITECTURE, blend_linear, collapse_to_linear
from tests.test_training import SMALL, planted_data


def test_a_linear_expression_tower_collapses_to_the_same_predictions() -> None:
    torch.manual_seed(0)
    config = ModelConfig(
        n_genes=30, n_drugs=7, fingerprint_bits=16, latent_dim=8, **REDUCED_RANK_ARCHITECTURE
    )
    model = InteractionModel(config, (torch.rand(7, 16) < 0.3).float())
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)  # the identity latent starts at zero
    x = np.random.default_rng(0).normal(size=(5, 30)).astype(np.float32)
    collapsed = collapse_to_linear(model)
    assert collapsed.weights.shape == (30, 7) and np.isnan(collapsed.alpha).all()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(collapsed.predict(x), expected, atol=1e-5)
    relevance = collapsed.relevance(x)  # exact: x_g·w_gd adds up to the prediction minus the intercept
    np.testing.assert_allclose(relevance.sum(axis=2), expected - collapsed.intercept, atol=1e-5)


def test_a_deep_tower_does_not_collapse() -> None:
    model = InteractionModel(ModelConfig(n_genes=10, n_drugs=3, fingerprint_bits=4, expression_hidden=(6,)))
    with pytest.raises(ValueError, match="single linear"):
        collapse_to_linear(model)


def test_blended_linear_parts_predict_their_weighted_sum() -> None:
    rng = np.random.default_rng(1)

    def part(alpha: float) -> LinearComponent:
        return LinearComponent(
            rng.normal(size=(12, 4)).astype(np.float32),
            rng.normal(size=4).astype(np.float32),
            np.full(4, alpha),
        )

    ridge, reduced = part(3.0), part(np.nan)
    blended, share = blend_linear([(ridge, 0.4), (reduced, 0.2)])
    x = rng.normal(size=(3, 12)).astype(np.float32)
    assert share == pytest.approx(0.6)
    np.testing.assert_allclose(
        share * blended.predict(x), 0.4 * ridge.predict(x) + 0.2 * reduced.predict(x), atol=1e-5
    )
    np.testing.assert_array_equal(blended.alpha, ridge.alpha)  # the ridge's penalties are kept


def test_the_hybrid_predicts_its_three_parts_and_the_network_trains_as_without_them() -> None:
    data = planted_data(n_cells=60)
    fingerprints = torch.zeros(12, 8)
    three = fit(
        data,
        TrainingConfig(epochs=3, linear_weight=0.4, reduced_rank_weight=0.2),
        SMALL,
        fingerprints=fingerprints,
    )
    alone = fit(
        data,
        TrainingConfig(epochs=3, linear_weight=0.0, reduced_rank_weight=0.0),
        SMALL,
        fingerprints=fingerprints,
    )
    scaled = three.gene_scaler.transform(data.expression[:8])
    network = three.predict_network(scaled)
    np.testing.assert_allclose(network, alone.predict_network(scaled), atol=1e-6)  # its own seed, untouched
    assert (
        three.ridge is not None
        and three.reduced_rank is not None
        and three.linear_weight == pytest.approx(0.6)
    )
    np.testing.assert_allclose(
        three.predict_scaled(scaled),
        0.4 * network + 0.4 * three.ridge.predict(scaled) + 0.2 * three.reduced_rank.predict(scaled),
        atol=1e-5,
    )
    assert alone.linear is None and alone.ridge is None and alone.reduced_rank is None


def test_the_model_card_names_each_part_with_its_share() -> None:
    from neurix_core.report.text import hybrid_text

    three = hybrid_text(0.55, 0.2)
    assert "network (45%)" in three and "ridge regression (35%)" in three and "reduced-rank" in three
    two = hybrid_text(0.5, 0.0)  # a bundle from before the reduced-rank part
    assert "ridge regression (50%)" in two and "reduced-rank" not in two
    assert hybrid_text(0.0, 0.0) == "The model is the interaction network alone."
