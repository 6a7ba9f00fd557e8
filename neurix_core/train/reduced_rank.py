"""The reduced-rank linear part of the hybrid: an interaction model whose expression tower is one linear layer.

Why: per-drug ridge fits each drug alone; a linear expression map g(x) = Ax + a shared by all drugs, read out by the
drug tower's f(d), learns gene programmes across drugs (rank ≤ the latent size), as reduced-rank regression does. On
the selection split it predicted as well as the deep network by itself, and a fifth of it in the hybrid added
+0.0036 mean per-drug ρ over two seeds (``benchmarks/model_selection.py``, ``…:reduced`` runs).

Because ŷ_d(x) = mean_k f_k(d)·(A_k·x + a_k) is linear in x, it collapses exactly into per-drug weights
w_d = Aᵀf(d)/K and intercept b_d = a·f(d)/K: it joins the ridge in the hybrid's linear part, whose gene relevances
are exact (x_g·w_gd), and costs nothing extra to store or to predict.
"""

from __future__ import annotations

import numpy as np
import torch

from neurix_core.model.towers import InteractionModel
from neurix_core.train.linear import LinearComponent

REDUCED_RANK_ARCHITECTURE = {
    "expression_hidden": ()
}  # genes → latent in one linear layer (input dropout kept)


def collapse_to_linear(model: InteractionModel) -> LinearComponent:
    """Per-drug weights (genes × drugs) and intercepts of a model with a linear expression tower, in eval mode."""
    layers = [m for m in model.expression_tower.net if isinstance(m, torch.nn.Linear)]
    if len(layers) != 1 or any(isinstance(m, torch.nn.ReLU) for m in model.expression_tower.net):
        raise ValueError(
            "only an interaction model with a single linear expression layer collapses to weights"
        )
    model.eval()
    with torch.no_grad():
        drug_latent = model.drug_latent()  # drugs × K
        k = drug_latent.shape[1]
        weights = layers[0].weight.T @ drug_latent.T / k  # genes × drugs
        intercept = drug_latent @ layers[0].bias / k
    n_drugs = drug_latent.shape[0]
    return LinearComponent(
        weights=weights.numpy().astype(np.float32),
        intercept=intercept.numpy().astype(np.float32),
        alpha=np.full(n_drugs, np.nan),
    )


def blend_linear(parts: list[tuple[LinearComponent, float]]) -> tuple[LinearComponent, float]:
    """One linear component Σ sᵢ·partᵢ / Σ sᵢ and its total share Σ sᵢ: the hybrid's linear part as one set of
    weights. The ridge's chosen penalties (``alpha``) are kept from the first part that has them."""
    total = float(sum(share for _, share in parts))
    if total <= 0:
        raise ValueError("the linear parts' shares must add up to more than 0")
    weights = sum(part.weights.astype(np.float64) * share for part, share in parts) / total
    intercept = sum(part.intercept.astype(np.float64) * share for part, share in parts) / total
    alphas = [part.alpha for part, _ in parts if np.isfinite(part.alpha).any()]
    alpha = alphas[0] if alphas else parts[0][0].alpha
    return (
        LinearComponent(
            weights=np.asarray(weights, dtype=np.float32),
            intercept=np.asarray(intercept, dtype=np.float32),
            alpha=alpha,
        ),
        total,
    )
