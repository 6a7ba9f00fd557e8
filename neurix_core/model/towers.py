"""The NeurixAI two-tower interaction network.

prediction(x, d) = mean_k f_k(d) · g_k(x), where g is the expression tower (a plain Linear/ReLU MLP, so that LRP
applies) and f the drug tower (learned identity embedding + fingerprint MLP). For all cell lines × all drugs the
prediction is a single matrix product G Fᵀ / K.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters, stored in the bundle so the network can be rebuilt exactly."""

    n_genes: int
    n_drugs: int
    fingerprint_bits: int
    latent_dim: int = 128
    expression_hidden: tuple[int, ...] = (512, 256)
    drug_hidden: tuple[int, ...] = (256,)
    drug_embedding_dim: int = 128
    input_dropout: float = 0.5
    dropout: float = 0.5  # expression tower hidden layers
    drug_dropout: float = 0.1  # drug tower: light, so drugs with a strong specific signal keep it
    drug_identity_latent: bool = True  # a free per-drug offset added to f(d) (see DrugTower)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        values = dict(values)
        values.setdefault("drug_identity_latent", False)  # bundles written before the field existed
        for key in ("expression_hidden", "drug_hidden"):
            values[key] = tuple(values[key])
        return cls(**values)


def mlp(sizes: list[int], dropout: float, input_dropout: float = 0.0) -> nn.Sequential:
    """Linear/ReLU stack; the last layer is linear so latent units can take either sign."""
    layers: list[nn.Module] = []
    if input_dropout > 0:
        layers.append(nn.Dropout(input_dropout))
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class ExpressionTower(nn.Module):
    """g(x): scaled expression (genes) → latent vector (K). Only Linear, ReLU and Dropout layers."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        sizes = [config.n_genes, *config.expression_hidden, config.latent_dim]
        self.net = mlp(sizes, config.dropout, config.input_dropout)

    def forward(self, expression: torch.Tensor) -> torch.Tensor:
        return self.net(expression)


class DrugTower(nn.Module):
    """f(d): drug identity (embedding) and Morgan fingerprint → latent vector (K).

    With ``drug_identity_latent`` a free per-drug vector u_d (zero at the start) is added to the MLP's output:
    the fingerprint MLP shares what similar drugs have in common, u_d keeps what is specific to one drug. Cell-line
    CV chose it: without it the shared bottleneck cost the drugs with the strongest own signal (chemotherapy most).

    The fingerprints of the drugs the model knows are a buffer, so the tower takes drug indices and the bundle needs
    no chemistry toolkit at prediction time.
    """

    def __init__(self, config: ModelConfig, fingerprints: torch.Tensor | None = None) -> None:
        super().__init__()
        if fingerprints is None:
            fingerprints = torch.zeros(config.n_drugs, config.fingerprint_bits)
        self.register_buffer("fingerprints", fingerprints.float())
        self.identity = nn.Embedding(config.n_drugs, config.drug_embedding_dim)
        nn.init.normal_(self.identity.weight, std=0.1)
        sizes = [config.fingerprint_bits + config.drug_embedding_dim, *config.drug_hidden, config.latent_dim]
        self.net = mlp(sizes, config.drug_dropout)
        self.identity_latent: nn.Embedding | None = None
        if config.drug_identity_latent:
            self.identity_latent = nn.Embedding(config.n_drugs, config.latent_dim)
            nn.init.zeros_(self.identity_latent.weight)

    def forward(self, drug_index: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.fingerprints[drug_index], self.identity(drug_index)], dim=1)
        latent = self.net(features)
        if self.identity_latent is not None:
            latent = latent + self.identity_latent(drug_index)
        return latent


class InteractionModel(nn.Module):
    """Two towers and their interaction: predictions for a batch of profiles × a set of drugs at once."""

    def __init__(self, config: ModelConfig, fingerprints: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.expression_tower = ExpressionTower(config)
        self.drug_tower = DrugTower(config, fingerprints)

    def drug_latent(self, drug_index: torch.Tensor | None = None) -> torch.Tensor:
        """f(d) for the given drugs (all drugs when None): drugs × K."""
        if drug_index is None:
            drug_index = torch.arange(self.config.n_drugs, device=self.drug_tower.fingerprints.device)
        return self.drug_tower(drug_index)

    @staticmethod
    def interact(expression_latent: torch.Tensor, drug_latent: torch.Tensor) -> torch.Tensor:
        """mean_k f_k(d)·g_k(x) for every (profile, drug): profiles × drugs."""
        return expression_latent @ drug_latent.T / expression_latent.shape[1]

    def forward(self, expression: torch.Tensor, drug_index: torch.Tensor | None = None) -> torch.Tensor:
        return self.interact(self.expression_tower(expression), self.drug_latent(drug_index))


@dataclass
class TrainingConfig:
    """Optimisation settings, chosen with the architecture by cell-line CV on GDSC1+GDSC2
    (benchmarks/hyperparameter_search.py; results in benchmarks/results/hyperparameter_search_round*.json)."""

    epochs: int = 80
    # 64 (was 32): on the selection split the hybrid scores 0.3786 against 0.3787 with 32 (seed 0; seed noise
    # ~0.003, benchmarks/results/model_selection.json) at half the optimiser steps per epoch
    batch_cell_lines: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.1
    seed: int = 0
    linear_weight: float = 0.5  # share of the per-drug ridge part in the hybrid (0 = network only)
    # hybrid trained jointly: the network learns what the ridge part's leave-one-out predictions leave unexplained
    # (loss on (1 − w)·network + w·ridge_LOO), instead of the full response beside it
    joint_hybrid: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)
