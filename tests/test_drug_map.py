"""The drug map's mechanics: neighbours in the model's drug space, labels that do not overlap, and the colour
modes (this sample's sensitivity on a diverging scale centred at 0, reliability tiers, annotations)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from neurix_core.api import Neurix
from neurix_core.report.figures import drug_map_scatter
from neurix_core.report.labels import place_labels
from neurix_core.repurpose.drug_map import nearest_drugs


def test_nearest_drugs_rank_by_cosine_and_exclude_the_drug() -> None:
    latent = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [2.0, 0.05]])
    order, similarity = nearest_drugs(latent, 0, k=3)
    assert order.tolist() == [4, 1, 2]  # scale does not matter for cosine
    assert np.all(np.diff(similarity) <= 0) and 0 not in order
    assert nearest_drugs(latent, 0, k=99)[0].size == 4


def test_labels_of_a_tight_cluster_do_not_overlap() -> None:
    rng = np.random.default_rng(0)
    x, y = 5 + rng.normal(0, 0.15, 15), 5 + rng.normal(0, 0.15, 15)
    labels = [f"{i + 1}. Drug name {i}" for i in range(15)]
    spots = place_labels(x, y, labels, x_range=(0, 10), y_range=(0, 10), width=1000, height=500)
    for a, b in itertools.combinations([s.box for s in spots], 2):
        separate = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
        assert separate, f"labels overlap: {a} {b}"
    for box in (s.box for s in spots):
        assert box[0] >= 0 and box[2] <= 1000 and box[1] >= 0 and box[3] <= 500


def test_map_colours_and_highlights(neurix: Neurix) -> None:
    table = neurix.drug_map()
    keys = table["drug_key"].tolist()
    predictions = {key: float(v) for key, v in zip(keys[1:], np.linspace(-2, 1, len(keys) - 1), strict=True)}
    fig = drug_map_scatter(
        table, "sensitivity", predictions, keys[:4], focus=[keys[10]], neighbours=keys[11:14]
    )
    traces = {trace.name: trace for trace in fig.data}
    scale = traces["predicted z log AUC"].marker
    assert scale.cmid == 0 and scale.cmin == -scale.cmax
    assert len(traces["no prediction"].x) == 1, "a drug without a prediction is grey, not coloured as 0"
    assert len(traces["searched drug"].x) == 1 and len(traces["nearest drugs in the model's space"].x) == 3
    texts = [a.text for a in fig.layout.annotations]
    assert len(texts) == 5 and texts[0].startswith("<b>"), "searched drug first, then the four candidates"
    assert [t.split(". ")[0] for t in texts[1:]] == ["1", "2", "3", "4"]
    fig = drug_map_scatter(table, "reliability", predictions)
    names = [trace.name for trace in fig.data]
    assert names == [t for t in ("high", "moderate", "low", "unvalidated") if t in names]
    assert sum(len(trace.x) for trace in fig.data) == len(table)
    assert not fig.layout.annotations
    assert pd.notna(fig.layout.xaxis.range[0])
