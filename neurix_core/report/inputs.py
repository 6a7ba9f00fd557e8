"""How a parsed input is described to people (dashboard, CLI and report use the same words)."""

from __future__ import annotations

SCALE_LABELS = {
    "auto": "auto-detect",
    "log2tpm": "log2(TPM+1)",
    "tpm": "TPM",
    "counts": "read counts",
    "zscore": "z-scores (already normalised)",
    "log2": "log2 values (may be negative)",
}
ORIENTATION_LABELS = {
    "genes_by_samples": "genes in rows, samples in columns",
    "samples_by_genes": "samples in rows, genes in columns",
}
ID_LABELS = {
    "symbol": "HGNC symbols",
    "entrez": "Entrez gene ids",
    "ensembl": "Ensembl gene ids",
    "depmap": "DepMap 'SYMBOL (Entrez)' labels",
}


def input_summary(
    *,
    source: str,
    value_scale: str,
    orientation: str,
    id_type: str,
    n_mapped_genes: int,
    n_input_genes: int,
    n_samples: int,
    scale_reason: str = "",
) -> dict[str, str]:
    """What was detected in an input, in words (also written into the report)."""
    return {
        "Source": source,
        "Value scale": SCALE_LABELS.get(value_scale, value_scale)
        + (f" ({scale_reason})" if scale_reason else ""),
        "Orientation": ORIENTATION_LABELS.get(orientation, orientation),
        "Gene identifiers": ID_LABELS.get(id_type, id_type),
        "Genes recognised": f"{n_mapped_genes:,} of {n_input_genes:,}",
        "Samples": f"{n_samples}",
    }
