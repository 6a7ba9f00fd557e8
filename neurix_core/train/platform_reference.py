"""Training-time hook: the per-gene RNA-seq reference of the training lines, when DepMap RNA-seq is in the data dir.

Only for a microarray-trained model (a model trained on RNA-seq already scales RNA-seq uploads with its own
statistics). The reference covers the model genes the RNA-seq file measures; coverage is logged and recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from neurix_core.data.layout import DataLayout
from neurix_core.features.rnaseq_reference import MIN_REFERENCE_LINES, RnaseqReference
from neurix_core.io.depmap import read_depmap_expression


def build_rnaseq_reference(
    data_dir: str | Path,
    training_platform: str,
    genes: list[str],
    cell_lines: list[str],
    log: Callable[[str], None] = print,
) -> tuple[RnaseqReference | None, Path | None]:
    """(reference or None, the RNA-seq file used) for the training ``cell_lines`` of a microarray model."""
    if training_platform != "microarray":
        return None, None
    path = DataLayout(Path(data_dir)).find("depmap_expression")
    if path is None:
        log("no DepMap RNA-seq file in the data directory: the bundle gets no RNA-seq reference")
        return None, None
    rnaseq, _ = read_depmap_expression(path)
    reference = RnaseqReference.fit(rnaseq, genes, cell_lines, source=path.name)
    if reference is None:
        log(
            f"{path.name}: fewer than {MIN_REFERENCE_LINES} training cell lines or no model genes sequenced; "
            "no RNA-seq reference"
        )
        return None, path
    log(
        f"RNA-seq reference from {path.name}: {len(reference.genes):,} of {len(genes):,} model genes "
        f"({reference.coverage:.1%}), {reference.n_cell_lines} training cell lines"
    )
    return reference, path
