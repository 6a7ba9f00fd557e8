"""Where each input lives inside a data directory, for both the shipped slice and the official full downloads.

Official file names carry release suffixes (``GDSC2_fitted_dose_response_27Oct23.csv``), so each input is a glob;
the first pattern that matches wins and several GDSC files are all read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neurix_core.errors import NeurixError

PATTERNS: dict[str, tuple[str, ...]] = {
    "gdsc_dose_response": (
        "gdsc/GDSC_fitted_dose_response.csv*",
        "gdsc/GDSC[12]_fitted_dose_response*.csv*",
        "gdsc/GDSC[12]_fitted_dose_response*.xlsx",
        "GDSC[12]_fitted_dose_response*.csv*",
        "GDSC[12]_fitted_dose_response*.xlsx",
    ),
    "gdsc_compounds": ("gdsc/screened_compounds_rel_8.*.csv", "screened_compounds_rel_8.*.csv"),
    "gdsc_smiles": ("gdsc/drug_smiles.csv",),
    "cell_line_mapping": ("gdsc/cell_line_mapping.csv",),
    "gdsc_expression": ("expression/gdsc_microarray_rowz.parquet",),
    "depmap_expression": (
        "depmap/OmicsExpressionProteinCodingGenesTPMLogp1*.csv*",
        "OmicsExpressionProteinCodingGenesTPMLogp1*.csv*",
        "depmap/*/OmicsExpressionProteinCodingGenesTPMLogp1*.csv*",  # e.g. the real-format sample_24Q4
    ),
    "depmap_models": ("depmap/Model.csv", "Model.csv"),
    "prism_dose_response": (
        "prism/secondary-screen-dose-response-curve-parameters.csv*",
        "secondary-screen-dose-response-curve-parameters.csv*",
    ),
    "prism_compounds": (
        "prism/secondary_screen_compounds.csv",
        "prism/secondary-screen-replicate-treatment-info.csv",
    ),
    "hub_drugs": ("repurposing_hub/repurposing_drugs_*.txt", "repurposing_drugs_*.txt"),
    "hub_samples": ("repurposing_hub/repurposing_samples_*.txt", "repurposing_samples_*.txt"),
}


@dataclass(frozen=True)
class DataLayout:
    """Resolves the input files of a data directory (``../shared/data`` or a folder of official downloads)."""

    root: Path

    def __post_init__(self) -> None:
        if not self.root.is_dir():
            raise NeurixError(f"data directory not found: {self.root}")

    def find_all(self, key: str) -> list[Path]:
        for pattern in PATTERNS[key]:
            matches = sorted(self.root.glob(pattern))
            if matches:
                return matches
        return []

    def find(self, key: str) -> Path | None:
        matches = self.find_all(key)
        return matches[0] if matches else None

    def require(self, key: str) -> Path:
        path = self.find(key)
        if path is None:
            raise NeurixError(f"{self.root}: no file for {key} (looked for {', '.join(PATTERNS[key])})")
        return path

    def expression_source(self, expression: str = "auto") -> tuple[str, Path]:
        """The expression matrix to train on: the GDSC parquet, else the DepMap RNA-seq file (``auto``), or the one
        asked for (``gdsc`` or ``depmap``)."""
        keys = {"auto": ("gdsc_expression", "depmap_expression"), "gdsc": ("gdsc_expression",)}
        keys["depmap"] = ("depmap_expression",)
        if expression not in keys:
            raise NeurixError(f"unknown expression source {expression!r}; choose auto, gdsc or depmap")
        for key in keys[expression]:
            path = self.find(key)
            if path is not None:
                return key, path
        raise NeurixError(
            f"{self.root}: no expression matrix found for --expression {expression} "
            "(GDSC parquet or DepMap OmicsExpressionProteinCodingGenesTPMLogp1.csv)"
        )
