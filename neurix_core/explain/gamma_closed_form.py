"""zennit's generalised LRP-γ rule in closed form, for many output-relevance rows that share one input.

Why: explaining a profile for every drug needs one backward pass per latent unit (the K-row basis, see
``explain/lrp.py``), and all K rows share the same input. zennit's ``Gamma`` hook recomputes, for every row, five
modified forward passes and four backward passes of each Linear layer — about nine matrix products per row — although
the forward quantities (the layer inputs and the rule's denominators) depend on the profile alone. Here they are
computed once per profile, and each row costs two matrix products per layer. The result is the same rule, not an
approximation: tests check it against zennit's own hooks (``InteractionLRP(engine="zennit")``) to float rounding.

For a Linear layer z = W·a + b, output relevance R and γ ≥ 0, zennit's generalised γ rule (``zennit.rules.Gamma``
with its default stabiliser s(v) = v + ε·sign(v), sign(0) = +1) is

    d⁺ = z + γ·(W⁺a⁺ + W⁻a⁻ + b⁺)        c⁺ = [z > 0]·R / s(d⁺)
    d⁻ = z + γ·(W⁻a⁺ + W⁺a⁻ + b⁻)        c⁻ = [z < 0]·R / s(d⁻)
    R_in = a⁺ ⊙ [(W + γW⁺)ᵀc⁺ + (W + γW⁻)ᵀc⁻] + a⁻ ⊙ [(W + γW⁻)ᵀc⁺ + (W + γW⁺)ᵀc⁻]

(⁺/⁻: positive/negative parts). Because W⁺ + W⁻ = W, W⁺ − W⁻ = |W|, a⁺ + a⁻ = a and a⁺ − a⁻ = |a|, this is

    R_in = (1 + γ/2)·a ⊙ Wᵀ(c⁺ + c⁻) + (γ/2)·|a| ⊙ |W|ᵀ(c⁺ − c⁻),

and likewise W⁺a⁺ + W⁻a⁻ = (Wa + |W||a|)/2 and W⁻a⁺ + W⁺a⁻ = (Wa − |W||a|)/2: the forward pass needs Wa (which z
has) and one product with |W|, which the backward step reuses. (The weight matrix of the first layer is the
largest object involved; each pass over it costs more than the arithmetic, so the four products with W⁺ and W⁻
that the rule is usually written with were most of an explanation's time.)

ReLU passes relevance where its input was positive (the plain gradient, as with zennit, which hooks no ReLU);
eval-mode Dropout is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from neurix_core.matmul import matmul

ZENNIT_STABILISER = 1e-6  # zennit.rules.Gamma's default ``stabilizer``
# the per-profile products over relevance-carrying units only: worth it for many rows per profile (the K-row
# basis; one row per profile, as for one drug over many lines, would be hundreds of tiny products), when at most this
# share of a layer's outputs carries relevance
SPARSE_MIN_ROWS = 64
SPARSE_MAX_FRACTION = 0.8


@dataclass
class _LinearState:
    """What one Linear layer's rule needs from the forward pass of a batch of profiles."""

    layer: nn.Linear
    abs_weight: Tensor  # |W|: out × in (computed once per forward pass, used by both passes)
    input: Tensor  # profiles × in
    positive_scale: Tensor  # profiles × out: [z > 0] / s(d⁺)
    negative_scale: Tensor  # profiles × out: [z < 0] / s(d⁻)


def _stabilise(value: Tensor, epsilon: float) -> Tensor:
    """zennit's default stabiliser: shift away from zero by ε with the entry's sign (+ε for 0)."""
    return value + epsilon * ((value == 0).to(value) + value.sign())


def _layers(tower: nn.Module) -> list[nn.Module]:
    """The tower's Linear/ReLU/Dropout layers in execution order (nested Sequentials flattened)."""
    return [m for m in tower.modules() if isinstance(m, (nn.Linear, nn.ReLU, nn.Dropout))]


def _forward(
    tower: nn.Module, x: Tensor, gamma: float, epsilon: float
) -> tuple[Tensor, list[_LinearState | Tensor]]:
    """One forward pass per profile: the latent output and, per layer, what its backward step needs (a
    ``_LinearState`` for a Linear layer, the active-unit mask for a ReLU)."""
    if tower.training:
        raise RuntimeError("the closed-form γ rule needs an eval-mode tower (Dropout must be the identity)")
    states: list[_LinearState | Tensor] = []
    a = x
    for layer in _layers(tower):
        if isinstance(layer, nn.Linear):
            weight = layer.weight.detach()
            bias = None if layer.bias is None else layer.bias.detach()
            abs_weight = weight.abs()
            linear = matmul(a, weight.T)
            z = linear + (bias if bias is not None else 0.0)
            magnitude = matmul(a.abs(), abs_weight.T)
            agreeing_up = (linear + magnitude) / 2  # W⁺a⁺ + W⁻a⁻
            agreeing_down = (linear - magnitude) / 2  # W⁻a⁺ + W⁺a⁻
            if bias is not None:
                agreeing_up = agreeing_up + bias.clamp(min=0)
                agreeing_down = agreeing_down + bias.clamp(max=0)
            states.append(
                _LinearState(
                    layer=layer,
                    abs_weight=abs_weight,
                    input=a,
                    positive_scale=(z > 0).to(z) / _stabilise(z + gamma * agreeing_up, epsilon),
                    negative_scale=(z < 0).to(z) / _stabilise(z + gamma * agreeing_down, epsilon),
                )
            )
            a = z
        elif isinstance(layer, nn.ReLU):
            states.append(a > 0)
            a = a.clamp(min=0)
        # eval-mode Dropout: identity
    return a, states


def _backward_linear(state: _LinearState, relevance: Tensor, gamma: float) -> Tensor:
    """profiles × rows × out relevance → profiles × rows × in, by the closed form in the module docstring."""
    profiles, rows, n_out = relevance.shape
    positive = relevance * state.positive_scale[:, None, :]
    negative = relevance * state.negative_scale[:, None, :]
    weight = state.layer.weight.detach()  # out × in
    total, difference = positive + negative, positive - negative
    # output units that carry no relevance for a profile (e.g. behind an inactive ReLU: about half of them) add
    # exact zeros: the products skip them, profile by profile, when that saves enough to pay for the gathers
    carrying = (total != 0).any(dim=1) | (difference != 0).any(dim=1)  # profiles × out
    if rows >= SPARSE_MIN_ROWS and float(carrying.float().mean()) < SPARSE_MAX_FRACTION:
        # rows-major products R · W_units: on numpy's BLAS where torch has one thread (``neurix_core/matmul.py``),
        # 7 ms per profile of the basis's first layer against 11.5 ms for torch's fastest layout (Wᵀ_units · Rᵀ);
        # with more threads torch runs this layout as fast as that one (explain_speed: 0.047-0.051 s, 0.047-0.055)
        summed = relevance.new_empty(profiles, rows, weight.shape[1])
        contrast = torch.empty_like(summed)
        gathered = relevance.new_empty(weight.shape)  # the carrying rows of W, then of |W|, per profile
        for p in range(profiles):
            units = carrying[p].nonzero().squeeze(1)
            rows_of = gathered[: units.numel()]
            torch.index_select(weight, 0, units, out=rows_of)
            matmul(total[p][:, units], rows_of, out=summed[p])
            torch.index_select(state.abs_weight, 0, units, out=rows_of)
            matmul(difference[p][:, units], rows_of, out=contrast[p])
    else:
        summed = matmul(total.reshape(-1, n_out), weight).view(profiles, rows, -1)
        contrast = matmul(difference.reshape(-1, n_out), state.abs_weight).view(profiles, rows, -1)
    a = state.input[:, None, :]
    # in place on the two product outputs: for the first layer they are profiles × K × genes, and every
    # temporary of that size costs more (allocation, page faults, a pass over memory) than the arithmetic
    summed.mul_(a * (1.0 + gamma / 2))
    return summed.add_(contrast.mul_(a.abs() * (gamma / 2)))


@torch.no_grad()
def gamma_relevance(
    tower: nn.Module, x: Tensor, output_relevance: Tensor, gamma: float, epsilon: float = ZENNIT_STABILISER
) -> tuple[Tensor, Tensor]:
    """Generalised LRP-γ through an eval-mode Linear/ReLU/Dropout tower, several relevance rows per profile.

    ``x``: profiles × genes; ``output_relevance``: profiles × rows × K (relevance entering the tower's K outputs),
    or a callable of the latent g(x) (profiles × K) returning it. Returns (latent g(x): profiles × K,
    relevance: profiles × rows × genes).
    """
    latent, states = _forward(tower, x, gamma, epsilon)
    relevance = output_relevance(latent) if callable(output_relevance) else output_relevance
    if relevance.ndim != 3 or relevance.shape[0] != x.shape[0] or relevance.shape[2] != latent.shape[1]:
        raise ValueError(
            f"output relevance must be profiles × rows × {latent.shape[1]}, got {tuple(relevance.shape)}"
        )
    for state in reversed(states):
        if isinstance(state, _LinearState):
            relevance = _backward_linear(state, relevance, gamma)
        else:  # ReLU: relevance passes where the unit was active
            relevance = relevance * state[:, None, :].to(relevance)
    return latent, relevance
