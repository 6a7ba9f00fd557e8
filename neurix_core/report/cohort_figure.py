"""Cohort view of a multi-sample upload: samples × the cohort's top drugs, clustered, with the domain flag.

Why clustered: in a cohort the question is which tumours respond alike; ordering rows and columns by average-linkage
hierarchical clustering (scipy, correlation distance) puts tumours with similar predicted profiles next to each
other. The flag column marks samples outside the model's applicability domain when the predictions carry
``in_domain`` (trust columns of newer bundles); otherwise the figure says the check is not available.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOP_DRUGS = 25


def drug_column(predictions: pd.DataFrame) -> str:
    """Compound-level rows are keyed by compound (its representative screen entry can differ between samples)."""
    return (
        "compound_id"
        if "compound_id" in predictions.columns and "n_entries" in predictions.columns
        else "drug_key"
    )


def top_cohort_drugs(predictions: pd.DataFrame, n: int = TOP_DRUGS) -> list[str]:
    """The ``n`` drugs with the lowest mean predicted z across the samples (most sensitive on average)."""
    key = drug_column(predictions)
    mean = predictions.groupby(key, sort=False)["z_log_auc"].mean().sort_values(kind="stable")
    return mean.index[:n].tolist()


def _order(matrix: np.ndarray) -> np.ndarray:
    """Leaf order of average-linkage clustering on correlation distance (constant rows fall back to Euclidean)."""
    if matrix.shape[0] < 3:
        return np.arange(matrix.shape[0])
    from scipy.cluster.hierarchy import leaves_list, linkage

    centred = matrix - matrix.mean(axis=1, keepdims=True)
    metric = "correlation" if np.all(centred.std(axis=1) > 1e-12) else "euclidean"
    return leaves_list(linkage(matrix, method="average", metric=metric))


def cohort_matrix(predictions: pd.DataFrame, n_drugs: int = TOP_DRUGS) -> pd.DataFrame:
    """samples × top drugs (z_log_auc), rows and columns in clustered order."""
    drugs = top_cohort_drugs(predictions, n_drugs)
    key = drug_column(predictions)
    rows = predictions[predictions[key].isin(drugs)]
    matrix = rows.pivot_table(index="sample", columns=key, values="z_log_auc", sort=False)[drugs]
    values = matrix.to_numpy(dtype=np.float64)
    return matrix.iloc[_order(values), _order(values.T)]


def domain_flags(predictions: pd.DataFrame) -> pd.Series | None:
    """Per-sample ``in_domain`` when the predictions carry it, else None."""
    if "in_domain" not in predictions.columns or predictions["in_domain"].isna().all():
        return None
    return predictions.groupby("sample", sort=False)["in_domain"].first().astype(bool)


def cohort_heatmap(predictions: pd.DataFrame, labels: dict[str, str] | None = None, n_drugs: int = TOP_DRUGS):
    """Plotly heatmap (samples × top drugs, clustered; blue = more sensitive, as on every other Neurix figure)
    with a domain-flag strip."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    matrix = cohort_matrix(predictions, n_drugs)
    flags = domain_flags(predictions)
    if drug_column(predictions) == "compound_id":
        labels = dict(zip(predictions["compound_id"], predictions["drug_name"], strict=True))
    names = [(labels or {}).get(d, d) for d in matrix.columns]
    figure = make_subplots(
        rows=1, cols=2, column_widths=[0.04, 0.96], shared_yaxes=True, horizontal_spacing=0.01
    )
    if flags is not None:
        outside = ~flags.reindex(matrix.index).fillna(True).to_numpy(bool)
        strip, text = (
            outside.astype(float)[:, None],
            np.where(outside, "outside domain", "in domain")[:, None],
        )
        colours = [[0, "#e8e8e8"], [1, "#d62728"]]
        title = "domain"
    else:
        strip, text = np.zeros((len(matrix), 1)), np.full((len(matrix), 1), "domain check not in this bundle")
        colours, title = [[0, "#f4f4f4"], [1, "#f4f4f4"]], "domain n/a"
    figure.add_trace(
        go.Heatmap(
            z=strip,
            x=[title],
            y=matrix.index.astype(str),
            text=text,
            hovertemplate="%{y}: %{text}<extra></extra>",
            colorscale=colours,
            zmin=0,
            zmax=1,
            showscale=False,
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=names,
            y=matrix.index.astype(str),
            colorscale="RdBu_r",  # blue = negative z = more sensitive, as on the bars, heatmaps and drug map
            zmid=0,
            colorbar={"title": "z log AUC<br>(− sensitive)"},
            hovertemplate="%{y} · %{x}<br>z %{z:.2f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    figure.update_layout(
        height=max(320, 18 * len(matrix) + 180),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis2={"tickangle": -45},
    )
    return figure
