"""Applicability domain: how much an input profile resembles the training cell lines, in the space the model reads.

The space is the scaled model input (per-sample z, then per-gene standardisation; unmeasured genes at the training
mean, exactly what the expression tower sees), reduced to its leading principal components so the bundle ships a
compact table instead of the training expression. Similarity to a training line is the cosine between the profile
and the line's projection, divided by the profile's full norm: variation outside the training lines' principal
subspace (scrambled genes, noise, another platform's artefacts) lowers every similarity. The domain distance is
1 − the mean similarity to the ``N_NEIGHBOURS`` most similar lines; the in-domain threshold is the quantile of the
same distance for held-out cell lines in cross-validation, so about ``IN_DOMAIN_SHARE`` of real unseen lines pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_COMPONENTS = 100
N_NEIGHBOURS = 5
IN_DOMAIN_SHARE = 0.99


@dataclass
class ReferenceSpace:
    """Principal axes of the training lines' scaled expression and the lines' coordinates on them."""

    components: np.ndarray  # components × genes, orthonormal rows (float32)
    scores: np.ndarray  # training lines × components
    norms: np.ndarray  # full Euclidean norm of each training line's scaled profile

    @classmethod
    def fit(cls, scaled: np.ndarray, n_components: int = N_COMPONENTS) -> ReferenceSpace:
        """PCA without centring (the scaled input is already centred per gene on the training lines), from the
        eigen-decomposition of the lines × lines Gram matrix: exact and several times cheaper than an SVD of the
        lines × genes matrix when genes outnumber lines."""
        scaled = np.asarray(scaled, dtype=np.float64)
        k = int(min(n_components, *scaled.shape))
        eigenvalues, eigenvectors = np.linalg.eigh(scaled @ scaled.T)
        order = np.argsort(eigenvalues)[::-1][:k]
        singular = np.sqrt(np.clip(eigenvalues[order], 1e-12, None))
        components = np.ascontiguousarray(
            (eigenvectors[:, order].T @ scaled) / singular[:, None], dtype=np.float32
        )
        return cls(
            components=components,
            scores=(scaled @ components.T).astype(np.float32),
            norms=np.linalg.norm(scaled, axis=1).astype(np.float32),
        )

    def similarities(self, scaled: np.ndarray) -> np.ndarray:
        """samples × training lines cosine similarity (profile against each line's principal-subspace part)."""
        scaled = np.atleast_2d(np.asarray(scaled, dtype=np.float32))
        projected = scaled @ self.components.T
        norms = np.linalg.norm(scaled, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            cosine = (projected @ self.scores.T) / (norms * self.norms[None, :])
        return np.nan_to_num(cosine, nan=0.0)


def domain_distance(similarities: np.ndarray, k: int = N_NEIGHBOURS) -> np.ndarray:
    """1 − mean similarity to the k most similar training lines (0 = identical, 1 = unrelated)."""
    k = min(k, similarities.shape[1])
    top = -np.partition(-similarities, k - 1, axis=1)[:, :k]
    return 1.0 - top.mean(axis=1)


def flat_profiles(zscored: np.ndarray) -> np.ndarray:
    """Samples whose measured genes do not vary (a constant profile carries no expression pattern): they are
    outside the domain by definition, whatever their scaled vector happens to resemble."""
    zscored = np.atleast_2d(zscored)
    finite = np.isfinite(zscored)
    # all finite is the usual case, where the nan-aware reduction would take ~3× longer
    with np.errstate(invalid="ignore"):
        complete = bool(finite.all())
        spread = zscored.std(axis=1) if complete else np.nanstd(np.where(finite, zscored, np.nan), axis=1)
    return ~(spread > 1e-6)


def held_out_distances(expression: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each cell line's domain distance to the lines of the other folds, with scalers and axes fitted without it.

    ``expression`` is within-sample z (NaN = not measured), as in the training data. This is the distribution a
    real unseen cell line's distance follows, used to set the in-domain threshold and to condition the intervals.
    """
    from neurix_core.features.scaling import GeneScaler

    distances = np.full(len(expression), np.nan)
    for fold in np.unique(folds):
        test = folds == fold
        scaler = GeneScaler.fit(expression[~test])
        space = ReferenceSpace.fit(scaler.transform(expression[~test]))
        distances[test] = domain_distance(space.similarities(scaler.transform(expression[test])))
    return distances


def domain_threshold(distances: np.ndarray, share: float = IN_DOMAIN_SHARE) -> float:
    """Distance below which ``share`` of held-out real cell lines fall."""
    return float(np.quantile(distances[np.isfinite(distances)], share))
