"""The validation protocol's figures as tables and sentences, shared by the Model page and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

METHOD_LABELS = {
    "model": "Neurix (hybrid, shipped)",
    "network": "interaction network alone",
    "ridge": "per-drug ridge (α per drug by LOO)",
    "tissue": "tissue-only lookup (no expression)",
}


def methods_frame(protocol: Mapping | None) -> pd.DataFrame:
    """One row per method: mean/median per-drug ρ, drugs with ρ > 0.2, within-lineage ρ (empty if absent)."""
    rows = {}
    for key, label in METHOD_LABELS.items():
        block = (protocol or {}).get(key)
        if not isinstance(block, Mapping):
            continue
        overall = (block.get("summary") or {}).get("all") or {}
        row = {"mean ρ": overall.get("mean_rho")}
        interval = block.get("bootstrap_ci95")
        if interval is not None:  # repeated CV: the cell-line bootstrap interval and each partition's mean
            row["95% interval"] = f"{interval[0]:.3f}–{interval[1]:.3f}"
            row["by partition"] = ", ".join(f"{v:.3f}" for v in block.get("mean_rho_by_seed") or [])
        row.update(
            {
                "median ρ": overall.get("median_rho"),
                "ρ > 0.2": overall.get("n_rho_gt_0.2"),
                # one value per lineage and fold: the tissue lookup has no within-lineage ranking to score
                "within-lineage ρ": None if key == "tissue" else block.get("within_lineage_rho"),
            }
        )
        rows[label] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    if not frame.empty:
        frame.index.name = "method"
    return frame.round(3)


def paired_sentence(protocol: Mapping | None, baseline: str = "ridge") -> str | None:
    """'Neurix − ridge: +0.012 mean ρ (95% interval …), wins on … of … drugs, Wilcoxon p …' or None."""
    paired = ((protocol or {}).get("paired") or {}).get(f"model_vs_{baseline}")
    if not isinstance(paired, Mapping) or "mean_difference" not in paired:
        return None
    low, high = paired["ci95"]
    text = (
        f"Neurix − {METHOD_LABELS.get(baseline, baseline)}: {paired['mean_difference']:+.4f} mean per-drug ρ "
        f"(95% interval {low:+.4f} to {high:+.4f}), higher ρ on {paired['wins']} of {paired['n_drugs']} drugs "
        f"({paired['win_fraction']:.0%}), Wilcoxon signed-rank p = {paired['wilcoxon_p']:.1e}"
    )
    if "within_lineage_difference" in paired:
        text += f"; within lineage {paired['within_lineage_difference']:+.3f}"
    return text + "."


def protocol_text(validation: Mapping | None) -> str | None:
    """How the figures were obtained, in one paragraph (None for bundles without the protocol block)."""
    validation = validation or {}
    protocol = validation.get("protocol")
    if not isinstance(protocol, Mapping):
        return None
    return (
        f"{validation.get('cross_validation', {}).get('n_folds', 5)}-fold cross-validation over "
        f"{protocol.get('n_cell_lines', '?')} evaluation cell lines; "
        f"{validation.get('n_selection_cell_lines', '?')} other lines (the selection split) chose the shares "
        "of the hybrid's parts and the training length and are never scored here, and six example lines are out "
        "of everything. Every method runs on the same folds with scalers fitted on the training folds; per-drug ρ "
        "comes from pooled out-of-fold predictions. Within-lineage ρ is the mean per-drug ρ inside each lineage "
        f"with ≥ 15 lines ({protocol.get('n_lineages_within', '?')} lineages), averaged: what the model knows beyond "
        "tissue of origin."
    )


def repeated_protocol(validation: Mapping | None) -> Mapping | None:
    """The repeated CV's per-method figures when the model card carries them, else None (the one check every view
    uses before showing them)."""
    block = (validation or {}).get("repeated_cv")
    protocol = block.get("protocol") if isinstance(block, Mapping) else None
    return protocol if isinstance(protocol, Mapping) and isinstance(protocol.get("model"), Mapping) else None


def repeated_cv_text(validation: Mapping | None) -> str | None:
    """One sentence on the repeated CV attached to the model card (None when the bundle has none)."""
    if repeated_protocol(validation) is None:
        return None
    block = validation["repeated_cv"]
    seeds = block.get("partition_seeds") or []
    return (
        f"Repeated {block.get('n_folds', 5)}-fold cross-validation of this model's settings: {len(seeds)} random "
        f"partitions of the same {block.get('n_cell_lines', '?')} evaluation cell lines, every method on the same "
        "folds; per-drug ρ from pooled out-of-fold predictions, averaged over partitions; the interval on a mean ρ "
        f"is a cell-line bootstrap ({block.get('n_boot', '?')} resamples per partition)."
    )
