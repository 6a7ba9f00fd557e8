"""The K most relevant genes for every (profile, drug), without materialising the long relevance table.

Why: a cohort asks for the top genes of all ~700 drugs for thousands of profiles. ``relevance_frame`` sorts all
genes of every drug row; here each small chunk of profiles goes through ``InteractionLRP.relevance`` (its one-basis
-per-profile path for many drugs) and ``torch.topk`` keeps K genes per drug, so memory stays at one chunk's
profiles × drugs × genes block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neurix_core.explain.lrp import InteractionLRP

PROFILES_PER_CHUNK = 8  # 8 × 697 drugs × 5,778 genes × 4 bytes ≈ 130 MB per chunk


@dataclass
class TopRelevances:
    """profiles × drugs × K arrays: gene index (into the model's genes) and signed relevance, by |relevance|."""

    drug_index: np.ndarray  # drugs
    gene_index: np.ndarray  # profiles × drugs × K, int32
    relevance: np.ndarray  # profiles × drugs × K, float32


def top_gene_relevances(
    explainer: InteractionLRP,
    x: np.ndarray,
    top: int,
    drug_index: Sequence[int] | None = None,
    profiles_per_chunk: int = PROFILES_PER_CHUNK,
) -> TopRelevances:
    """LRP relevances of the ``top`` genes of largest |relevance| per (profile, drug), rank 1 first."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    index = explainer._as_drug_index(drug_index)
    n_profiles, n_drugs = x.shape[0], int(index.numel())
    keep = max(1, min(int(top), explainer.n_genes))
    genes = np.empty((n_profiles, n_drugs, keep), dtype=np.int32)
    relevance = np.empty((n_profiles, n_drugs, keep), dtype=np.float32)
    for start in range(0, n_profiles, profiles_per_chunk):
        stop = min(start + profiles_per_chunk, n_profiles)
        block = explainer.relevance(x[start:stop], index)  # chunk × drugs × genes
        _, best = torch.topk(block.abs(), keep, dim=2, sorted=True)
        genes[start:stop] = best.cpu().numpy()
        relevance[start:stop] = torch.gather(block, 2, best).cpu().float().numpy()
    return TopRelevances(drug_index=index.cpu().numpy(), gene_index=genes, relevance=relevance)
