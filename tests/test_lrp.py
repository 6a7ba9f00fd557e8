"""LRP explanations: agreement with an independent γ-rule implementation, conservation, batching invariance,
no side effects on the model, and cohort summaries on cases with a known answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from neurix_core.explain import (
    RESISTANCE,
    SENSITISING,
    InteractionLRP,
    cohort_relevance,
    relevance_frame,
    summarise_cohort,
)
from neurix_core.model.towers import InteractionModel, ModelConfig

EPS = 1e-6  # zennit's default stabiliser, part of the rule's definition


def make_model(
    seed: int = 0,
    n_genes: int = 40,
    n_drugs: int = 9,
    latent_dim: int = 8,
    hidden: tuple[int, ...] = (24, 16),
    zero_bias: bool = False,
    dtype: torch.dtype = torch.float64,
) -> InteractionModel:
    torch.manual_seed(seed)
    config = ModelConfig(
        n_genes=n_genes,
        n_drugs=n_drugs,
        fingerprint_bits=12,
        latent_dim=latent_dim,
        expression_hidden=hidden,
        drug_hidden=(10,),
        drug_embedding_dim=4,
    )
    model = InteractionModel(config, fingerprints=(torch.rand(n_drugs, 12) > 0.5).float()).to(dtype)
    if zero_bias:
        with torch.no_grad():
            for module in model.expression_tower.modules():
                if isinstance(module, nn.Linear):
                    module.bias.zero_()
    return model


def profiles(n: int, n_genes: int = 40, seed: int = 1, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, n_genes, generator=generator, dtype=dtype)  # scaled expression: both signs


def eval_predictions(model: InteractionModel, x: torch.Tensor) -> torch.Tensor:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(x)
    model.train(was_training)
    return out


# --------------------------------------------------------------------------- independent reference
def _stabilise(d: torch.Tensor) -> torch.Tensor:
    return d + EPS * torch.where(d >= 0, 1.0, -1.0).to(d)


def reference_gamma_lrp(
    model: InteractionModel, x: torch.Tensor, gamma: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Plain-torch generalised LRP-γ (Andéol et al.; zennit's ``Gamma``), written from the definition.

    Contributions z_ij = a_i·w_ji. A unit with positive output z_j > 0 distributes its relevance in
    proportion to z_ij + γ·z_ij⁺, with denominator Σ_i (z_ij + γ z_ij⁺) + b_j + γ b_j⁺; a negative unit uses
    the negative parts. The bias share stays in the bias ("absorbed"). Returns (relevance P×D×G, absorbed P×D,
    bound P×D) with absorbed = Σ_layers Σ_j R_j (β_j + ε_j)/stab(den_j) computed from the bias terms and the
    stabiliser, bound = the same with absolute values.
    """
    model = model.eval()
    linears = [m for m in model.expression_tower.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        f = model.drug_latent()  # D × K
        acts = []
        a = x
        for i, layer in enumerate(linears):
            acts.append(a)
            z = a @ layer.weight.T + layer.bias
            a = torch.relu(z) if i < len(linears) - 1 else z
        g = a  # P × K
        K = g.shape[1]
        R = g[:, None, :] * f[None, :, :] / K  # P × D × K: LRP-0 through the product
        absorbed = torch.zeros(R.shape[:2], dtype=x.dtype)
        bound = torch.zeros(R.shape[:2], dtype=x.dtype)
        for layer, a in zip(reversed(linears), reversed(acts), strict=True):
            W, b = layer.weight, layer.bias
            contrib = a[:, :, None] * W.T[None, :, :]  # P × in × out
            z = contrib.sum(1) + b  # P × out
            num_pos = contrib + gamma * contrib.clamp(min=0)
            num_neg = contrib + gamma * contrib.clamp(max=0)
            beta_pos, beta_neg = b + gamma * b.clamp(min=0), b + gamma * b.clamp(max=0)
            den_pos, den_neg = num_pos.sum(1) + beta_pos, num_neg.sum(1) + beta_neg
            share_pos = torch.where(z > 0, 1.0, 0.0)[:, None, :] * R / _stabilise(den_pos)[:, None, :]
            share_neg = torch.where(z < 0, 1.0, 0.0)[:, None, :] * R / _stabilise(den_neg)[:, None, :]
            # P × D × in
            R_in = torch.einsum("pio,pdo->pdi", num_pos, share_pos) + torch.einsum(
                "pio,pdo->pdi", num_neg, share_neg
            )
            eps_pos = _stabilise(den_pos) - den_pos
            eps_neg = _stabilise(den_neg) - den_neg
            kept = share_pos * (beta_pos + eps_pos)[:, None, :] + share_neg * (beta_neg + eps_neg)[:, None, :]
            dead = torch.where(z == 0, 1.0, 0.0)[:, None, :] * R  # z exactly 0: relevance is dropped
            absorbed += (kept + dead).sum(-1)
            bound += (kept.abs() + dead.abs()).sum(-1)
            R = R_in  # ReLU passes relevance where active; inactive inputs already receive 0 (a_i = 0)
    return R, absorbed, bound


# --------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("gamma", [0.0, 0.25, 1.0])
def test_matches_independent_gamma_reference(gamma: float) -> None:
    model = make_model()
    x = profiles(5)
    expected, _, _ = reference_gamma_lrp(model, x, gamma)
    explainer = InteractionLRP(model, gamma=gamma)
    for method in ("basis", "direct"):
        got = explainer.relevance(x, method=method)
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-13)
    loop = explainer.relevance_per_drug_loop(x[3], [0, 8])
    torch.testing.assert_close(loop, expected[3:4, [0, 8]], rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("gamma", [0.0, 0.25])
def test_closed_form_engine_equals_zennit_hooks(gamma: float) -> None:
    """The default closed-form engine is zennit's Gamma rule, not an approximation of it: same relevances and
    latents as zennit's own hooks, in float64 and in the float32 the product runs in, with zero and negative
    inputs, dead units and both methods."""
    for dtype, tolerance in ((torch.float64, 1e-10), (torch.float32, 2e-4)):
        model = make_model(seed=3, n_genes=60, latent_dim=12, hidden=(32, 20), dtype=dtype)
        x = profiles(4, n_genes=60, seed=5, dtype=dtype)
        x[:, :7] = 0.0  # exact zeros: the stabiliser's sign(0) = +1 case and no contribution
        closed = InteractionLRP(model, gamma=gamma)
        hooks = InteractionLRP(model, gamma=gamma, engine="zennit")
        for method in ("basis", "direct"):
            expected = hooks.relevance(x, method=method)
            got = closed.relevance(x, method=method)
            scale = expected.abs().max()
            torch.testing.assert_close(got / scale, expected / scale, rtol=tolerance, atol=tolerance)
        torch.testing.assert_close(
            closed.latent_basis(x), hooks.latent_basis(x), rtol=tolerance, atol=tolerance
        )
    with pytest.raises(ValueError, match="engine"):
        InteractionLRP(model, engine="captum")  # type: ignore[arg-type]


def test_latent_basis_reconstructs_relevance() -> None:
    model = make_model()
    x = profiles(3)
    explainer = InteractionLRP(model)
    basis = explainer.latent_basis(x)
    assert basis.shape == (3, 8, 40)
    r = explainer.latent(x)[:, None, :] * explainer.drug_latents[None] / 8  # P × D × K
    torch.testing.assert_close(torch.einsum("pdk,pkg->pdg", r, basis), explainer.relevance(x))


# --------------------------------------------------------------------------- conservation
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_conservation_without_biases(dtype: torch.dtype) -> None:
    """Zero biases: Σ_genes R = prediction except for the ε = 1e-6 stabiliser's share R_j·ε/den_j.

    In these small nets denominators are ~0.1, so that share is ~1e-5 of the prediction (far less with ~6k
    genes); we account for it exactly (float64) and bound the whole difference by 5e-5 relative.
    """
    model = make_model(zero_bias=True, dtype=dtype)
    x = profiles(6, dtype=dtype)
    total = InteractionLRP(model).relevance(x).sum(-1).double()
    prediction = eval_predictions(model, x).double()
    scale = prediction.abs().max()
    assert (total - prediction).abs().max() <= 5e-5 * scale
    if dtype == torch.float64:
        _, absorbed, bound = reference_gamma_lrp(model, x, 0.25)  # only the stabiliser absorbs here
        torch.testing.assert_close(total + absorbed, prediction, rtol=1e-9, atol=1e-12 * float(scale))
        assert torch.all((total - prediction).abs() <= bound + 1e-15)


def test_conservation_with_biases_is_bounded_by_bias_share() -> None:
    """With biases: Σ_genes R = prediction − absorbed exactly, and |Σ_genes R − prediction| ≤ Σ |shares|."""
    model = make_model(seed=3)
    x = profiles(6, seed=4)
    _, absorbed, bound = reference_gamma_lrp(model, x, 0.25)
    total = InteractionLRP(model, gamma=0.25).relevance(x).sum(-1)
    prediction = eval_predictions(model, x)
    torch.testing.assert_close(total + absorbed, prediction, rtol=1e-9, atol=1e-12)
    assert torch.all((total - prediction).abs() <= bound + 1e-12)
    assert absorbed.abs().max() > 0  # the biases do absorb something here: the bound is not vacuous


# --------------------------------------------------------------------------- batching / paths
def test_profile_alone_equals_profile_in_batch_and_chunking() -> None:
    model = make_model()
    x = profiles(3)
    explainer = InteractionLRP(model)
    batch = explainer.relevance(x)
    alone = explainer.relevance(x[2])
    torch.testing.assert_close(alone[0], batch[2], rtol=1e-12, atol=1e-15)
    tiny_chunks = explainer.relevance(x, method="basis", rows_per_chunk=1)
    torch.testing.assert_close(tiny_chunks, batch, rtol=1e-12, atol=1e-15)
    direct_chunks = explainer.relevance(x, [2, 5], method="direct", rows_per_chunk=3)
    torch.testing.assert_close(direct_chunks, batch[:, [2, 5]], rtol=1e-12, atol=1e-15)


def test_all_drugs_at_once_equals_per_drug_loop_float32() -> None:
    model = make_model(dtype=torch.float32)
    x = profiles(1, dtype=torch.float32)
    explainer = InteractionLRP(model)
    all_drugs = explainer.relevance(x)
    loop = explainer.relevance_per_drug_loop(x, list(range(9)))
    scale = all_drugs.abs().max()
    torch.testing.assert_close(all_drugs, loop, rtol=1e-4, atol=1e-5 * float(scale))


def test_works_under_no_grad_and_inference_mode() -> None:
    model = make_model()
    x = profiles(2)
    expected = InteractionLRP(model).relevance(x)
    with torch.no_grad():
        torch.testing.assert_close(InteractionLRP(model).relevance(x), expected)
    with torch.inference_mode():
        explainer = InteractionLRP(model)
        got = explainer.relevance(profiles(2))
        loop = explainer.relevance_per_drug_loop(profiles(2), [1])
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(loop, expected[:, [1]])


def _hook_count(module: nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in module.modules()
    )


def test_model_is_not_mutated_and_no_hooks_remain() -> None:
    model = make_model(dtype=torch.float32)
    model.train()  # as during training: the explainer must not switch it, nor rely on it
    x = profiles(3, dtype=torch.float32)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    requires_grad = [p.requires_grad for p in model.parameters()]
    before = eval_predictions(model, x)
    model.train()

    explainer = InteractionLRP(model)
    explainer.relevance(x)
    explainer.relevance(x, [0], method="direct")
    explainer.relevance_per_drug_loop(x[:1], [0])
    relevance_frame(explainer, x.numpy(), ["a", "b", "c"], [f"g{i}" for i in range(40)], [0], top=3)

    assert model.training
    assert [p.requires_grad for p in model.parameters()] == requires_grad
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert all(p.grad is None for p in model.parameters())
    torch.testing.assert_close(eval_predictions(model, x), before, rtol=0, atol=0)
    assert _hook_count(model) == 0
    assert _hook_count(explainer.tower) == 0


def test_shared_explainer_is_thread_safe() -> None:
    explainer = InteractionLRP(make_model())
    xs = [profiles(2, seed=s) for s in range(4)]
    expected = [explainer.relevance(x) for x in xs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(explainer.relevance, xs))
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
    assert _hook_count(explainer.tower) == 0


def test_rejects_bad_shapes_and_indices() -> None:
    explainer = InteractionLRP(make_model())
    with pytest.raises(ValueError):
        explainer.relevance(torch.zeros(2, 39, dtype=torch.float64))
    with pytest.raises(IndexError):
        explainer.relevance(profiles(1), [9])


# --------------------------------------------------------------------------- labelled frame
def test_relevance_frame_labels_ranks_and_top() -> None:
    model = make_model()
    x = profiles(2).numpy()
    genes = [f"G{i}" for i in range(40)]
    keys = [f"drug{i}" for i in range(9)]
    explainer = InteractionLRP(model)
    full = relevance_frame(explainer, x, ["s1", "s2"], genes, [3, 7], drug_keys=keys)
    assert len(full) == 2 * 2 * 40
    assert list(full.columns) == [
        "sample",
        "drug_index",
        "drug",
        "gene",
        "input_value",
        "relevance",
        "rank",
        "prediction",
        "bias_share",
    ]
    expected = explainer.relevance(x, [3, 7]).numpy()
    sums = full.groupby(["sample", "drug"])["relevance"].sum()
    first = full.groupby(["sample", "drug"])[["prediction", "bias_share"]].first()
    np.testing.assert_allclose(first["prediction"] - first["bias_share"], sums, rtol=1e-4, atol=1e-6)
    one = full[(full["sample"] == "s2") & (full["drug"] == "drug7")]
    assert one["rank"].tolist() == list(range(1, 41))
    assert np.all(np.diff(one["relevance"].abs().to_numpy()) <= 0)
    by_gene = one.set_index("gene")
    np.testing.assert_allclose(by_gene.loc[genes, "relevance"].to_numpy(), expected[1, 1])
    np.testing.assert_allclose(by_gene.loc[genes, "input_value"].to_numpy(), x[1])
    np.testing.assert_allclose(one["prediction"].iloc[0], explainer.predict(x[1], 7).item())

    top = relevance_frame(model, x, ["s1", "s2"], genes, [3, 7], top=5)
    assert len(top) == 2 * 2 * 5 and "drug" not in top.columns
    pd.testing.assert_frame_equal(
        top.reset_index(drop=True),
        full[full["rank"] <= 5].drop(columns="drug").reset_index(drop=True),
    )


# --------------------------------------------------------------------------- cohort
def test_summarise_cohort_on_known_matrices() -> None:
    rng = np.random.default_rng(0)
    n = 50
    X = np.column_stack(
        [rng.normal(1.0, 1.0, n), rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n), np.ones(n)]
    )
    R = np.column_stack([2.0 * X[:, 0], -0.5 * X[:, 1], 0.1 * rng.normal(size=n) - 0.01, np.zeros(n)])
    frame = summarise_cohort(R, X, ["up", "down", "noise", "flat"]).set_index("gene")
    assert frame.loc["up", "direction"] == RESISTANCE
    assert frame.loc["down", "direction"] == SENSITISING
    assert frame.loc["flat", "direction"] == "neutral"
    relation = ["expression_relevance_r", "expression_relevance_slope"]
    np.testing.assert_allclose(frame.loc["up", relation].to_numpy(float), [1, 2])
    np.testing.assert_allclose(frame.loc["down", relation].to_numpy(float), [-1, -0.5])
    assert abs(frame.loc["noise", "expression_relevance_r"]) < 0.5
    assert np.isnan(frame.loc["flat", "expression_relevance_r"])
    assert np.isnan(frame.loc["flat", "expression_relevance_slope"])
    np.testing.assert_allclose(frame.loc["up", "mean_abs_relevance"], np.abs(R[:, 0]).mean())
    assert frame["rank"].tolist() == [1, 2, 3, 4]
    assert frame.index[0] == "up" and frame.index[-1] == "flat"


def test_cohort_relevance_on_linear_model_with_known_answer() -> None:
    """Linear tower, zero bias, γ = 0 (LRP-0): R_i = x_i·c_i with c = Wᵀf/K: the answer is known exactly."""
    n_genes, K = 4, 3
    model = make_model(n_genes=n_genes, n_drugs=2, latent_dim=K, hidden=(), zero_bias=True)
    c = torch.tensor([0.8, -0.6, 0.5, 0.3], dtype=torch.float64)
    with torch.no_grad():
        (linear,) = [m for m in model.expression_tower.modules() if isinstance(m, nn.Linear)]
        linear.weight.zero_()
        linear.weight[0] = K * c  # only unit 0 matters: f(d) = e_0
        head = model.drug_tower.net[-1]
        head.weight.zero_()
        head.bias.copy_(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    rng = np.random.default_rng(1)
    n = 60
    X = np.column_stack(
        [rng.normal(1.0, 0.5, n), rng.normal(1.0, 0.5, n), rng.normal(-1.0, 0.5, n), np.full(n, 2.0)]
    )
    genes = ["A", "B", "C", "D"]
    frame = cohort_relevance(model, X, drug_index=1, genes=genes, gamma=0.0, rows_per_chunk=7)
    frame = frame.set_index("gene")
    expected_mean = X.mean(axis=0) * c.numpy()
    np.testing.assert_allclose(frame.loc[genes, "mean_relevance"], expected_mean, rtol=1e-5)
    assert frame.loc[["A", "B", "C", "D"], "direction"].tolist() == [
        RESISTANCE,  # c > 0, mostly high expression → pushes log AUC up
        SENSITISING,  # c < 0
        SENSITISING,  # c > 0 but expression below average (negative scaled values)
        RESISTANCE,
    ]
    np.testing.assert_allclose(frame.loc[["A", "B", "C"], "expression_relevance_r"], [1, -1, 1], atol=1e-8)
    np.testing.assert_allclose(frame.loc[["A", "B", "C"], "expression_relevance_slope"], c[:3], rtol=1e-5)
    assert np.isnan(frame.loc["D", "expression_relevance_r"])  # constant expression: no relation defined
    assert frame.loc["A", "rank"] == 1
    assert (frame["n_samples"] == n).all()


def test_hybrid_relevance_adds_exact_linear_part_and_sums_to_prediction() -> None:
    """Hybrid: (1 − w)·LRP(network) + w·x_g·β_gd; Σ genes + stated bias share = prediction, and the linear part's
    relevances are exact (a zero-bias network and zero intercept leave no bias share)."""
    from neurix_core.train.linear import LinearComponent

    model = make_model(zero_bias=True)
    rng = np.random.default_rng(3)
    linear = LinearComponent(
        weights=rng.normal(size=(40, 9)).astype(np.float64),
        intercept=np.zeros(9),
        alpha=np.ones(9),
    )
    x = profiles(3)
    hybrid = InteractionLRP(model, linear=linear, linear_weight=0.4)
    network_only = InteractionLRP(model)
    relevance = hybrid.relevance(x)
    expected = 0.6 * network_only.relevance(x) + 0.4 * x[:, None, :] * torch.as_tensor(linear.weights).T[None]
    torch.testing.assert_close(relevance, expected)
    prediction = hybrid.predict(x)
    torch.testing.assert_close(
        prediction, 0.6 * eval_predictions(model, x) + 0.4 * x @ torch.as_tensor(linear.weights)
    )
    torch.testing.assert_close(relevance.sum(dim=2), prediction, atol=1e-5, rtol=1e-5)
    # with biases and an intercept the stated bias share closes the sum exactly
    biased = InteractionLRP(
        make_model(),
        linear=LinearComponent(linear.weights, np.full(9, 0.3), linear.alpha),
        linear_weight=0.4,
    )
    share = biased.bias_share(x)
    torch.testing.assert_close(biased.relevance(x).sum(dim=2) + share, biased.predict(x))
    assert float(share.abs().min()) > 0.05  # the intercept's 0.4 × 0.3 is part of it
    frame = relevance_frame(biased, x.numpy(), ["a", "b", "c"], [f"g{i}" for i in range(40)], drug_index=[2])
    one = frame[frame["sample"] == "b"]
    assert one["relevance"].sum() + one["bias_share"].iloc[0] == pytest.approx(
        one["prediction"].iloc[0], abs=1e-6
    )


@pytest.mark.parametrize("sparse", [True, False])
def test_closed_form_skips_units_without_relevance_exactly(
    monkeypatch: pytest.MonkeyPatch, sparse: bool
) -> None:
    """The per-profile products over relevance-carrying units only (used for the K-row basis, where about half
    of the first layer's units are behind an inactive ReLU) give zennit's relevances, like the dense products."""
    from neurix_core.explain import gamma_closed_form

    monkeypatch.setattr(gamma_closed_form, "SPARSE_MIN_ROWS", 1 if sparse else 10**9)
    monkeypatch.setattr(gamma_closed_form, "SPARSE_MAX_FRACTION", 1.01)
    model = make_model(seed=4, n_genes=50, latent_dim=10, hidden=(40, 20))
    x = profiles(5, n_genes=50, seed=6)
    hooks = InteractionLRP(model, engine="zennit")
    closed = InteractionLRP(model)
    for method in ("basis", "direct"):
        torch.testing.assert_close(closed.relevance(x, method=method), hooks.relevance(x, method=method))
    torch.testing.assert_close(closed.latent_basis(x), hooks.latent_basis(x))


def test_per_profile_drugs_and_out_buffer_give_the_same_relevances() -> None:
    """``relevance_of_rows`` (each profile its own drugs, as a cohort's compound-level rows) and ``out=`` (a reused
    buffer) change where the numbers are written, not the numbers."""
    from neurix_core.train.linear import LinearComponent

    model = make_model(seed=7)
    rng = np.random.default_rng(0)
    linear = LinearComponent(weights=rng.normal(size=(40, 9)), intercept=rng.normal(size=9), alpha=np.ones(9))
    for explainer in (InteractionLRP(model), InteractionLRP(model, linear=linear, linear_weight=0.4)):
        x = profiles(3)
        everything = explainer.relevance(x)
        rows = torch.tensor([[0, 4, 8], [1, 2, 3], [8, 7, 5]])
        got = explainer.relevance_of_rows(x, rows)
        torch.testing.assert_close(got, torch.gather(everything, 1, rows[..., None].expand(-1, -1, 40)))
        buffer = torch.full((3, 9, 40), float("nan"), dtype=torch.float64)
        assert explainer.relevance(x, out=buffer) is buffer
        torch.testing.assert_close(buffer, everything)
        with pytest.raises(ValueError, match="profiles × drugs"):
            explainer.relevance_of_rows(x, rows[:2])
        with pytest.raises(IndexError):
            explainer.relevance_of_rows(x, rows + 9)
