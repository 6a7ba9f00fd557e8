"""Predictions as AnnData (samples × drugs) so scanpy users can cluster and plot them like expression.

Layout: ``X`` = z_log_auc; every other prediction column goes where its values vary — per drug only → ``var``
(drug name, class, cross-validated ρ...), per sample only → ``obs`` (domain flag...), per (sample, drug) →
a layer (rank, intervals...). The rule is generic, so columns added to ``prediction_table`` later land in the right
place without changes here. The per-sample quality table (coverage, imputed genes, failures with their reason,
the input's own ``obs`` annotations) joins ``obs``; refused samples keep their row with NaN predictions.

anndata (pinned) declares pandas < 3; Neurix runs it with pandas 3, so strings are handed to it as plain
object columns (anndata 0.12 refuses pandas' new string arrays unless told otherwise), which keeps the files
readable by older anndata versions too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE, VALUE = "sample", "z_log_auc"
MAX_IN_MEMORY_CELLS = 200_000_000  # samples × drugs × layers; beyond this keep the partitioned Parquet


def predictions_to_anndata(
    predictions: pd.DataFrame, quality: pd.DataFrame | None = None, drug_order: list[str] | None = None
):
    """A long prediction table (one row per sample × drug, as ``predict`` returns) as an AnnData."""
    import anndata

    drug = (
        "compound_id" if "compound_id" in predictions.columns else "drug_key"
    )  # the compound at compound level
    samples = pd.Index(pd.unique(predictions[SAMPLE].astype(str)))
    if quality is not None and len(quality):
        samples = samples.append(pd.Index(quality[SAMPLE].astype(str)).difference(samples, sort=False))
    drugs = pd.Index(drug_order if drug_order is not None else pd.unique(predictions[drug].astype(str)))
    rows = samples.get_indexer(predictions[SAMPLE].astype(str))
    cols = drugs.get_indexer(predictions[drug].astype(str))
    shape = (len(samples), len(drugs))
    n_columns = len(predictions.columns)
    if shape[0] * shape[1] * max(1, n_columns - 2) > MAX_IN_MEMORY_CELLS:
        raise MemoryError(
            f"{shape[0]:,} samples × {shape[1]:,} drugs is too large for one in-memory AnnData: keep the "
            "partitioned Parquet output (--out DIR)"
        )
    obs = pd.DataFrame(index=samples.astype(object))
    var = pd.DataFrame(index=drugs.astype(object))
    layers: dict[str, np.ndarray] = {}
    X = np.full(shape, np.nan, dtype=np.float32)
    X[rows, cols] = predictions[VALUE].to_numpy(dtype=np.float32)
    for column in predictions.columns:
        if column in (SAMPLE, drug, VALUE):
            continue
        values = predictions[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        by_drug = values.groupby(cols).nunique(dropna=False).max() <= 1
        by_sample = values.groupby(rows).nunique(dropna=False).max() <= 1
        if by_drug:
            first = values.groupby(cols).first()
            var[column] = _plain(
                pd.Series(first.to_numpy(), index=drugs[first.index]).reindex(drugs), var.index
            )
        elif by_sample:
            first = values.groupby(rows).first()
            obs[column] = _plain(
                pd.Series(first.to_numpy(), index=samples[first.index]).reindex(samples), obs.index
            )
        elif numeric:
            layer = np.full(shape, np.nan, dtype=np.float32)
            layer[rows, cols] = values.to_numpy(dtype=np.float32)
            layers[column] = layer
    if quality is not None and len(quality):
        extra = quality.set_index(quality[SAMPLE].astype(str)).drop(columns=[SAMPLE])
        extra = extra[[c for c in extra.columns if c not in obs.columns]]
        for column in extra.columns:
            obs[column] = _plain(extra[column].reindex(samples), obs.index)
    return anndata.AnnData(X=X, obs=obs, var=var, layers=layers)


def _plain(values: pd.Series, index: pd.Index) -> pd.Series:
    """Strings as object columns (see module docstring); nullable integers as float with NaN."""
    if pd.api.types.is_bool_dtype(values) and not values.isna().any():
        return pd.Series(values.to_numpy(dtype=bool), index=index)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return pd.Series(values.to_numpy(dtype=np.float64, na_value=np.nan), index=index)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    return pd.Series([None if pd.isna(v) else str(v) for v in values], index=index, dtype=object)


def read_cohort_anndata(run_dir: str | Path):
    """A finished ``neurix cohort`` output directory as one in-memory AnnData (predictions + quality)."""
    from neurix_core.cohort.partition import PREDICTIONS, QUALITY

    run_dir = Path(run_dir)
    parts = sorted((run_dir / PREDICTIONS).glob("part-*.parquet"))
    quality_parts = sorted((run_dir / QUALITY).glob("part-*.parquet"))
    if not quality_parts:
        raise FileNotFoundError(f"{run_dir} holds no cohort output")
    predictions = (
        pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        if parts
        else pd.DataFrame(columns=[SAMPLE, "drug_key", VALUE])
    )
    quality = pd.concat([pd.read_parquet(p) for p in quality_parts], ignore_index=True)
    return predictions_to_anndata(predictions, quality)
