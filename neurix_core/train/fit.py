"""Training the interaction model as what it is: a product of two towers over (cell lines × drugs).

Each step runs the expression tower once per cell line in the batch and the drug tower once per drug, and forms every
prediction of the batch by one matrix product; untested pairs are masked out of the loss. This is ~drugs-fold less
expression-tower work than a per-(cell line, drug) minibatch loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from neurix_core.data.dataset import ResponseData
from neurix_core.features.fingerprints import FINGERPRINT_BITS, morgan_fingerprints
from neurix_core.features.scaling import GeneScaler
from neurix_core.model.towers import InteractionModel, ModelConfig, TrainingConfig
from neurix_core.train.linear import LinearComponent, fit_linear_component
from neurix_core.train.reduced_rank import REDUCED_RANK_ARCHITECTURE, blend_linear, collapse_to_linear

ProgressCallback = Callable[[int, int, float], None]  # (epoch, epochs, training loss)


@dataclass
class TargetScaler:
    """Per-drug mean/sd of log AUC on the training cell lines: the model predicts z = (log AUC − mean) / sd."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, log_auc: np.ndarray) -> TargetScaler:
        counts = np.isfinite(log_auc).sum(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(log_auc, axis=0)
            std = np.nanstd(log_auc, axis=0)
        mean[counts == 0] = 0.0
        std[(counts < 2) | ~np.isfinite(std) | (std < 1e-6)] = 1.0
        return cls(mean=mean.astype(np.float32), std=std.astype(np.float32))

    def transform(self, log_auc: np.ndarray) -> np.ndarray:
        return (log_auc - self.mean) / self.std


@dataclass
class FittedModel:
    """A trained network with the scalers it was trained with: everything needed to predict new profiles."""

    model: InteractionModel
    gene_scaler: GeneScaler
    target_scaler: TargetScaler
    training: TrainingConfig
    loss_history: list[float]
    # hybrid: the linear part (ridge and reduced rank, blended into one set of weights) beside the network
    linear: LinearComponent | None = None
    linear_weight: float = 0.0  # prediction = (1 − w)·network + w·linear (w = 0 without a linear part)
    # the linear part's own pieces, for evaluation right after training (bundles store only their blend)
    ridge: LinearComponent | None = None
    reduced_rank: LinearComponent | None = None

    def predict_scaled(
        self, scaled_expression: np.ndarray, batch_size: int = 512, drug_latent: torch.Tensor | None = None
    ) -> np.ndarray:
        """z-scored log AUC predictions (profiles × all drugs) for already-scaled expression; ``drug_latent``
        (all drugs' f(d)) may be passed in by a server that computed it once for a fixed model."""
        network = self.predict_network(scaled_expression, batch_size, drug_latent)
        if self.linear is None:
            return network
        w = self.linear_weight
        return ((1.0 - w) * network + w * self.linear.predict(scaled_expression)).astype(np.float32)

    def predict_network(
        self, scaled_expression: np.ndarray, batch_size: int = 512, drug_latent: torch.Tensor | None = None
    ) -> np.ndarray:
        """The interaction network's part alone (profiles × drugs)."""
        self.model.eval()
        outputs = []
        with torch.no_grad():
            drug_latent = self.model.drug_latent() if drug_latent is None else drug_latent
            for start in range(0, len(scaled_expression), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(scaled_expression[start : start + batch_size]))
                outputs.append(self.model.interact(self.model.expression_tower(batch), drug_latent).numpy())
        return np.concatenate(outputs) if outputs else np.zeros((0, self.model.config.n_drugs), np.float32)

    def predict(self, expression: np.ndarray) -> np.ndarray:
        """Predictions for within-sample z-scored expression over the model genes (NaN = gene not measured)."""
        return self.predict_scaled(self.gene_scaler.transform(expression))


def drug_fingerprints(data: ResponseData, n_bits: int = FINGERPRINT_BITS) -> torch.Tensor:
    features, _ = morgan_fingerprints(data.drugs["smiles"].fillna("").tolist(), n_bits=n_bits)
    return torch.from_numpy(features)


def fit(
    data: ResponseData,
    training: TrainingConfig | None = None,
    architecture: dict | None = None,
    fingerprints: torch.Tensor | None = None,
    progress: ProgressCallback | None = None,
    device: str = "cpu",
) -> FittedModel:
    """Train on every observed (cell line, drug) pair of ``data``; scalers are fitted on ``data`` alone.

    ``device`` may be a GPU ("cuda") for large-scale training; the returned model always lives on the CPU.
    """
    training = training or TrainingConfig()
    torch.manual_seed(training.seed)
    rng = np.random.default_rng(training.seed)
    has_response = np.isfinite(data.log_auc).any(axis=1)
    expression = data.expression[has_response]
    gene_scaler = GeneScaler.fit(expression)
    target_scaler = TargetScaler.fit(data.log_auc[has_response])
    x_all = torch.from_numpy(gene_scaler.transform(expression))
    y_scaled = target_scaler.transform(data.log_auc[has_response])
    observed_all = torch.from_numpy(np.isfinite(y_scaled)).to(device)
    y_all = torch.from_numpy(np.nan_to_num(y_scaled, nan=0.0).astype(np.float32)).to(device)
    if fingerprints is None:
        fingerprints = drug_fingerprints(data)
    config = ModelConfig(
        n_genes=len(data.genes),
        n_drugs=len(data.drugs),
        fingerprint_bits=fingerprints.shape[1],
        **(architecture or {}),
    )
    model = InteractionModel(config, fingerprints).to(device)
    x_all = x_all.to(device)
    linear, offset_all = None, None
    if training.linear_weight > 0:
        x_host = x_all.cpu().numpy()
        linear, loo = fit_linear_component(x_host, y_scaled)
        if training.joint_hybrid:
            # out-of-sample ridge predictions on the training lines (the in-sample fit is near perfect): what the
            # ridge part will contribute for a new tumour; untested pairs carry no loss, unfitted drugs its constant
            ridge = np.where(np.isfinite(loo), loo, linear.predict(x_host))
            offset_all = torch.from_numpy((training.linear_weight * ridge).astype(np.float32)).to(device)
    network_share = 1.0 - training.linear_weight if offset_all is not None else 1.0
    history = _train(model, x_all, y_all, observed_all, training, rng, progress, offset_all, network_share)
    model.cpu()  # _train left it in eval mode
    fitted = FittedModel(model, gene_scaler, target_scaler, training, history)
    parts = [(linear, training.linear_weight)] if linear is not None else []
    if training.reduced_rank_weight > 0:
        torch.manual_seed(training.seed + 1)  # its own start: the network above trains exactly as without it
        reduced_model = InteractionModel(
            ModelConfig.from_dict({**config.to_dict(), **REDUCED_RANK_ARCHITECTURE}), fingerprints
        ).to(device)
        _train(
            reduced_model,
            x_all,
            y_all,
            observed_all,
            training,
            np.random.default_rng(training.seed + 1),
            progress,
        )
        fitted.reduced_rank = collapse_to_linear(reduced_model.cpu())
        parts.append((fitted.reduced_rank, training.reduced_rank_weight))
    fitted.ridge = linear
    if parts:
        fitted.linear, fitted.linear_weight = blend_linear(parts)
    return fitted


def _train(
    model: InteractionModel,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    observed_all: torch.Tensor,
    training: TrainingConfig,
    rng: np.random.Generator,
    progress: ProgressCallback | None = None,
    offset_all: torch.Tensor | None = None,
    network_share: float = 1.0,
) -> list[float]:
    """AdamW with cosine decay over batches of cell lines (every drug at once); returns the loss per epoch.

    ``offset_all`` (joint hybrid): a fixed part added to ``network_share`` × the model's prediction."""
    # fused: one kernel per step instead of a dozen passes over every parameter (a quarter of a CPU step)
    optimiser = torch.optim.AdamW(
        model.parameters(),
        lr=training.learning_rate,
        weight_decay=training.weight_decay,
        fused=x_all.device.type in ("cpu", "cuda"),
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(training.epochs, 1))
    n_cells = x_all.shape[0]
    weight_all = observed_all.to(y_all.dtype)  # 1 for a tested pair, 0 for an untested one
    tested_per_line = observed_all.sum(dim=1).cpu().numpy()
    history: list[float] = []
    for epoch in range(training.epochs):
        model.train()
        order_host = rng.permutation(n_cells)
        order = torch.from_numpy(order_host).to(x_all.device)
        total, weight = 0.0, 0
        for start in range(0, n_cells, training.batch_cell_lines):
            n_observed = int(tested_per_line[order_host[start : start + training.batch_cell_lines]].sum())
            if n_observed == 0:
                continue
            batch = order[start : start + training.batch_cell_lines]
            prediction = model(x_all[batch])
            if offset_all is not None:
                prediction = network_share * prediction + offset_all[batch]
            # mean squared error over tested pairs as a masked sum: boolean indexing cost ~6% of a step
            error = prediction - y_all[batch]
            loss = (error * error * weight_all[batch]).sum() / n_observed
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * n_observed
            weight += n_observed
        scheduler.step()
        history.append(total / max(weight, 1))
        if progress is not None:
            progress(epoch + 1, training.epochs, history[-1])
    model.eval()
    return history
