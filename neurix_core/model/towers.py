"""The NeurixAI two-tower interaction network.

prediction(x, d) = mean_k f_k(d) · g_k(x), where g is the expression tower (a plain Linear/ReLU MLP, so that LRP
applies) and f the drug tower (learned identity embedding + fingerprint MLP). For all cell lines × all drugs the
prediction is a single matrix product G Fᵀ / K.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional


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


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with a cheaper mask: torch's CPU ``bernoulli_`` took a third of a training step, uniform draws
    compared with p cost a third as much. Same expectation and scaling; an identity in eval mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p >= 1:
            return x * 0.0
        keep = torch.rand_like(x).ge_(self.p)  # P(keep) = 1 − p
        return x.mul(keep).mul_(1.0 / (1.0 - self.p))


def mlp(sizes: list[int], dropout: float, input_dropout: float = 0.0) -> nn.Sequential:
    """Linear/ReLU stack; the last layer is linear so latent units can take either sign."""
    layers: list[nn.Module] = []
    if input_dropout > 0:
        layers.append(FastDropout(input_dropout))
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(FastDropout(dropout))
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
        self._sparse: tuple[torch.Tensor, torch.Tensor] | None = None
        self._sparse_key: tuple | None = None

    def forward(self, drug_index: torch.Tensor | None = None) -> torch.Tensor:
        """f(d) for the given drugs (all, in order, when None: the training path)."""
        # the first layer W·[fingerprint; identity] + b in two halves: the same function and parameters as one
        # dense layer, but the fingerprint half needs no input gradient, and for all drugs it is a sparse product
        # (~4% of 1,024 bits are set): a third of a training step's arithmetic was this layer
        first = self.net[0]
        n_bits = self.fingerprints.shape[1]
        if drug_index is None:
            drug_index = torch.arange(self.fingerprints.shape[0], device=self.fingerprints.device)
            fingerprint_part = _SparseProduct.apply(first.weight[:, :n_bits].T, *self._sparse_fingerprints())
        else:
            fingerprint_part = functional.linear(self.fingerprints[drug_index], first.weight[:, :n_bits])
        hidden = fingerprint_part + functional.linear(
            self.identity(drug_index), first.weight[:, n_bits:], first.bias
        )
        latent = self.net[1:](hidden)
        if self.identity_latent is not None:
            latent = latent + self.identity_latent(drug_index)
        return latent

    def __getstate__(self) -> dict:
        """Copies and pickles leave the sparse cache behind (sparse tensors have no storage to copy)."""
        return {**self.__dict__, "_sparse": None, "_sparse_key": None}

    def _sparse_fingerprints(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The fingerprint buffer and its transpose as CSR matrices, rebuilt only when the buffer changes (loading,
        moving to another device)."""
        key = (self.fingerprints.data_ptr(), self.fingerprints._version, self.fingerprints.device)
        if self._sparse_key != key:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
                self._sparse = (self.fingerprints.to_sparse_csr(), self.fingerprints.T.to_sparse_csr())
            self._sparse_key = key
        return self._sparse


class _SparseProduct(torch.autograd.Function):
    """fingerprints @ weight for a fixed sparse fingerprint matrix: the weight's gradient comes from the stored
    transpose instead of transposing the sparse matrix again in every backward pass."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        weight: torch.Tensor,
        sparse: torch.Tensor,
        transposed: torch.Tensor,
    ) -> torch.Tensor:
        ctx.transposed = transposed
        return torch.sparse.mm(sparse, weight)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple:
        return torch.sparse.mm(ctx.transposed, grad), None, None


class InteractionModel(nn.Module):
    """Two towers and their interaction: predictions for a batch of profiles × a set of drugs at once."""

    def __init__(self, config: ModelConfig, fingerprints: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.expression_tower = ExpressionTower(config)
        self.drug_tower = DrugTower(config, fingerprints)

    def drug_latent(self, drug_index: torch.Tensor | None = None) -> torch.Tensor:
        """f(d) for the given drugs (all drugs when None): drugs × K."""
        return self.drug_tower(drug_index)

    @staticmethod
    def interact(expression_latent: torch.Tensor, drug_latent: torch.Tensor) -> torch.Tensor:
        """mean_k f_k(d)·g_k(x) for every (profile, drug): profiles × drugs."""
        return expression_latent @ drug_latent.T / expression_latent.shape[1]

    def forward(self, expression: torch.Tensor, drug_index: torch.Tensor | None = None) -> torch.Tensor:
        return self.interact(self.expression_tower(expression), self.drug_latent(drug_index))


# training settings added after bundles and results files were first written, with the value those files ran with
SETTINGS_BEFORE_THEY_EXISTED = {"joint_hybrid": False, "reduced_rank_weight": 0.0}


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
    # shares of the hybrid's parts, the best mean over two seeds on the selection split
    # (benchmarks/results/model_selection.json): the per-drug ridge, the reduced-rank linear model
    # (neurix_core/train/reduced_rank.py), and the network the rest (0.45)
    linear_weight: float = 0.35  # per-drug ridge (0 with reduced_rank_weight 0 = network only)
    reduced_rank_weight: float = 0.2
    # hybrid trained jointly: the network learns what the ridge part's leave-one-out predictions leave unexplained
    # (loss on (1 − w)·network + w·ridge_LOO), instead of the full response beside it
    joint_hybrid: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, values: dict) -> TrainingConfig:
        """Settings as a bundle or results file recorded them; settings added since take the value they had then."""
        return cls(**{**SETTINGS_BEFORE_THEY_EXISTED, **values})
