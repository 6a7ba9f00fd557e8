"""Screens + expression → training-ready arrays: a (cell lines × drugs) response matrix aligned to expression.

The response matrix is the natural shape for the interaction model: most cell lines were screened with most drugs,
so a dense matrix with NaN for the untested pairs is both compact and lets training run as matrix products.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.data.cell_lines import gdsc_model_ids, lineage_table
from neurix_core.data.drug_table import complete_drug_table
from neurix_core.data.drugs import DRUG_COLUMNS, HubIndex, gdsc_drug_table, prism_drug_table
from neurix_core.data.layout import DataLayout
from neurix_core.errors import NeurixError
from neurix_core.features.scaling import within_sample_zscore
from neurix_core.io.depmap import read_depmap_expression, read_depmap_models
from neurix_core.io.expression import read_gdsc_expression
from neurix_core.io.gdsc import (
    read_cell_line_mapping,
    read_drug_smiles,
    read_gdsc_compounds,
    read_gdsc_dose_response,
)
from neurix_core.io.gene_ids import repair_symbols
from neurix_core.io.prism import read_prism_dose_response
from neurix_core.io.repurposing_hub import read_repurposing_drugs, read_repurposing_samples

SCREENS = ("GDSC1", "GDSC2", "PRISM")


@dataclass
class ResponseData:
    """Aligned training arrays. Row i of every matrix is ``cell_lines[i]``; column j is ``drugs.iloc[j]``."""

    cell_lines: list[str]
    genes: list[str]
    expression: np.ndarray  # cell lines × genes, z-scored within each cell line (float32)
    drugs: pd.DataFrame  # DRUG_COLUMNS, one row per (screen, drug)
    log_auc: np.ndarray  # cell lines × drugs, natural log of AUC, NaN where untested
    cell_info: pd.DataFrame  # indexed by ModelID: cell_line_name, lineage, primary_disease
    source_fingerprint: dict[str, str] = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        return int(np.isfinite(self.log_auc).sum())

    def select(self, cells: np.ndarray | None = None, drugs: np.ndarray | None = None) -> ResponseData:
        """A view on a subset of cell lines (row indices/mask) and/or drugs (column indices/mask)."""
        cells = (
            np.arange(len(self.cell_lines))
            if cells is None
            else np.flatnonzero(_as_mask(cells, len(self.cell_lines)))
        )
        drug_idx = (
            np.arange(len(self.drugs)) if drugs is None else np.flatnonzero(_as_mask(drugs, len(self.drugs)))
        )
        return ResponseData(
            cell_lines=[self.cell_lines[i] for i in cells],
            genes=self.genes,
            expression=self.expression[cells],
            drugs=self.drugs.iloc[drug_idx].reset_index(drop=True),
            log_auc=self.log_auc[np.ix_(cells, drug_idx)],
            cell_info=self.cell_info,
            source_fingerprint=self.source_fingerprint,
        )

    def screen_mask(self, screens: Sequence[str]) -> np.ndarray:
        return self.drugs["screen"].isin(list(screens)).to_numpy()


def _as_mask(selection: np.ndarray, size: int) -> np.ndarray:
    selection = np.asarray(selection)
    if selection.dtype == bool:
        return selection
    mask = np.zeros(size, dtype=bool)
    mask[selection] = True
    return mask


def file_fingerprint(paths: Sequence[Path]) -> dict[str, str]:
    """sha256 of each input file, recorded in the bundle so a model can be traced to the exact data it saw."""
    digests = {}
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests[path.name] = digest.hexdigest()
    return digests


def load_expression(layout: DataLayout, source: str = "auto") -> tuple[pd.DataFrame, Path]:
    """Cell lines × genes expression, z-scored within each cell line across the genes kept."""
    kind, path = layout.expression_source(source)
    if kind == "gdsc_expression":
        frame = read_gdsc_expression(path)
    else:
        frame, _ = read_depmap_expression(path)
    frame = frame.loc[:, frame.notna().mean() > 0.5]
    frame.columns = repair_symbols(list(frame.columns))  # R-mangled names (HLA.A) back to HGNC (HLA-A)
    zscored = within_sample_zscore(frame.to_numpy())
    return pd.DataFrame(zscored.astype(np.float32), index=frame.index, columns=frame.columns), path


def build_dataset(
    data_dir: str | Path, screens: Sequence[str] = ("GDSC1", "GDSC2"), expression_source: str = "auto"
) -> ResponseData:
    """Read the screens and expression from ``data_dir`` and align them into a ResponseData.

    Target space: natural log of AUC; z-scoring per drug happens at training time on the training cell lines only.
    Responses of cell lines without expression are dropped. ``expression_source``: auto (GDSC microarray if present,
    else DepMap RNA-seq), gdsc or depmap.
    """
    screens = [s.upper() for s in screens]
    unknown = sorted(set(screens) - set(SCREENS))
    if unknown or not screens:
        raise NeurixError(f"unknown screen(s) {unknown}; choose from {', '.join(SCREENS)}")
    layout = DataLayout(Path(data_dir))
    expression, expression_path = load_expression(layout, expression_source)
    used_files = [expression_path]

    models_path = layout.find("depmap_models")
    models = read_depmap_models(models_path) if models_path else None
    mapping_path = layout.find("cell_line_mapping")
    mapping = read_cell_line_mapping(mapping_path) if mapping_path else None
    hub_drugs_path, hub_samples_path = layout.find("hub_drugs"), layout.find("hub_samples")
    hub = HubIndex(
        read_repurposing_drugs(hub_drugs_path) if hub_drugs_path else None,
        read_repurposing_samples(hub_samples_path) if hub_samples_path else None,
    )
    used_files += [p for p in (models_path, mapping_path, hub_drugs_path, hub_samples_path) if p]

    long_frames: list[pd.DataFrame] = []
    drug_tables: list[pd.DataFrame] = []
    gdsc_screens = [s for s in screens if s.startswith("GDSC")]
    if gdsc_screens:
        gdsc_paths = layout.find_all("gdsc_dose_response")
        if not gdsc_paths:
            raise NeurixError(f"{data_dir}: no GDSC fitted dose-response file found")
        responses = pd.concat([read_gdsc_dose_response(p) for p in gdsc_paths], ignore_index=True)
        responses = responses[responses["DATASET"].isin(gdsc_screens)].copy()
        responses["ModelID"] = gdsc_model_ids(responses, models, mapping)
        compounds_path, smiles_path = layout.find("gdsc_compounds"), layout.find("gdsc_smiles")
        drug_tables.append(
            gdsc_drug_table(
                responses,
                read_gdsc_compounds(compounds_path) if compounds_path else None,
                read_drug_smiles(smiles_path) if smiles_path else None,
                hub,
            )
        )
        responses["drug_key"] = responses["DATASET"] + ":" + responses["DRUG_ID"].astype(str)
        responses["log_auc"] = np.log(responses["AUC"])
        long_frames.append(responses[["ModelID", "drug_key", "log_auc"]])
        used_files += gdsc_paths + [p for p in (compounds_path, smiles_path) if p]
    if "PRISM" in screens:
        prism_path = layout.require("prism_dose_response")
        responses = read_prism_dose_response(prism_path)
        drug_tables.append(prism_drug_table(responses, hub))
        responses["drug_key"] = "PRISM:" + responses["compound_id"]
        responses["log_auc"] = np.log(responses["auc"].clip(lower=1e-3))
        responses = responses.rename(columns={"depmap_id": "ModelID"})
        long_frames.append(responses[["ModelID", "drug_key", "log_auc"]])
        used_files.append(prism_path)

    long = pd.concat(long_frames, ignore_index=True).dropna(subset=["ModelID"])
    long = long[long["ModelID"].isin(expression.index)]
    # Replicates (PRISM salts/batches of one compound, repeated GDSC measurements) average on the log scale.
    long = long.groupby(["ModelID", "drug_key"], as_index=False)["log_auc"].mean()
    drugs = pd.concat(drug_tables, ignore_index=True)
    drugs = drugs[drugs["drug_key"].isin(set(long["drug_key"]))].reset_index(drop=True)
    cell_lines = sorted(set(long["ModelID"]))
    matrix = long.pivot(index="ModelID", columns="drug_key", values="log_auc").reindex(
        index=cell_lines, columns=drugs["drug_key"]
    )
    return ResponseData(
        cell_lines=cell_lines,
        genes=list(expression.columns),
        expression=expression.loc[cell_lines].to_numpy(dtype=np.float32),
        drugs=complete_drug_table(drugs[DRUG_COLUMNS]),  # compound ids, curated classes
        log_auc=matrix.to_numpy(dtype=np.float32),
        cell_info=lineage_table(models, mapping).reindex(cell_lines),
        source_fingerprint=file_fingerprint(used_files),
    )
