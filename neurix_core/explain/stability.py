"""Explanation stability: does a profile's gene ranking survive a change of the cell lines the model was trained on?

The bundle ships a few cross-validation fold models (``members.pt``: expression towers and drug latent vectors in
float16, ~6 MB each, plus their gene scalers). For a (sample, drug) the served model's relevances are compared with
each member's: rank correlation over all genes, overlap of the top 20, and per gene in how many members it is among
the top genes with the same sign. A gene that only one model finds is a weaker lead than one all models agree on.
Bundles without members report stability as unavailable.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurix_core.explain.lrp import InteractionLRP
from neurix_core.features.scaling import GeneScaler
from neurix_core.model.towers import ExpressionTower, ModelConfig
from neurix_core.train.fit import FittedModel

MEMBERS_FILE = "members.pt"
N_MEMBERS = 3  # fold models shipped: ~6 MB each in float16
TOP = 20  # "top genes" for overlap and per-gene marks
STABLE, PARTLY, UNSTABLE = "stable", "partly stable", "model-specific"
SYMBOLS = {STABLE: "●", PARTLY: "◐", UNSTABLE: "○"}  # shown after a gene's name
LEGEND = (
    "● stable: a top-20 gene with the same sign in every shipped fold model · ◐ in at least half of them · "
    "○ specific to the served model (a weaker lead)"
)


class MemberModel(nn.Module):
    """An expression tower with fixed drug latent vectors: what LRP needs from a fold model."""

    def __init__(self, tower: ExpressionTower, drug_latents: torch.Tensor) -> None:
        super().__init__()
        self.expression_tower = tower
        self.register_buffer("latents", drug_latents)

    def drug_latent(self) -> torch.Tensor:
        return self.latents


@dataclass
class Member:
    """One fold model, ready to explain a profile scaled with its own gene scaler."""

    explainer: InteractionLRP
    scaler: GeneScaler


def save_members(
    directory: Path, fold_models: Sequence[FittedModel], n_members: int = N_MEMBERS
) -> list[str]:
    """Write the first ``n_members`` fold models (float16 weights) as ``members.pt``."""
    state: dict[str, torch.Tensor] = {}
    for i, fitted in enumerate(list(fold_models)[:n_members]):
        with torch.no_grad():
            latents = fitted.model.eval().drug_latent().detach()
        for name, value in fitted.model.expression_tower.state_dict().items():
            state[f"{i}.tower.{name}"] = value.detach().half()
        state[f"{i}.latents"] = latents.half()
        state[f"{i}.scaler_mean"] = torch.from_numpy(np.asarray(fitted.gene_scaler.mean, np.float32))
        state[f"{i}.scaler_std"] = torch.from_numpy(np.asarray(fitted.gene_scaler.std, np.float32))
    torch.save(state, directory / MEMBERS_FILE)
    return [MEMBERS_FILE]


def load_members(data: bytes, config: ModelConfig) -> list[Member]:
    """Members from ``members.pt`` bytes (weights_only: no pickled code), computed in float32."""
    state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    members = []
    for i in sorted({int(key.split(".", 1)[0]) for key in state}):
        tower = ExpressionTower(config)
        prefix = f"{i}.tower."
        tower.load_state_dict({k[len(prefix) :]: v.float() for k, v in state.items() if k.startswith(prefix)})
        model = MemberModel(tower, state[f"{i}.latents"].float()).eval()
        scaler = GeneScaler(mean=state[f"{i}.scaler_mean"].numpy(), std=state[f"{i}.scaler_std"].numpy())
        members.append(Member(InteractionLRP(model), scaler))  # type: ignore[arg-type]
    return members


def member_relevance(members: Sequence[Member], zscored: np.ndarray, drug_index: Sequence[int]) -> np.ndarray:
    """members × drugs × genes relevance of one sample (within-sample z, NaN = not measured)."""
    return np.stack(
        [
            m.explainer.relevance(m.scaler.transform(zscored[None, :]), list(drug_index))[0].numpy()
            for m in members
        ]
    )


def _top_sets(relevance: np.ndarray, top: int) -> np.ndarray:
    """... × genes boolean: the ``top`` genes by |relevance|."""
    order = np.argsort(-np.abs(relevance), axis=-1)[..., :top]
    mask = np.zeros(relevance.shape, bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask


def _rank_rows(values: np.ndarray) -> np.ndarray:
    return values.argsort(axis=-1).argsort(axis=-1).astype(np.float64)


def stability(reference: np.ndarray, members: np.ndarray, top: int = TOP) -> dict[str, np.ndarray]:
    """Agreement of the served model's relevances (drugs × genes) with the members' (members × drugs × genes).

    Returns per drug ``rank_correlation`` (mean Spearman of relevances over genes) and ``top_overlap`` (mean share
    of the served top-``top`` genes that a member also has in its top), and per (drug, gene) ``agreeing``: members
    that have the gene in their top ``top`` with the same sign, out of ``n_members``.
    """
    n_members = members.shape[0]
    ranks = _rank_rows(reference)
    ranks -= ranks.mean(axis=-1, keepdims=True)
    member_ranks = _rank_rows(members)
    member_ranks -= member_ranks.mean(axis=-1, keepdims=True)
    rho = (member_ranks * ranks).sum(-1) / np.sqrt((member_ranks**2).sum(-1) * (ranks**2).sum(-1))
    ref_top = _top_sets(reference, top)
    member_top = _top_sets(members, top)
    overlap = (member_top & ref_top).sum(-1) / top
    same_sign = np.sign(members) == np.sign(reference)
    agreeing = (member_top & same_sign).sum(0)
    return {
        "rank_correlation": rho.mean(0),
        "top_overlap": overlap.mean(0),
        "agreeing": agreeing,
        "n_members": np.full(reference.shape[0], n_members),
    }


MARKS = (UNSTABLE, PARTLY, STABLE)  # indexed by ``stability_levels``


def stability_levels(agreeing: np.ndarray, n_members: int) -> np.ndarray:
    """All members agree → 2 (stable); at least half → 1 (partly stable); fewer → 0 (specific to the served
    model), for an array of agreeing-member counts."""
    agreeing = np.asarray(agreeing)
    return np.where(agreeing >= n_members, 2, np.where(2 * agreeing >= n_members, 1, 0))


def stability_mark(agreeing: int, n_members: int) -> str:
    """The mark of one gene (see :func:`stability_levels`)."""
    return MARKS[int(stability_levels(agreeing, n_members))]


def stability_marks(agreeing: np.ndarray, n_members: int) -> np.ndarray:
    """:func:`stability_mark` for an array of agreeing-member counts."""
    return np.asarray(MARKS)[stability_levels(agreeing, n_members)]
