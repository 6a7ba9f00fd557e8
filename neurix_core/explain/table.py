"""The long explanation table of ``Neurix.explain``, built from integer positions in one pass.

One row per (sample, drug, gene): the gene's relevance and rank, the drug's labels, the sample's expression z, whether
the gene is an annotated target of the drug, and its stability across the shipped fold models.

Why positions: the rows are (profile row, drug index, gene position) triples, and every column is a lookup by
them in an array that depends on the bundle alone (gene and drug labels, target genes) or on the profile (expression,
relevances, member agreement). Built that way the table costs a few array ``take``s per column. The frame-level
route it replaces (joins on drug keys, stacking the expression matrix, mapping gene names back to positions for the
stability marks) hashed every string of a 5 × 6,000-row table several times and was most of an Explain page's
server time. The numbers are the same: tests compare both routes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from neurix_core.explain.lrp import InteractionLRP, ranked_relevance
from neurix_core.explain.readable import target_coverage
from neurix_core.explain.stability import MARKS, Member, member_relevance, stability, stability_levels
from neurix_core.predict import ModelInput

NO_MEMBERS = "n/a (no fold models in this bundle)"
DRUG_COLUMNS = ("compound_id", "drug_name", "screen", "drug_class", "targets")
# Column order of Neurix.explain's table (kept as it was when it was built by joins).
COLUMNS = [
    "sample",
    "drug_key",
    "gene",
    "scaled_expression",
    "relevance",
    "rank",
    "prediction",
    "bias_share",
    *DRUG_COLUMNS,
    "expression_z",
    "is_target",
    "direction",
    "agreeing_models",
    "stability",
    "rank_correlation",
    "top20_overlap",
]


@dataclass
class BundleLabels:
    """What the table takes from the bundle, as arrays indexed by gene position / drug index (built once)."""

    genes: ExtensionArray
    drug_keys: ExtensionArray
    drug_columns: dict[str, ExtensionArray]
    compound_names: ExtensionArray  # per drug index: the compound's name (the first entry's, as ``predict``)
    target_text: list[str]
    n_genes: int
    gene_position: dict[str, int]
    _targets: dict[int, np.ndarray] = field(default_factory=dict)

    def target_positions(self, drug: int) -> np.ndarray:
        """Positions of the drug's annotated targets among the model genes (mapped to current symbols)."""
        found = self._targets.get(drug)
        if found is None:
            present = target_coverage(self.target_text[drug], list(self.gene_position))[0]
            found = np.array([self.gene_position[g] for g in present], dtype=np.int64)
            self._targets[drug] = found
        return found


_LABELS: dict[int, tuple[weakref.ref, BundleLabels]] = {}  # id(bundle) → (the bundle, its labels)
_LABELS_LOCK = threading.Lock()
_DIRECTION = pd.array(["sensitising", "resistance"], dtype="str")
_MARKS = pd.array(list(MARKS), dtype="str")


def bundle_labels(bundle) -> BundleLabels:
    """The bundle's label arrays, built on first use and kept as long as the bundle is loaded."""
    with _LABELS_LOCK:
        cached = _LABELS.get(id(bundle))
        labels = cached[1] if cached is not None and cached[0]() is bundle else None
        if labels is None:
            drugs = bundle.drugs
            names = drugs.drop_duplicates("compound_id").set_index("compound_id")["compound_name"]
            targets = drugs["targets"]
            labels = BundleLabels(
                genes=pd.array(list(bundle.genes), dtype="str"),
                drug_keys=drugs["drug_key"].array,
                drug_columns={c: drugs[c].array for c in DRUG_COLUMNS},
                compound_names=drugs["compound_id"].map(names).array,
                target_text=["" if pd.isna(t) else str(t) for t in targets],
                n_genes=len(bundle.genes),
                gene_position=bundle.gene_index(),
            )
            key = id(bundle)
            _LABELS[key] = (weakref.ref(bundle, lambda _: _LABELS.pop(key, None)), labels)
        return labels


def explanation_table(
    explainer: InteractionLRP,
    members: Sequence[Member],
    model_input: ModelInput,
    rows: Sequence[int],
    indices: Sequence[int],
    labels: BundleLabels,
    top: int | None,
    compound_names: bool,
) -> pd.DataFrame:
    """Relevance of every (sample row, drug index) pair's genes (the ``top`` of largest |relevance|, or all).

    ``compound_names``: label rows with the compound's name (compound level) instead of the entry's. Stability
    compares the served model's relevances of all genes with each member's (``explain/stability.py``).
    """
    indices = np.asarray(indices, dtype=np.int64)
    n_drugs, n_genes = indices.size, labels.n_genes
    keep = n_genes if top is None else max(0, min(int(top), n_genes))
    per_sample = n_drugs * keep
    sample_row = np.repeat(np.arange(len(rows)), per_sample)  # position in ``rows``
    drug_slot = np.tile(np.repeat(np.arange(n_drugs), keep), len(rows))  # position in ``indices``
    gene = np.empty(len(rows) * per_sample, dtype=np.int64)
    columns = {
        name: np.empty(len(rows) * per_sample) for name in ("scaled", "relevance", "prediction", "bias")
    }
    agreeing = np.zeros(len(rows) * per_sample, dtype=np.int64)
    rank_correlation = np.full(len(rows) * per_sample, np.nan)
    top_overlap = np.full(len(rows) * per_sample, np.nan)
    for i, r in enumerate(rows):
        x = model_input.scaled[r : r + 1]
        relevance, prediction, order = ranked_relevance(explainer, x, indices, keep)
        block = slice(i * per_sample, (i + 1) * per_sample)
        gene[block] = order.ravel()
        columns["scaled"][block] = x[0][order].ravel()
        columns["relevance"][block] = np.take_along_axis(relevance, order, axis=1).ravel()
        columns["prediction"][block] = np.repeat(prediction, keep)
        columns["bias"][block] = np.repeat(prediction - relevance.sum(axis=1), keep)
        if members:
            stats = stability(relevance, member_relevance(members, model_input.zscored[r], indices))
            slots = drug_slot[block]
            agreeing[block] = stats["agreeing"][slots, order.ravel()]
            rank_correlation[block] = stats["rank_correlation"][slots]
            top_overlap[block] = stats["top_overlap"][slots]
    drug = indices[drug_slot]
    sample_names = pd.array([model_input.samples[r] for r in rows], dtype="str")
    frame = {
        "sample": sample_names.take(sample_row),
        "drug_key": labels.drug_keys.take(drug),
        "gene": labels.genes.take(gene),
        "scaled_expression": columns["scaled"],
        "relevance": columns["relevance"],
        "rank": np.tile(np.arange(1, keep + 1), len(rows) * n_drugs),
        "prediction": columns["prediction"],
        "bias_share": columns["bias"],
    }
    for name in DRUG_COLUMNS:
        frame[name] = labels.drug_columns[name].take(drug)
    if compound_names:
        frame["drug_name"] = labels.compound_names.take(drug)
    zscored = model_input.zscored[np.asarray(rows, dtype=np.int64)]
    frame["expression_z"] = zscored[sample_row, gene].astype(np.float64)
    frame["is_target"] = _targets(labels, indices, n_genes)[drug_slot, gene]
    frame["direction"] = _DIRECTION.take((columns["relevance"] > 0).astype(np.int64))
    table = pd.DataFrame(frame)
    if not members:
        table["agreeing_models"] = np.nan
        table["stability"] = NO_MEMBERS
        table["rank_correlation"] = np.nan
        table["top20_overlap"] = np.nan
        return table
    table["agreeing_models"] = agreeing
    table["stability"] = _MARKS.take(stability_levels(agreeing, len(members)))
    table["rank_correlation"] = rank_correlation
    table["top20_overlap"] = top_overlap
    return table


def _targets(labels: BundleLabels, indices: np.ndarray, n_genes: int) -> np.ndarray:
    """drugs × genes: whether the gene is an annotated target of the drug."""
    mask = np.zeros((indices.size, n_genes), dtype=bool)
    for j, d in enumerate(indices.tolist()):
        mask[j, labels.target_positions(d)] = True
    return mask
