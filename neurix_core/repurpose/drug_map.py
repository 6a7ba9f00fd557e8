"""A 2-D map of the drug tower's latent space (UMAP), computed once per bundle and stored with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from neurix_core.model.towers import InteractionModel


def drug_latent_matrix(model: InteractionModel) -> np.ndarray:
    """f(d) for every drug the model knows (drugs × K)."""
    model.eval()
    with torch.no_grad():
        return model.drug_latent().numpy()


def compute_drug_map(model: InteractionModel, drugs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """UMAP coordinates (cosine metric: drugs that rank tumours alike sit together) for each drug_key."""
    import umap

    latent = drug_latent_matrix(model)
    n_neighbors = int(min(15, max(2, len(latent) - 1)))
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=0.2, metric="cosine", random_state=seed, n_jobs=1)
    coordinates = reducer.fit_transform(latent)
    return pd.DataFrame(
        {"drug_key": drugs["drug_key"].to_numpy(), "umap_x": coordinates[:, 0], "umap_y": coordinates[:, 1]}
    )


def nearest_drugs(latent: np.ndarray, index: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` drugs whose latent vectors are closest (cosine) to drug ``index``: (indices, similarities),
    most similar first, the drug itself excluded. Measured in the model's own space, not on the 2-D map, whose
    distances UMAP distorts; neighbours here rank tumours alike."""
    norms = np.linalg.norm(latent, axis=1)
    norms[norms == 0] = 1.0
    unit = latent / norms[:, None]
    similarity = unit @ unit[index]
    similarity[index] = -np.inf
    k = int(min(max(k, 0), len(latent) - 1))
    order = np.argpartition(-similarity, k - 1)[:k] if k else np.array([], dtype=int)
    order = order[np.argsort(-similarity[order], kind="stable")]
    return order, similarity[order]
