"""Cell-line identity: every screen is harmonised to the DepMap ModelID (ACH-…), the key expression uses."""

from __future__ import annotations

import re

import pandas as pd


def strip_name(name: str) -> str:
    """DepMap's StrippedCellLineName convention: upper case, letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


def gdsc_model_ids(
    responses: pd.DataFrame,
    models: pd.DataFrame | None = None,
    mapping: pd.DataFrame | None = None,
) -> pd.Series:
    """DepMap ModelID for each GDSC response row, by COSMIC_ID, then SANGER_MODEL_ID, then stripped name.

    ``mapping`` (CELL_LINE_NAME/COSMIC_ID/SANGER_MODEL_ID/DepMap_ModelID) is tried first when given; DepMap
    ``Model.csv`` fills the rest. Rows that match nothing get NA.
    """
    result = pd.Series(pd.NA, index=responses.index, dtype="object")
    lookups: list[tuple[str, pd.Series]] = []
    if mapping is not None:
        by_cosmic = mapping.dropna(subset=["COSMIC_ID"]).drop_duplicates("COSMIC_ID")
        lookups.append(
            ("COSMIC_ID", by_cosmic.set_index(by_cosmic["COSMIC_ID"].astype("int64"))["DepMap_ModelID"])
        )
        if "SANGER_MODEL_ID" in mapping.columns:
            by_sanger = mapping.dropna(subset=["SANGER_MODEL_ID"]).drop_duplicates("SANGER_MODEL_ID")
            lookups.append(("SANGER_MODEL_ID", by_sanger.set_index("SANGER_MODEL_ID")["DepMap_ModelID"]))
    if models is not None:
        by_cosmic = models.dropna(subset=["COSMICID"]).drop_duplicates("COSMICID")
        lookups.append(("COSMIC_ID", by_cosmic.set_index(by_cosmic["COSMICID"].astype("int64"))["ModelID"]))
        by_sanger = models.dropna(subset=["SangerModelID"]).drop_duplicates("SangerModelID")
        lookups.append(("SANGER_MODEL_ID", by_sanger.set_index("SangerModelID")["ModelID"]))
        names = models["StrippedCellLineName"].fillna(models["CellLineName"]).map(strip_name)
        by_name = pd.Series(models["ModelID"].to_numpy(), index=names.to_numpy())
        lookups.append(("_stripped_name", by_name[~by_name.index.duplicated(keep=False)]))
    keys = {
        "COSMIC_ID": responses["COSMIC_ID"],
        "SANGER_MODEL_ID": responses.get("SANGER_MODEL_ID", pd.Series(pd.NA, index=responses.index)),
        "_stripped_name": responses["CELL_LINE_NAME"].map(strip_name),
    }
    for key, lookup in lookups:
        missing = result.isna()
        if not missing.any():
            break
        result[missing] = keys[key][missing].map(lookup)
    return result


def lineage_table(models: pd.DataFrame | None, mapping: pd.DataFrame | None = None) -> pd.DataFrame:
    """ModelID → cell-line name, lineage and primary disease, for labels, examples and tumour-type matching."""
    frames = []
    if models is not None:
        frames.append(
            models[["ModelID", "CellLineName", "OncotreeLineage", "OncotreePrimaryDisease"]].rename(
                columns={
                    "CellLineName": "cell_line_name",
                    "OncotreeLineage": "lineage",
                    "OncotreePrimaryDisease": "primary_disease",
                }
            )
        )
    if mapping is not None and "DepMap_OncotreeLineage" in mapping.columns:
        frames.append(
            mapping[["DepMap_ModelID", "CELL_LINE_NAME", "DepMap_OncotreeLineage"]].rename(
                columns={
                    "DepMap_ModelID": "ModelID",
                    "CELL_LINE_NAME": "cell_line_name",
                    "DepMap_OncotreeLineage": "lineage",
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["cell_line_name", "lineage", "primary_disease"])
    table = pd.concat(frames, ignore_index=True).drop_duplicates("ModelID").set_index("ModelID")
    return table.reindex(columns=["cell_line_name", "lineage", "primary_disease"])
