"""Per-gene RNA-seq statistics of the training cell lines: how a microarray-trained model reads an RNA-seq profile.

The platform shift between GDSC microarrays and RNA-seq is mostly a fixed offset per gene (probe affinity, gene
length, mappability), which a within-sample z-score does not remove. If the training lines were also sequenced
(DepMap ``OmicsExpressionProteinCodingGenesTPMLogp1``), the mean/sd of each gene over *their* RNA-seq, taken after
the same within-sample z-score, puts an RNA-seq upload on the scale the network was trained on. Fitted on the
training lines only (never the held-out examples) and stored in the bundle as ``rnaseq_reference.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.errors import BundleError
from neurix_core.features.scaling import GeneScaler, within_sample_zscore

REFERENCE_FILE = "rnaseq_reference.csv"
MIN_REFERENCE_LINES = 20  # fewer sequenced training lines give per-gene sd too noisy to scale with


@dataclass
class RnaseqReference:
    """Per-gene mean/sd of the training lines' RNA-seq (within-sample z over ``genes``), for a subset of model genes.

    ``genes`` are model genes in model order; ``n_model_genes`` is the model's gene count (for coverage).
    """

    genes: list[str]
    mean: np.ndarray
    std: np.ndarray
    n_cell_lines: int
    n_model_genes: int
    source: str = ""

    @property
    def coverage(self) -> float:
        return len(self.genes) / self.n_model_genes if self.n_model_genes else 0.0

    @classmethod
    def fit(
        cls, rnaseq: pd.DataFrame, model_genes: list[str], cell_lines: list[str], source: str = ""
    ) -> RnaseqReference | None:
        """Fit on the rows of ``rnaseq`` (ModelID × symbols, log2(TPM+1)) that are training ``cell_lines``.

        Returns None when fewer than ``MIN_REFERENCE_LINES`` training lines or no model genes are sequenced.
        """
        rows = rnaseq.index.intersection(pd.Index(cell_lines))
        upper = {str(g).upper(): g for g in rnaseq.columns}
        genes = [g for g in model_genes if g.upper() in upper]
        if len(rows) < MIN_REFERENCE_LINES or not genes:
            return None
        values = rnaseq.loc[rows, [upper[g.upper()] for g in genes]].to_numpy(dtype=np.float64)
        scaler = GeneScaler.fit(within_sample_zscore(values))
        return cls(
            genes=genes,
            mean=scaler.mean,
            std=scaler.std,
            n_cell_lines=len(rows),
            n_model_genes=len(model_genes),
            source=source,
        )

    def columns(self, model_genes: list[str]) -> np.ndarray:
        """Indices of the reference genes among ``model_genes``."""
        index = {g: i for i, g in enumerate(model_genes)}
        return np.array([index[g] for g in self.genes], dtype=np.int64)

    def transform(self, log2tpm: np.ndarray) -> np.ndarray:
        """samples × reference genes (log2(TPM+1), NaN = missing) → standardised values; NaN becomes 0."""
        return GeneScaler(self.mean, self.std).transform(within_sample_zscore(log2tpm))

    def summary(self) -> dict:
        """What the manifest and the model card say about the reference."""
        return {
            "n_genes": len(self.genes),
            "n_model_genes": self.n_model_genes,
            "coverage": round(self.coverage, 4),
            "n_cell_lines": self.n_cell_lines,
            "source": self.source,
        }

    def save(self, directory: Path) -> Path:
        path = Path(directory) / REFERENCE_FILE
        frame = pd.DataFrame({"gene": self.genes, "mean": self.mean, "std": self.std})
        frame.to_csv(path, index=False, float_format="%.6g")
        return path

    @classmethod
    def load(cls, directory: Path, model_genes: list[str], manifest: dict) -> RnaseqReference:
        """Read a verified ``rnaseq_reference.csv``; genes must be model genes."""
        frame = pd.read_csv(Path(directory) / REFERENCE_FILE, keep_default_na=False)
        known = set(model_genes)
        if list(frame.columns) != ["gene", "mean", "std"] or not set(frame["gene"]) <= known:
            raise BundleError(f"{directory}: {REFERENCE_FILE} does not match the model's genes")
        order = {g: i for i, g in enumerate(model_genes)}
        frame = frame.sort_values("gene", key=lambda s: s.map(order)).reset_index(drop=True)
        info = manifest.get("rnaseq_reference", {})
        return cls(
            genes=frame["gene"].astype(str).tolist(),
            mean=frame["mean"].to_numpy(np.float32),
            std=frame["std"].to_numpy(np.float32),
            n_cell_lines=int(info.get("n_cell_lines", 0)),
            n_model_genes=len(model_genes),
            source=str(info.get("source", "")),
        )
