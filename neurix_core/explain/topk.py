"""The K most relevant genes for every (profile, drug), without materialising the long relevance table.

Why: a cohort asks for the top genes of all ~540 compounds (or ~700 screen entries) for thousands of profiles.
``relevance_frame`` sorts all genes of every drug row; here each small chunk of profiles goes through
``InteractionLRP``'s one-basis-per-profile path, written into two reused chunk × drugs × genes buffers, and
``torch.topk`` keeps K genes per drug, so memory stays at one chunk's block and no block is allocated twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neurix_core.explain.lrp import InteractionLRP

PROFILES_PER_CHUNK = 8  # 8 × 697 drugs × 5,778 genes × 4 bytes ≈ 130 MB per buffer


@dataclass
class TopRelevances:
    """profiles × drugs × K arrays: gene index (into the model's genes) and signed relevance, by |relevance|."""

    drug_index: np.ndarray  # profiles × drugs: the drug (model index) of each explained row
    gene_index: np.ndarray  # profiles × drugs × K, int32
    relevance: np.ndarray  # profiles × drugs × K, float32


def top_gene_relevances(
    explainer: InteractionLRP,
    x: np.ndarray,
    top: int,
    drug_index: Sequence[int] | np.ndarray | None = None,
    profiles_per_chunk: int = PROFILES_PER_CHUNK,
) -> TopRelevances:
    """LRP relevances of the ``top`` genes of largest |relevance| per (profile, drug), rank 1 first.

    ``drug_index``: the same drugs for every profile (a sequence; ``None`` = all), or a profiles × drugs matrix
    giving each profile its own drugs (the screen entries its compound-level predictions show).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    n_profiles = x.shape[0]
    per_profile = drug_index is not None and np.ndim(drug_index) == 2
    if per_profile:
        rows = np.asarray(drug_index, dtype=np.int64)
        if rows.shape[0] != n_profiles:
            raise ValueError(f"drug_index has {rows.shape[0]} rows for {n_profiles} profiles")
    else:
        shared = explainer._as_drug_index(drug_index)
        rows = np.broadcast_to(shared.cpu().numpy(), (n_profiles, int(shared.numel())))
    n_drugs = rows.shape[1]
    keep = max(1, min(int(top), explainer.n_genes))
    genes = np.empty((n_profiles, n_drugs, keep), dtype=np.int32)
    relevance = np.empty((n_profiles, n_drugs, keep), dtype=np.float32)
    size = (min(profiles_per_chunk, n_profiles), n_drugs, explainer.n_genes)
    block = torch.empty(size, dtype=explainer.dtype, device=explainer.device)
    magnitude = torch.empty_like(block)
    for start in range(0, n_profiles, profiles_per_chunk):
        stop = min(start + profiles_per_chunk, n_profiles)
        chunk = block[: stop - start]
        if per_profile:
            explainer.relevance_of_rows(x[start:stop], rows[start:stop], out=chunk)
        else:
            explainer.relevance(x[start:stop], shared, out=chunk)
        torch.abs(chunk, out=magnitude[: stop - start])
        _, best = torch.topk(magnitude[: stop - start], keep, dim=2, sorted=True)
        genes[start:stop] = best.cpu().numpy()
        relevance[start:stop] = torch.gather(chunk, 2, best).cpu().float().numpy()
    return TopRelevances(drug_index=np.ascontiguousarray(rows), gene_index=genes, relevance=relevance)
