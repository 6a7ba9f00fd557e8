"""Turning per-gene relevances into statements a biologist can read.

* Units: a gene's relevance *is* its share of the predicted z-scored log AUC; the shares of all genes plus the part
  the network's biases absorb (the "bias share") add up to the prediction (:func:`prediction_budget`).
* Common pattern: drugs predicted best for one profile tend to share their top genes (their latent vectors align with
  the profile's), so the shared genes are shown once (:func:`common_pattern`) and each drug is shown by what sets it
  apart from the other selected drugs (:func:`contrast`: its relevance minus their mean).
* Targets: the drug table's target field is free text ('MEK1, MEK2'); targets are mapped to HGNC symbols and to the
  model's genes, and those the model does not measure are named once (:func:`target_coverage`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from neurix_core.data.drugs import target_genes
from neurix_core.io.gene_ids import current_symbol, model_spelling

COMMON_TOP = 20  # genes per drug compared for the common pattern
COMMON_MIN_OVERLAP = 0.3  # mean pairwise overlap of top-20 sets above which the common pattern is shown


def prediction_budget(gene_sum: float, prediction: float) -> dict[str, float]:
    """How the prediction splits: Σ gene shares + bias share = prediction."""
    return {
        "prediction": float(prediction),
        "gene_sum": float(gene_sum),
        "bias_share": float(prediction - gene_sum),
    }


def budget_sentence(gene_sum: float, prediction: float, n_genes: int) -> str:
    """One line stating the units and the sum, e.g. for a caption."""
    b = prediction_budget(gene_sum, prediction)
    return (
        f"Each value is the gene's share of the predicted z log AUC. The {n_genes:,} gene shares add up to "
        f"{b['gene_sum']:+.3f}; with the bias share {b['bias_share']:+.3f} they make the prediction "
        f"{b['prediction']:+.3f}."
    )


def _top_positions(values: np.ndarray, top: int) -> np.ndarray:
    """Row positions of the ``top`` largest |values| of one column (NaN never; ties: the first rows, as
    ``Series.nlargest``)."""
    magnitude = np.abs(values)
    valid = np.flatnonzero(~np.isnan(magnitude))
    return valid[np.argsort(-magnitude[valid], kind="stable")][:top]


def common_pattern(matrix: pd.DataFrame, top: int = COMMON_TOP) -> tuple[pd.DataFrame, float]:
    """Genes in the top ``top`` of at least half of the selected drugs (genes × drugs relevance ``matrix``), with
    their mean relevance and in how many drugs they are top; and the mean pairwise overlap (Jaccard) of the
    drugs' top sets. Empty for fewer than two drugs."""
    columns = list(matrix.columns)
    if len(columns) < 2:
        return pd.DataFrame(columns=["gene", "mean_relevance", "n_drugs", "direction"]), float("nan")
    values = matrix.to_numpy(dtype=float)
    tops = [_top_positions(values[:, j], top) for j in range(len(columns))]
    sets = [set(t.tolist()) for t in tops]
    pairs = [
        len(sets[a] & sets[b]) / len(sets[a] | sets[b])
        for a in range(len(sets))
        for b in range(a + 1, len(sets))
        if sets[a] | sets[b]
    ]
    counts = np.bincount(np.concatenate(tops), minlength=len(matrix))
    shared = np.flatnonzero(counts * 2 >= len(columns))
    frame = pd.DataFrame(
        {
            "gene": matrix.index[shared],
            "mean_relevance": matrix.iloc[shared].mean(axis=1).to_numpy(),
            "n_drugs": counts[shared],
        }
    )
    frame["direction"] = np.where(frame["mean_relevance"] > 0, "resistance", "sensitising")
    frame = frame.reindex(frame["mean_relevance"].abs().sort_values(ascending=False, kind="stable").index)
    return frame.reset_index(drop=True), float(np.mean(pairs)) if pairs else float("nan")


def contrast(matrix: pd.DataFrame) -> pd.DataFrame:
    """genes × drugs: each drug's relevance minus the mean relevance of the *other* selected drugs — what sets
    it apart. Its column sum is the drug's specific part of the prediction (in prediction units)."""
    n = matrix.shape[1]
    if n < 2:
        return matrix * np.nan
    total = matrix.sum(axis=1)
    others = (total.to_numpy()[:, None] - matrix.to_numpy()) / (n - 1)
    return pd.DataFrame(matrix.to_numpy() - others, index=matrix.index, columns=matrix.columns)


def target_coverage(targets: str, model_genes: Sequence[str]) -> tuple[list[str], list[str]]:
    """(targets that are model genes, in the model's spelling; targets that are not), from the free-text field.

    Targets are mapped to current HGNC symbols first, so 'MEK1' finds MAP2K1 when the model measures it; words
    that are no gene symbol are left out."""
    spelling = model_spelling(tuple(model_genes))
    present, missing = [], []
    for target in sorted(target_genes(targets)):
        symbol = current_symbol(target)
        gene = spelling.get(target.upper()) or (spelling.get(symbol.upper()) if symbol else None)
        if gene:
            present.append(gene)
        elif symbol:  # a real gene the model does not measure ('DNA' in 'DNA crosslinker' is not a gene)
            missing.append(target if symbol.upper() == target.upper() else f"{target} ({symbol})")
    return present, missing


def missing_targets_message(drugs: pd.DataFrame, model_genes: Sequence[str]) -> str | None:
    """One sentence naming the annotated targets that are not among the model's genes, each group once with the
    drugs it concerns (None if none). ``drugs`` has drug_name and targets columns."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, targets in zip(drugs["drug_name"], drugs["targets"], strict=True):
        _, missing = target_coverage(str(targets or ""), model_genes)
        if missing:
            groups.setdefault(tuple(missing), [])
            if name not in groups[tuple(missing)]:
                groups[tuple(missing)].append(str(name))
    if not groups:
        return None
    parts = [f"{', '.join(missing)} ({', '.join(names)})" for missing, names in groups.items()]
    return (
        f"Annotated targets that the model does not measure (not among its {len(model_genes):,} genes), so they "
        f"cannot appear in the explanation: {'; '.join(parts)}."
    )


def explanation_overview(frame: pd.DataFrame, model_genes: Sequence[str], drugs: pd.DataFrame) -> dict:
    """From one sample's all-gene explanation rows (``Neurix.explain(..., top=None)``) to what the pages show:

    ``matrix`` (genes × drug keys), ``common`` genes with ``overlap``, ``contrast`` (each drug minus the mean of
    the other selected drugs), ``specific_share`` (per drug: Σ contrast, the part of its prediction that differs
    from the others' mean), ``budget`` (per drug: prediction, gene sum, bias share), ``missing_targets``,
    ``expression`` (the sample's expression z per gene of ``matrix``) and ``gene_rows`` (per row of ``frame``, its
    gene's row in ``matrix``: lets pages look values up by position)."""
    drug_codes, unique_keys = pd.factorize(frame["drug_key"])  # in order of appearance
    keys = [str(k) for k in unique_keys]
    gene_codes, genes = pd.factorize(frame["gene"], sort=True)  # genes sorted, as a pivot would
    cells = gene_codes * len(keys) + drug_codes
    if np.bincount(cells, minlength=1).max(initial=0) > 1:  # several rows per (gene, drug): the first
        matrix = frame.pivot_table(index="gene", columns="drug_key", values="relevance", aggfunc="first")
        matrix = matrix[keys]
    else:  # the usual one row per (gene, drug): placed by position (hashing the labels once)
        values = np.full((len(genes), len(keys)), np.nan)
        values[gene_codes, drug_codes] = frame["relevance"].to_numpy(dtype=float)
        matrix = pd.DataFrame(
            values,
            index=pd.Index(genes, name="gene"),
            columns=pd.Index(keys, dtype=frame["drug_key"].dtype, name="drug_key"),
        )
    common, overlap = common_pattern(matrix)
    difference = contrast(matrix)
    first_rows = np.unique(drug_codes, return_index=True)[1]  # the first row of each drug, in key order
    first = frame.iloc[first_rows].set_index("drug_key")
    budget = pd.DataFrame(
        {
            "prediction": first["prediction"],
            "gene_sum": first["prediction"] - first["bias_share"],
            "bias_share": first["bias_share"],
        }
    )
    info = drugs.set_index("drug_key").loc[keys].reset_index()
    expression = np.full(len(genes), np.nan)
    expression[gene_codes] = frame["expression_z"].to_numpy(dtype=float)
    return {
        "expression": pd.Series(expression, index=matrix.index, name="expression_z"),
        "gene_rows": gene_codes,
        "matrix": matrix,
        "common": common,
        "overlap": overlap,
        "show_common": len(keys) >= 2 and overlap >= COMMON_MIN_OVERLAP,
        "contrast": difference,
        "specific_share": difference.sum(axis=0),
        "budget": budget,
        "missing_targets": missing_targets_message(info, model_genes),
    }
