"""Layer-wise Relevance Propagation (LRP) of drug-response predictions onto the input genes.

The prediction for profile x and drug d is ŷ = Σ_k f_k(d)·g_k(x) / K. The drug side is treated as the
weights of a last, bias-free linear layer, so the relevance entering latent unit k is r_k =
f_k(d)·g_k(x)/K (LRP-0 through the product; Σ_k r_k = ŷ). From there relevance is propagated through the
expression tower g with zennit, using the generalised LRP-γ rule (``zennit.rules.Gamma``) on **every**
Linear layer, the input layer included:

* the input is scaled expression and takes both signs, which the generalised γ rule handles (contributions
  z_ij = x_i·w_ij are split by sign and the ones agreeing with the output's sign are boosted by γ),
  whereas the classic γ / z⁺ rules assume non-negative inputs and z^B needs box bounds that have no
  meaning for genes;
* one rule everywhere is easy to state in a methods section and matches NeurixAI, which used the
  generalised γ rule;
* γ = 0.25 (zennit's default) keeps relevance close to the LRP-0 / gradient×input picture while damping the
  sign-flipping noise of deep ReLU nets; γ = 0 gives exactly LRP-0.

ReLU and (eval-mode) Dropout layers get no hook: ReLU passes relevance where it is active, which is exact here
because inactive units carry zero activation and hence zero relevance from the layer above.

Biases absorb part of the relevance (for a unit with positive output the share b + γ·b⁺ of the
γ-denominator), so Σ_genes R = ŷ − (bias-absorbed relevance); with zero biases the sum equals the
prediction (up to the 1e-6 stabiliser).

Hybrid models (bundle format 2): the prediction is (1 − w)·network + w·(x·β_d + b_d), a linear part beside the
interaction term (the per-drug ridge and the reduced-rank model, blended into one set of weights when trained).
Its gene relevances are exact, w·x_g·β_gd; the explainer adds them to (1 − w)·LRP, so a gene's relevance is its
share of the whole prediction. What no gene carries (the bias share) is w·b_d plus what the network's biases
absorb: ``bias_share`` states it, and Σ_genes R + bias share = prediction.

Speed: for a fixed input the whole LRP backward pass is linear in the output relevance. So per profile we
compute the genes × K "basis" (relevance of each gene when unit k receives relevance 1) in one batched
backward pass, and the relevance for every drug is ``(f(d) ∘ g(x) / K) @ basis`` — one matrix product for
all drugs instead of one backward pass per drug. When fewer drugs than K are requested, propagating the
drug-specific output relevance directly is cheaper and is used instead ("auto"). All rows of one profile share its
forward pass, so the rule is evaluated in closed form (``explain/gamma_closed_form.py``: the forward quantities once
per profile, two matrix products per layer and row) instead of through zennit's hooks, which redo the modified
forward passes for every row; ``engine="zennit"`` runs zennit's own ``Gamma`` hooks, and the tests hold the two
equal to float rounding.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from neurix_core.explain.gamma_closed_form import gamma_relevance
from neurix_core.matmul import matmul
from neurix_core.model.towers import InteractionModel
from neurix_core.train.linear import LinearComponent

if TYPE_CHECKING:  # zennit is imported where its hooks run: it imports torchvision (~3 s), which the default
    from zennit.composites import LayerMapComposite  # closed-form engine does not need

DEFAULT_GAMMA = 0.25
# Rows (profile × output-relevance vectors) pushed through one backward pass: bounds peak memory at a few
# hundred MB for ~6k genes (the γ rule keeps ~10 row × genes tensors alive during the backward pass).
DEFAULT_ROWS_PER_CHUNK = 1024
_ALLOWED_LAYERS = (nn.Linear, nn.ReLU, nn.Dropout, nn.Sequential)

Method = Literal["auto", "basis", "direct"]
Engine = Literal["closed_form", "zennit"]
P = ParamSpec("P")
T = TypeVar("T")


def _autograd_on(method: Callable[P, T]) -> Callable[P, T]:
    """Run with autograd enabled even when called under ``torch.no_grad()``/``inference_mode()`` (e.g. by
    a server): LRP is a modified backward pass."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with torch.inference_mode(False), torch.enable_grad():
            return method(*args, **kwargs)

    return wrapper


def gamma_composite(gamma: float = DEFAULT_GAMMA) -> LayerMapComposite:
    """The rule set: generalised LRP-γ on every Linear layer (ReLU/Dropout use the plain gradient)."""
    from zennit.composites import LayerMapComposite
    from zennit.rules import Gamma

    return LayerMapComposite(layer_map=[(nn.Linear, Gamma(gamma=gamma))])


def _check_tower(tower: nn.Module) -> None:
    """LRP rules are only defined here for Linear/ReLU/Dropout: refuse anything else instead of explaining
    wrongly."""
    for name, module in tower.named_modules():
        if not isinstance(module, _ALLOWED_LAYERS) and module is not tower:
            raise TypeError(f"expression tower layer {name!r} ({type(module).__name__}) has no LRP rule")
    if not any(isinstance(m, nn.Linear) for m in tower.modules()):
        raise TypeError("expression tower has no Linear layer")


class InteractionLRP:
    """LRP explanations of an :class:`InteractionModel`'s predictions in terms of the input genes.

    The explainer works on a private, eval-mode deep copy of the expression tower and on the drug latents f(d)
    computed once at construction, so the caller's model is never put in eval mode, never gets hooks and
    can keep serving predictions concurrently. Consequently the explainer is a snapshot: build it after
    training/loading.
    """

    @_autograd_on
    def __init__(
        self,
        model: InteractionModel,
        gamma: float = DEFAULT_GAMMA,
        linear: LinearComponent | None = None,
        linear_weight: float = 0.0,
        engine: Engine = "closed_form",
    ) -> None:
        if gamma < 0:
            raise ValueError("gamma must be >= 0")
        if engine not in ("closed_form", "zennit"):
            raise ValueError(f"unknown LRP engine {engine!r}")
        self.engine: Engine = engine
        if linear is not None and not 0.0 <= linear_weight <= 1.0:
            raise ValueError("linear_weight must be in [0, 1]")
        self.gamma = float(gamma)
        self.linear_weight = float(linear_weight) if linear is not None else 0.0
        self.network_weight = 1.0 - self.linear_weight
        snapshot = copy.deepcopy(model).eval()
        for parameter in snapshot.parameters():
            parameter.requires_grad_(False)
            parameter.grad = None
        self.tower: nn.Module = snapshot.expression_tower
        _check_tower(self.tower)
        with torch.no_grad():
            self.drug_latents: Tensor = snapshot.drug_latent().detach()  # drugs × K
        self.latent_dim = int(self.drug_latents.shape[1])
        self.n_drugs = int(self.drug_latents.shape[0])
        self._all_drugs = torch.arange(self.n_drugs, device=self.drug_latents.device)
        first = next(m for m in self.tower.modules() if isinstance(m, nn.Linear))
        self.n_genes = int(first.in_features)
        self.dtype = first.weight.dtype
        self.device = first.weight.device
        self.linear_weights: Tensor | None = None  # genes × drugs
        self.linear_intercept: Tensor | None = None
        if linear is not None:
            self.linear_weights = torch.as_tensor(linear.weights, dtype=self.dtype, device=self.device)
            # drugs × genes, genes contiguous: relevance blocks come out with genes innermost, which the batched
            # product and top-k over genes need to run at full speed (a strided block made top-k ~4× slower)
            self._linear_by_drug = self.linear_weights.T.contiguous()
            self.linear_intercept = torch.as_tensor(linear.intercept, dtype=self.dtype, device=self.device)
        # zennit registers hooks on the (private) tower for the duration of a backward pass: serialise calls
        # so one explainer can be shared between threads (e.g. web-server workers) without hooks stacking up.
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ helpers
    def _as_input(self, x: Tensor | np.ndarray) -> Tensor:
        x = torch.as_tensor(x)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.n_genes:
            raise ValueError(f"expected profiles × {self.n_genes} genes, got shape {tuple(x.shape)}")
        # clone: detaches from any caller graph and turns inference-mode tensors into ordinary ones
        return x.detach().to(device=self.device, dtype=self.dtype).clone()

    def _as_drug_index(self, drug_index: Tensor | Sequence[int] | int | None) -> Tensor:
        if drug_index is None:
            return torch.arange(self.n_drugs, device=self.device)
        return self._in_range(torch.as_tensor(drug_index, dtype=torch.long, device=self.device).reshape(-1))

    def _in_range(self, index: Tensor) -> Tensor:
        """``index`` (drug positions, any shape), after checking every entry names a model drug."""
        if index.numel() and (index.min() < 0 or index.max() >= self.n_drugs):
            raise IndexError(f"drug index out of range [0, {self.n_drugs})")
        return index

    def _check_out(self, out: Tensor | None, shape: tuple[int, ...]) -> None:
        """A caller's result buffer must match the block exactly (it is written in place, never resized)."""
        if out is not None and (tuple(out.shape) != shape or out.dtype != self.dtype):
            raise ValueError(f"out must be a {self.dtype} tensor of shape {shape}, got {tuple(out.shape)}")

    def _propagate(self, rows: Tensor, output_relevance: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
        """One zennit backward pass: (latent g(rows), relevance of rows' genes) for the given output
        relevance."""
        from zennit.attribution import Gradient

        rows = rows.clone().requires_grad_(True)
        with self._lock, Gradient(model=self.tower, composite=gamma_composite(self.gamma)) as attributor:
            latent, relevance = attributor(rows, output_relevance)
        return latent.detach(), relevance.detach()

    def _propagate_rows(
        self, profiles: Tensor, rows: int, output_relevance: Callable[[Tensor], Tensor]
    ) -> tuple[Tensor, Tensor]:
        """(latent g: profiles × K, relevance: profiles × rows × genes) for ``rows`` output-relevance vectors per
        profile; ``output_relevance`` maps g (profiles × K) to profiles × rows × K."""
        if self.engine == "closed_form":
            return gamma_relevance(self.tower, profiles, output_relevance, self.gamma)
        n, K = profiles.shape[0], self.latent_dim
        latent, relevance = self._propagate(
            profiles.repeat_interleave(rows, dim=0),
            lambda out: output_relevance(out.detach()[::rows]).reshape(n * rows, K),
        )
        return latent[::rows], relevance.view(n, rows, -1)

    def _chunks(self, n_profiles: int, rows_per_profile: int, rows_per_chunk: int) -> list[slice]:
        step = max(1, rows_per_chunk // max(1, rows_per_profile))
        return [slice(start, min(start + step, n_profiles)) for start in range(0, n_profiles, step)]

    # ------------------------------------------------------------------ public API
    def latent(self, x: Tensor | np.ndarray) -> Tensor:
        """g(x): profiles × K (eval mode).

        Under the lock: while another thread's backward pass has zennit hooks on the tower, an unlocked
        forward pass would run through those hooks and overwrite their stored tensors, mixing this input into
        the other thread's relevances (silently when the row counts match)."""
        x = self._as_input(x)
        with self._lock, torch.no_grad():
            return self.tower(x)

    @classmethod
    def from_fitted(
        cls, fitted, gamma: float = DEFAULT_GAMMA, engine: Engine = "closed_form"
    ) -> InteractionLRP:
        """Explainer of a FittedModel as it predicts: the network and, for a hybrid, its linear part."""
        return cls(
            fitted.model, gamma, linear=fitted.linear, linear_weight=fitted.linear_weight, engine=engine
        )

    def predict(
        self, x: Tensor | np.ndarray, drug_index: Tensor | Sequence[int] | int | None = None
    ) -> Tensor:
        """The model's prediction profiles × drugs, from the same snapshot the relevances explain."""
        index = self._as_drug_index(drug_index)
        network = InteractionModel.interact(self.latent(x), self.drug_latents[index])
        if self.linear_weights is None:
            return network
        return self.network_weight * network + self.linear_weight * self.predict_linear(x, index)

    def predict_linear(
        self, x: Tensor | np.ndarray, drug_index: Tensor | Sequence[int] | int | None = None
    ) -> Tensor:
        """The linear part's own prediction x·β_d + b_d (profiles × drugs); zeros without one."""
        x, index = self._as_input(x), self._as_drug_index(drug_index)
        if self.linear_weights is None:
            return x.new_zeros(x.shape[0], index.numel())
        return x @ self.linear_weights[:, index] + self.linear_intercept[index]

    def linear_relevance(
        self, x: Tensor | np.ndarray, drug_index: Tensor | Sequence[int] | int | None = None
    ) -> Tensor:
        """profiles × drugs × genes: exact relevances x_g·β_gd of the linear part alone (unweighted)."""
        x, index = self._as_input(x), self._as_drug_index(drug_index)
        if self.linear_weights is None:
            return x.new_zeros(x.shape[0], index.numel(), self.n_genes)
        return x[:, None, :] * self._drug_rows(self._linear_by_drug, index)[None, :, :]

    def _drug_rows(self, by_drug: Tensor, index: Tensor) -> Tensor:
        """Rows ``index`` of a drugs × … tensor; the tensor itself (no 16 MB copy) when that is every drug in order."""
        if index.numel() == by_drug.shape[0] and bool((index == self._all_drugs).all()):
            return by_drug
        return by_drug[index]

    @_autograd_on
    def bias_share(
        self, x: Tensor | np.ndarray, drug_index: Tensor | Sequence[int] | int | None = None
    ) -> Tensor:
        """profiles × drugs: the part of the prediction no gene carries (prediction − Σ_genes relevance)."""
        return self.predict(x, drug_index) - self.relevance(x, drug_index).sum(dim=2)

    @_autograd_on
    def latent_basis(self, x: Tensor | np.ndarray, rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK) -> Tensor:
        """profiles × K × genes: gene relevance when latent unit k alone receives relevance 1.

        Relevance for any output relevance r (profiles × K) is then ``einsum('pk,pkg->pg', r, basis)``.
        """
        return self._basis_and_latent(self._as_input(x), rows_per_chunk)[0]

    def _basis_and_latent(self, x: Tensor, rows_per_chunk: int) -> tuple[Tensor, Tensor]:
        K = self.latent_dim
        bases, latents = [], []
        for part in self._chunks(x.shape[0], K, rows_per_chunk):
            chunk = x[part]
            # row k of a profile carries the unit vector e_k as output relevance
            identity = torch.eye(K, dtype=self.dtype, device=self.device).expand(chunk.shape[0], K, K)
            latent, relevance = self._propagate_rows(chunk, K, lambda _g, e=identity: e)
            bases.append(relevance)
            latents.append(latent)
        # one chunk (the cohort's top-gene path): no copy of the profiles × K × genes block
        if len(bases) == 1:
            return bases[0], latents[0]
        return torch.cat(bases), torch.cat(latents)

    @_autograd_on
    def relevance(
        self,
        x: Tensor | np.ndarray,
        drug_index: Tensor | Sequence[int] | int | None = None,
        method: Method = "auto",
        rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
        out: Tensor | None = None,
    ) -> Tensor:
        """profiles × drugs × genes relevance of the whole prediction (network LRP weighted by 1 − w plus the exact
        linear part weighted by w); Σ_genes = prediction − ``bias_share``.

        ``basis`` costs one backward pass of K rows per profile whatever the number of drugs; ``direct``
        one of one row per (profile, drug). ``auto`` picks the cheaper. Memory of the result is profiles ×
        drugs × genes: iterate over profile chunks for large cohorts × all drugs, and pass ``out`` (a tensor of
        that shape, reused between chunks) to skip allocating the block each time (a fresh 100 MB block costs
        about as much as the arithmetic that fills it).
        """
        x, index = self._as_input(x), self._as_drug_index(drug_index)
        self._check_out(out, (x.shape[0], index.numel(), self.n_genes))
        if self.linear_weights is None:
            relevance = self.network_relevance(x, index, method, rows_per_chunk)
            return relevance if out is None else out.copy_(relevance)
        if self._resolve(method, index.numel()) == "basis":
            return self._basis_relevance(x, index, rows_per_chunk, out)
        network = self.network_relevance(x, index, method, rows_per_chunk)
        relevance = self.network_weight * network + self.linear_weight * self.linear_relevance(x, index)
        return relevance if out is None else out.copy_(relevance)

    @_autograd_on
    def relevance_of_rows(
        self,
        x: Tensor | np.ndarray,
        drug_rows: Tensor | np.ndarray,
        rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
        out: Tensor | None = None,
    ) -> Tensor:
        """profiles × D × genes relevance where each profile has its own D drugs (``drug_rows``: profiles × D).

        Why: at compound level each prediction row shows one screen entry per compound, chosen per sample; a
        cohort explains exactly those rows instead of every entry (~540 of ~700 drugs). Same values as
        ``relevance`` for the same (profile, drug).
        """
        x = self._as_input(x)
        rows = torch.as_tensor(drug_rows, dtype=torch.long, device=self.device)
        if rows.ndim != 2 or rows.shape[0] != x.shape[0]:
            raise ValueError(
                f"drug_rows must be profiles × drugs, got {tuple(rows.shape)} for {x.shape[0]} profiles"
            )
        self._check_out(out, (x.shape[0], rows.shape[1], self.n_genes))
        return self._basis_relevance(x, self._in_range(rows), rows_per_chunk, out)

    def _basis_relevance(self, x: Tensor, index: Tensor, rows_per_chunk: int, out: Tensor | None) -> Tensor:
        """The basis path for drugs ``index`` (shared: D, or per profile: profiles × D), written into ``out``.

        One pass over the profiles × drugs × genes block: (w·x) ∘ β, then += ((1 − w)·r) @ basis in place.
        """
        basis, g = self._basis_and_latent(x, rows_per_chunk)
        output_relevance = self._drug_relevance(g, self.drug_latents[index], self.network_weight)
        shape = (x.shape[0], index.shape[-1], self.n_genes)
        combined = x.new_empty(shape) if out is None else out
        matmul(output_relevance, basis, out=combined)  # numpy's BLAS: ~half torch's bmm time (``matmul.py``)
        if self.linear_weights is None:
            return combined
        scaled = x * self.linear_weight
        if index.ndim == 1:
            linear = self._drug_rows(self._linear_by_drug, index)
            combined.addcmul_(linear[None, :, :], scaled[:, None, :])  # += linear ∘ x·w, broadcast in place
        else:
            gathered = combined.new_empty(shape[1:])
            for p in range(x.shape[0]):
                combined[p].addcmul_(
                    torch.index_select(self._linear_by_drug, 0, index[p], out=gathered), scaled[p]
                )
        return combined

    def _drug_relevance(self, g: Tensor, f: Tensor, share: float = 1.0) -> Tensor:
        """profiles × drugs × K relevance entering the latent units: share · f(d) ∘ g(x) / K (LRP-0 through the
        product, so it sums to the network's prediction times ``share``); ``f`` is D × K or profiles × D × K."""
        scaled = f * (share / self.latent_dim)  # D × K, or profiles × D × K (each profile its own drugs)
        return g[:, None, :] * (scaled[None, :, :] if scaled.ndim == 2 else scaled)

    def _resolve(self, method: Method, n_drugs: int) -> Method:
        """``auto``: the K-row basis pays off from K drugs on; below that, one row per drug is cheaper."""
        if method == "auto":
            return "direct" if n_drugs < self.latent_dim else "basis"
        if method not in ("basis", "direct"):
            raise ValueError(f"unknown method {method!r}")
        return method

    @_autograd_on
    def network_relevance(
        self,
        x: Tensor | np.ndarray,
        drug_index: Tensor | Sequence[int] | int | None = None,
        method: Method = "auto",
        rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
    ) -> Tensor:
        """profiles × drugs × genes LRP relevance of the interaction network alone (unweighted)."""
        x = self._as_input(x)
        f = self.drug_latents[self._as_drug_index(drug_index)]  # D × K
        n_drugs = f.shape[0]
        method = self._resolve(method, n_drugs)
        if method == "basis":
            basis, g = self._basis_and_latent(x, rows_per_chunk)
            return matmul(self._drug_relevance(g, f), basis)  # (P × D × K) @ (P × K × G)
        parts = []
        for part in self._chunks(x.shape[0], n_drugs, rows_per_chunk):
            # row d of a profile carries that drug's output relevance f(d) ∘ g(x) / K
            _, relevance = self._propagate_rows(x[part], n_drugs, lambda g: self._drug_relevance(g, f))
            parts.append(relevance)
        return torch.cat(parts) if parts else x.new_zeros(0, n_drugs, self.n_genes)

    @_autograd_on
    def relevance_per_drug_loop(
        self, x: Tensor | np.ndarray, drug_index: Tensor | Sequence[int] | int | None = None
    ) -> Tensor:
        """Reference/naive path: one zennit backward pass per (profile, drug) through the full prediction.

        The prediction is built as Sequential(tower, Linear(K→1, weight f(d)/K, no bias)); the head gets LRP-0
        (ε rule with a negligible ε) and starts from relevance ŷ, the tower gets the γ rule.
        """
        from zennit.attribution import Gradient
        from zennit.composites import NameMapComposite
        from zennit.rules import Epsilon, Gamma

        x = self._as_input(x)
        index = self._as_drug_index(drug_index)
        K = self.latent_dim
        head = nn.Linear(K, 1, bias=False).to(device=self.device, dtype=self.dtype)
        head.weight.requires_grad_(False)
        full = nn.Sequential(self.tower, head).eval()
        composite = NameMapComposite(
            name_map=[
                (
                    tuple(f"0.{n}" for n, m in self.tower.named_modules() if isinstance(m, nn.Linear)),
                    Gamma(gamma=self.gamma),
                ),
                (("1",), Epsilon(epsilon=1e-30)),
            ]
        )
        out = x.new_zeros(x.shape[0], index.numel(), self.n_genes)
        for j, d in enumerate(index.tolist()):
            with torch.no_grad():
                head.weight.copy_(self.drug_latents[d][None, :] / K)
            for i in range(x.shape[0]):
                with self._lock, Gradient(model=full, composite=composite) as attributor:
                    _, relevance = attributor(x[i : i + 1].clone(), lambda prediction: prediction.detach())
                out[i, j] = relevance[0].detach()
        return out


def relevance_frame(
    model: InteractionModel | InteractionLRP,
    x: np.ndarray,
    samples: Sequence[str],
    genes: Sequence[str],
    drug_index: Sequence[int] | int | None = None,
    drug_keys: Sequence[str] | None = None,
    top: int | None = None,
    gamma: float = DEFAULT_GAMMA,
) -> pd.DataFrame:
    """Long table of gene relevances: one row per (sample, drug, gene), ranked by |relevance| within
    (sample, drug).

    ``drug_keys`` labels all model drugs (indexed by drug index), e.g. the bundle's drug list; ``top``
    keeps the ``top`` genes of largest |relevance| per (sample, drug). Columns: sample, drug_index,
    [drug], gene, input_value, relevance, rank (1 = most relevant), prediction (the model output the
    relevances decompose), bias_share (the part of the prediction no gene carries: Σ all genes' relevance +
    bias_share = prediction). Profiles are processed one at a time so memory stays at one drugs × genes
    matrix.
    """
    explainer = model if isinstance(model, InteractionLRP) else InteractionLRP(model, gamma=gamma)
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if len(samples) != x.shape[0] or len(genes) != x.shape[1]:
        raise ValueError("samples/genes labels do not match the shape of x")
    if drug_keys is not None and len(drug_keys) != explainer.n_drugs:
        raise ValueError(f"drug_keys must label all {explainer.n_drugs} model drugs")
    index = explainer._as_drug_index(drug_index).cpu().numpy()
    n_drugs, n_genes = index.size, x.shape[1]
    keep = n_genes if top is None else max(0, min(int(top), n_genes))
    gene_labels = np.asarray(genes, dtype=object)
    frames = []
    for i, sample in enumerate(samples):
        relevance, prediction, order = ranked_relevance(explainer, x[i : i + 1], index, keep)
        bias = prediction - relevance.sum(axis=1)
        ranked = np.take_along_axis(relevance, order, axis=1)
        columns: dict[str, np.ndarray] = {
            "sample": np.full(n_drugs * keep, sample, dtype=object),
            "drug_index": np.repeat(index, keep),
        }
        if drug_keys is not None:
            columns["drug"] = np.repeat(np.asarray(drug_keys, dtype=object)[index], keep)
        columns.update(
            gene=gene_labels[order].ravel(),
            input_value=x[i][order].ravel().astype(np.float64),
            relevance=ranked.ravel().astype(np.float64),
            rank=np.tile(np.arange(1, keep + 1), n_drugs),
            prediction=np.repeat(prediction.astype(np.float64), keep),
            bias_share=np.repeat(bias.astype(np.float64), keep),
        )
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def ranked_relevance(
    explainer: InteractionLRP, x: np.ndarray, index: Sequence[int] | np.ndarray, keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One profile (1 × genes): (relevance drugs × genes, prediction per drug, the ``keep`` gene positions of
    largest |relevance| per drug, most relevant first; ties in gene order)."""
    relevance = explainer.relevance(x, index)[0].cpu().numpy()  # D × G
    prediction = explainer.predict(x, index)[0].cpu().numpy()
    order = np.argsort(-np.abs(relevance), axis=1, kind="stable")[:, :keep]  # D × keep
    return relevance, prediction, order
