"""Discovery: for each drug, the genes that most consistently drive its predictions on *held-out* cell lines.

Computed once at training time from the cross-validation fold models (each explains only the cell lines it never
saw), so a gene list is evidence about unseen tumours rather than about the lines a model memorised. Per (drug, gene):

* ``consistency``: share of held-out cell lines (screened with the drug) in which the gene is among that line's top
  1 % of genes by |relevance| — the discovery ranking ("how consistently it drives predictions");
* ``sign_consistency``: share of those lines in which its relevance has its usual sign;
* mean relevance (direction: resistance > 0, sensitising < 0) and mean |relevance| (``abs_rank``, the ranking the
  biology check uses);
* the expression–relevance relation across lines (Pearson r, slope): "high expression → resistance" (slope > 0)
  versus "high expression → sensitivity" (slope < 0);
* ``fold_top``: in how many fold models the gene is in the top 1 % by mean |relevance| (stability across models).

Relevances come through the explainer's public ``relevance(x, drug_index)`` (profiles × drugs × genes), so any model
with such an explainer works. The bundle stores, per drug, the top genes plus its annotated targets and curated
markers (``discovery.parquet``), fold-agreement figures per drug and a subsample of held-out lines for the
relevance-vs-expression plot (``discovery.npz``). Known/novel marks are added at read time (targets from the drug
table, markers from ``markers.csv``), so curating markers needs no retraining.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from neurix_core.data.dataset import ResponseData
from neurix_core.data.drugs import target_genes
from neurix_core.explain.lrp import InteractionLRP
from neurix_core.explain.markers import markers_for_drug
from neurix_core.train.fit import FittedModel

PARQUET_FILE = "discovery.parquet"
ARRAYS_FILE = "discovery.npz"
TOP_SHARE = 0.01  # a gene "drives" a line's prediction when it is in the line's top 1 % by |relevance|
KEEP_PER_DRUG = 100  # genes stored per drug by each ranking (plus targets and markers)
PLOT_GENES = 10  # genes per drug with per-line points for the relevance-vs-expression plot
PLOT_CELLS = 200  # held-out lines (random, fixed) kept for that plot
CELLS_PER_CHUNK = 8  # profiles per relevance call: bounds memory at a few × 8 × drugs × genes floats

Log = Callable[[str], None]


class Explainer(Protocol):
    """What discovery needs from a model's explainer (``InteractionLRP`` has it)."""

    def relevance(self, x: np.ndarray, drug_index: Sequence[int] | None = None) -> torch.Tensor: ...


@dataclass
class HeldOutFold:
    """One fold model's explainer with the cell lines it never saw."""

    explainer: Explainer
    scaled: np.ndarray  # held-out lines × genes, scaled by this fold's gene scaler (the network input)
    expression: np.ndarray  # the same lines, within-sample z (what users read as expression)
    observed: np.ndarray  # held-out lines × drugs: the drug was screened on the line
    cells: list[str]


@dataclass
class Discovery:
    """The stored discovery artefact (see module docstring)."""

    genes: pd.DataFrame  # long: drug_key, gene, discovery_rank, abs_rank, consistency, ...
    drugs: pd.DataFrame  # drug_key, n_cells, n_folds, fold_rank_agreement, fold_top20_overlap
    plot_genes: np.ndarray  # drugs × PLOT_GENES gene names ('' where fewer)
    plot_relevance: np.ndarray  # drugs × PLOT_GENES × cells (float16, NaN = drug not screened on the line)
    plot_expression: pd.DataFrame  # plot cells × genes needed (float16 within-sample z)

    def save(self, directory: Path) -> list[str]:
        self.genes.to_parquet(directory / PARQUET_FILE, index=False)
        np.savez_compressed(
            directory / ARRAYS_FILE,
            drug_key=self.drugs["drug_key"].to_numpy(dtype=str),
            n_cells=self.drugs["n_cells"].to_numpy(),
            n_folds=self.drugs["n_folds"].to_numpy(),
            fold_rank_agreement=self.drugs["fold_rank_agreement"].to_numpy(),
            fold_top20_overlap=self.drugs["fold_top20_overlap"].to_numpy(),
            plot_genes=self.plot_genes.astype(str),
            plot_relevance=self.plot_relevance.astype(np.float16),
            plot_expression=self.plot_expression.to_numpy(dtype=np.float16),
            plot_expression_genes=self.plot_expression.columns.to_numpy(dtype=str),
            plot_cells=self.plot_expression.index.to_numpy(dtype=str),
        )
        return [PARQUET_FILE, ARRAYS_FILE]

    @classmethod
    def load(cls, parquet: bytes | Path, arrays: bytes | Path) -> Discovery:
        genes = pd.read_parquet(io.BytesIO(parquet) if isinstance(parquet, bytes) else parquet)
        with np.load(io.BytesIO(arrays) if isinstance(arrays, bytes) else arrays, allow_pickle=False) as z:
            drugs = pd.DataFrame(
                {
                    k: z[k]
                    for k in ("drug_key", "n_cells", "n_folds", "fold_rank_agreement", "fold_top20_overlap")
                }
            )
            expression = pd.DataFrame(
                z["plot_expression"], index=z["plot_cells"], columns=z["plot_expression_genes"]
            )
            return cls(genes, drugs, z["plot_genes"], z["plot_relevance"], expression)


def _top_mask(values: np.ndarray, k: int) -> np.ndarray:
    """rows × genes: True for each row's k largest values (ties at the threshold included)."""
    threshold = np.partition(values, -k, axis=1)[:, -k]
    return values >= threshold[:, None]


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    """Row-wise ranks minus their mean (float32), for Spearman correlations by dot products."""
    ranks = values.argsort(axis=1).argsort(axis=1).astype(np.float32)
    return ranks - ranks.mean(axis=1, keepdims=True)


def compute_discovery(
    folds: Sequence[HeldOutFold],
    genes: Sequence[str],
    drugs: pd.DataFrame,
    keep_per_drug: int = KEEP_PER_DRUG,
    plot_genes: int = PLOT_GENES,
    plot_cells: int = PLOT_CELLS,
    seed: int = 0,
    log: Log | None = None,
) -> Discovery:
    """Accumulate per-(drug, gene) statistics over every held-out line of every fold, one small chunk at a time."""
    n_genes, n_drugs = len(genes), len(drugs)
    k = max(1, int(round(TOP_SHARE * n_genes)))
    shape = (n_drugs, n_genes)
    # float32 torch accumulators updated one line at a time with in-place, multi-threaded operations into reused
    # buffers (allocating a fresh chunk-sized tensor per operation cost as much as the arithmetic); masks applied
    # by multiplication (no fancy-index copies); Σ|r| is the sum of the per-fold sums
    sum_r, sum_rx, sum_r2, n_top, n_pos = (torch.zeros(shape) for _ in range(5))
    fold_abs = torch.zeros((len(folds), *shape))
    n_fold = np.zeros((len(folds), n_drugs))
    absolute_buffer = torch.empty((CELLS_PER_CHUNK, *shape))
    flag_buffer = torch.empty((CELLS_PER_CHUNK, *shape), dtype=torch.bool)
    for f, fold in enumerate(folds):
        for start in range(0, len(fold.scaled), CELLS_PER_CHUNK):
            part = slice(start, start + CELLS_PER_CHUNK)
            relevance = fold.explainer.relevance(fold.scaled[part]).detach().float()  # P × D × G
            observed = torch.as_tensor(fold.observed[part])  # P × D
            expression = torch.as_tensor(fold.expression[part], dtype=torch.float32)  # P × G
            lines = len(observed)
            masked = relevance.mul_(observed[:, :, None].float())
            absolute = torch.abs(masked, out=absolute_buffer[:lines])
            # each row's k-th largest |relevance|; an untested pair's row never counts as a driver
            threshold = torch.topk(absolute, k, dim=2).values[:, :, -1:]
            threshold.masked_fill_(~observed[:, :, None], float("inf"))
            is_top = torch.ge(absolute, threshold, out=flag_buffer[:lines])
            for line in range(lines):
                n_top.add_(is_top[line])
            is_positive = torch.gt(masked, 0, out=flag_buffer[:lines])
            for line in range(lines):
                n_pos.add_(is_positive[line])
                sum_r.add_(masked[line])
                sum_r2.addcmul_(masked[line], masked[line])
                sum_rx.addcmul_(masked[line], expression[line][None, :])
                fold_abs[f].add_(absolute[line])
        n_fold[f] = fold.observed.sum(axis=0)
        if log is not None:
            log(f"discovery: fold {f + 1}/{len(folds)} explained ({len(fold.scaled)} held-out lines)")
    sum_abs = fold_abs.sum(0)
    expression = np.vstack([fold.expression for fold in folds]).astype(np.float64)
    observed = np.vstack([fold.observed for fold in folds]).astype(np.float64)
    n = observed.sum(axis=0)  # lines per drug
    sum_r, sum_abs, sum_rx, sum_r2 = (a.double().numpy() for a in (sum_r, sum_abs, sum_rx, sum_r2))
    n_top, n_pos, fold_abs = n_top.numpy(), n_pos.numpy(), fold_abs.numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(n > 0, 1.0 / n, np.nan)[:, None]
        mean_r, mean_abs = sum_r * inv, sum_abs * inv
        mean_x = (observed.T @ expression) * inv
        sxx = observed.T @ expression**2 - n[:, None] * mean_x**2
        sxy = sum_rx - n[:, None] * mean_x * mean_r
        syy = sum_r2 - n[:, None] * mean_r**2
        consistency = n_top * inv
        positive_share = n_pos * inv
        sign_consistency = np.where(mean_r >= 0, positive_share, 1.0 - positive_share)
        defined = (sxx > 1e-9) & (syy > 1e-24)
        slope = np.where(sxx > 1e-9, sxy / np.where(sxx > 1e-9, sxx, 1.0), np.nan)
        pearson = np.clip(np.where(defined, sxy / np.sqrt(np.where(defined, sxx * syy, 1.0)), np.nan), -1, 1)
    abs_rank = (-np.nan_to_num(mean_abs, nan=-1)).argsort(axis=1).argsort(axis=1) + 1
    order_key = np.lexsort((-np.nan_to_num(mean_abs, nan=-1), -np.nan_to_num(consistency, nan=-1)), axis=-1)
    discovery_rank = order_key.argsort(axis=1) + 1
    fold_mean = fold_abs / np.maximum(n_fold, 1)[:, :, None]
    fold_top = np.zeros(shape, np.int16)
    for f in range(len(folds)):
        fold_top += (_top_mask(fold_mean[f], k) & (n_fold[f] > 0)[:, None]).astype(np.int16)
    agreement, overlap = _fold_agreement(fold_mean, n_fold)

    gene_names = np.asarray(genes, dtype=object)
    position = {g: i for i, g in enumerate(genes)}
    rows = []
    for d, drug in enumerate(drugs.itertuples(index=False)):
        keep = set(np.flatnonzero(discovery_rank[d] <= keep_per_drug)) | set(
            np.flatnonzero(abs_rank[d] <= keep_per_drug)
        )
        annotated = target_genes(getattr(drug, "targets", "") or "") | set(
            markers_for_drug(drug.drug_name)["gene"]
        )
        keep |= {position[g] for g in annotated if g in position}
        index = np.asarray(sorted(keep), dtype=int)
        rows.append(
            pd.DataFrame(
                {
                    "drug_key": drug.drug_key,
                    "gene": gene_names[index],
                    "discovery_rank": discovery_rank[d, index],
                    "abs_rank": abs_rank[d, index],
                    "consistency": consistency[d, index],
                    "sign_consistency": sign_consistency[d, index],
                    "mean_relevance": mean_r[d, index],
                    "mean_abs_relevance": mean_abs[d, index],
                    "expression_relevance_r": pearson[d, index],
                    "expression_relevance_slope": slope[d, index],
                    "fold_top": fold_top[d, index],
                    "n_cells": int(n[d]),
                }
            )
        )
    table = pd.concat(rows, ignore_index=True).sort_values(["drug_key", "discovery_rank"], kind="stable")
    table = table.astype({c: np.float32 for c in table.columns if table[c].dtype == np.float64})

    # plot subsample: a fixed random set of held-out lines; relevance for each drug's top plot genes
    rng = np.random.default_rng(seed)
    all_cells = [c for fold in folds for c in fold.cells]
    chosen = np.sort(rng.choice(len(all_cells), size=min(plot_cells, len(all_cells)), replace=False))
    top_plot = np.argsort(discovery_rank, axis=1)[:, :plot_genes]  # drugs × P gene indices
    plot_relevance = np.full((n_drugs, top_plot.shape[1], len(chosen)), np.nan, np.float32)
    offsets = np.cumsum([0] + [len(fold.cells) for fold in folds])
    for f, fold in enumerate(folds):
        local = chosen[(chosen >= offsets[f]) & (chosen < offsets[f + 1])] - offsets[f]
        columns = np.searchsorted(chosen, local + offsets[f])
        for start in range(0, len(local), CELLS_PER_CHUNK):
            rows_local = local[start : start + CELLS_PER_CHUNK]
            relevance = fold.explainer.relevance(fold.scaled[rows_local]).detach().cpu().numpy()
            for j, (r, m) in enumerate(zip(relevance, fold.observed[rows_local], strict=True)):
                values = np.take_along_axis(r, top_plot, axis=1)
                values[~m] = np.nan
                plot_relevance[:, :, columns[start + j]] = values
    needed = np.unique(top_plot)
    plot_expression = pd.DataFrame(
        expression[chosen][:, needed],
        index=[all_cells[i] for i in chosen],
        columns=gene_names[needed].astype(str),
    ).astype(np.float16)
    drug_table = pd.DataFrame(
        {
            "drug_key": drugs["drug_key"].to_numpy(),
            "n_cells": n.astype(int),
            "n_folds": (n_fold > 0).sum(axis=0),
            "fold_rank_agreement": agreement,
            "fold_top20_overlap": overlap,
        }
    )
    return Discovery(
        table.reset_index(drop=True),
        drug_table,
        gene_names[top_plot].astype(str),
        plot_relevance.astype(np.float16),
        plot_expression,
    )


def _fold_agreement(fold_mean: np.ndarray, n_fold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per drug: mean pairwise Spearman ρ of the fold models' mean |relevance| over genes, and mean pairwise
    overlap (Jaccard) of their top-20 genes — how much the gene ranking depends on which lines trained the model."""
    n_folds, n_drugs, _ = fold_mean.shape
    rho_sum, jac_sum, pairs = np.zeros(n_drugs), np.zeros(n_drugs), np.zeros(n_drugs)
    tops = [_top_mask(fold_mean[f], 20) for f in range(n_folds)]
    ranks = [_centred_ranks(fold_mean[f]) for f in range(n_folds)]
    norms = [np.sqrt((r.astype(np.float64) ** 2).sum(axis=1)) for r in ranks]
    for a in range(n_folds):
        for b in range(a + 1, n_folds):
            both = (n_fold[a] > 0) & (n_fold[b] > 0)
            rho = (ranks[a] * ranks[b]).sum(axis=1, dtype=np.float64) / (norms[a] * norms[b])
            jaccard = (tops[a] & tops[b]).sum(axis=1) / np.maximum((tops[a] | tops[b]).sum(axis=1), 1)
            rho_sum += np.where(both, rho, 0.0)
            jac_sum += np.where(both, jaccard, 0.0)
            pairs += both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, rho_sum / pairs, np.nan), np.where(pairs > 0, jac_sum / pairs, np.nan)


def held_out_folds(
    data: ResponseData, folds: np.ndarray, fold_models: Sequence[FittedModel]
) -> list[HeldOutFold]:
    """Each CV fold model with the lines it did not see; the one place that turns a fitted model into an
    explainer and its input, so a new model family needs only this function changed."""
    held_out = []
    for f, fitted in enumerate(fold_models):
        rows = np.flatnonzero(folds == f)
        expression = data.expression[rows]
        held_out.append(
            HeldOutFold(
                explainer=InteractionLRP.from_fitted(fitted),
                scaled=fitted.gene_scaler.transform(expression),
                expression=np.nan_to_num(expression),
                observed=np.isfinite(data.log_auc[rows]),
                cells=[data.cell_lines[i] for i in rows],
            )
        )
    return held_out


def annotate(genes: pd.DataFrame, drug: pd.Series) -> pd.DataFrame:
    """Known/novel marks for one drug's discovery genes: annotated target, curated marker (with its source and
    expected direction, and whether the model agrees), or 'not annotated' (a candidate)."""
    out = genes.copy()
    targets = target_genes(str(drug.get("targets", "") or ""))
    markers = markers_for_drug(str(drug.get("drug_name", ""))).drop_duplicates("gene").set_index("gene")
    out["association"] = np.where(
        out["expression_relevance_slope"] > 0,
        "high expression → resistance",
        np.where(out["expression_relevance_slope"] < 0, "high expression → sensitivity", "no trend"),
    )
    known, source, agrees = [], [], []
    for gene, association in zip(out["gene"], out["association"], strict=True):
        if gene in markers.index:
            expected = markers.loc[gene, "expected"]
            known.append(f"known marker ({expected})")
            source.append(markers.loc[gene, "source"])
            agrees.append(association.endswith(expected))
        elif gene in targets:
            known.append("annotated target")
            source.append("drug annotation (GDSC)")
            agrees.append(None)
        else:
            known.append("not annotated")
            source.append("")
            agrees.append(None)
    out["known"] = known
    out["source"] = source
    out["agrees_with_literature"] = agrees
    return out
