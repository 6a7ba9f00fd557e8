"""Counts per screen: what a data directory holds and how much of it the model can use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.data.dataset import SCREENS, build_dataset
from neurix_core.data.layout import DataLayout
from neurix_core.io.gdsc import read_gdsc_dose_response
from neurix_core.io.prism import read_prism_dose_response


def data_summary(data_dir: str | Path) -> pd.DataFrame:
    """One row per screen: raw cell lines/drugs/responses, then those with expression, and drugs per class."""
    layout = DataLayout(Path(data_dir))
    raw: dict[str, dict[str, int]] = {}
    gdsc_paths = layout.find_all("gdsc_dose_response")
    if gdsc_paths:
        gdsc = pd.concat([read_gdsc_dose_response(p) for p in gdsc_paths], ignore_index=True)
        for screen, rows in gdsc.groupby("DATASET"):
            raw[screen] = {
                "cell_lines": rows["COSMIC_ID"].nunique(),
                "drugs": rows["DRUG_ID"].nunique(),
                "responses": len(rows),
            }
    prism_path = layout.find("prism_dose_response")
    if prism_path:
        prism = read_prism_dose_response(prism_path)
        raw["PRISM"] = {
            "cell_lines": prism["depmap_id"].nunique(),
            "drugs": prism["compound_id"].nunique(),
            "responses": len(prism),
        }
    screens = [s for s in SCREENS if s in raw]
    data = build_dataset(data_dir, screens)
    rows = []
    for screen in screens:
        mask = data.screen_mask([screen])
        responses = data.log_auc[:, mask]
        classes = data.drugs.loc[mask, "drug_class"].value_counts()
        rows.append(
            {
                "screen": screen,
                **raw[screen],
                "cell_lines_with_expression": int(np.isfinite(responses).any(axis=1).sum()),
                "pairs_with_expression": int(np.isfinite(responses).sum()),
                "genes": len(data.genes),
                "targeted": int(classes.get("targeted", 0)),
                "chemotherapy": int(classes.get("chemotherapy", 0)),
                "non-oncology": int(classes.get("non-oncology", 0)),
                "drugs_with_smiles": int((data.drugs.loc[mask, "smiles"] != "").sum()),
            }
        )
    return pd.DataFrame(rows)
