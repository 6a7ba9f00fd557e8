"""``Neurix.explain``'s table is built from integer positions (``neurix_core/explain/table.py``); these tests hold it
equal to the same table built the plain way, with joins and label lookups on the long frame, and hold the pieces
the Explain page looks up by position (overview matrix, expression, gene rows, drug blocks) to what they stand for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.widgets import drug_blocks
from neurix_core.explain.lrp import relevance_frame
from neurix_core.explain.readable import explanation_overview, target_coverage
from neurix_core.explain.stability import member_relevance, stability, stability_marks


def _joined(neurix, model_input, rows: list[int], keys: list[str], top: int | None) -> pd.DataFrame:
    """The explanation table by joins and lookups on labels (the route ``explanation_table`` replaced)."""
    bundle = neurix.bundle
    indices = neurix.drug_indices(keys)
    samples = [model_input.samples[r] for r in rows]
    frame = relevance_frame(
        neurix.explainer,
        model_input.scaled[rows],
        samples,
        bundle.genes,
        drug_index=indices,
        drug_keys=bundle.drugs["drug_key"].tolist(),
        top=top,
    )
    info = bundle.drugs.set_index("drug_key")[["compound_id", "drug_name", "screen", "drug_class", "targets"]]
    frame = frame.join(info, on="drug")
    names = bundle.drugs.drop_duplicates("compound_id").set_index("compound_id")["compound_name"]
    frame["drug_name"] = frame["compound_id"].map(names)
    frame = frame.rename(columns={"drug": "drug_key", "input_value": "scaled_expression"})
    zscored = pd.DataFrame(model_input.zscored[rows], index=samples, columns=bundle.genes)
    cells = pd.MultiIndex.from_arrays([frame["sample"], frame["gene"]])
    frame["expression_z"] = zscored.stack(future_stack=True).reindex(cells).to_numpy()
    is_target = np.zeros(len(frame), dtype=bool)
    for targets in frame["targets"].unique():
        present = target_coverage(targets, bundle.genes)[0]
        is_target |= ((frame["targets"] == targets) & frame["gene"].isin(present)).to_numpy()
    frame["is_target"] = is_target
    frame["direction"] = np.where(frame["relevance"] > 0, "resistance", "sensitising")
    gene_position = {g: i for i, g in enumerate(bundle.genes)}
    drug_position = {k: j for j, k in enumerate(bundle.drugs["drug_key"].iloc[indices])}
    parts = []
    for r, sample in zip(rows, samples, strict=True):
        part = frame[frame["sample"] == sample].copy()
        reference = neurix.explainer.relevance(model_input.scaled[r : r + 1], indices)[0].numpy()
        stats = stability(reference, member_relevance(neurix.members, model_input.zscored[r], indices))
        d = part["drug_key"].map(drug_position).to_numpy()
        agreeing = stats["agreeing"][d, part["gene"].map(gene_position).to_numpy()]
        part["agreeing_models"] = agreeing
        part["stability"] = stability_marks(agreeing, len(neurix.members))
        part["rank_correlation"] = stats["rank_correlation"][d]
        part["top20_overlap"] = stats["top_overlap"][d]
        parts.append(part)
    return pd.concat(parts).drop(columns="drug_index").reset_index(drop=True)


@pytest.mark.parametrize("top", [None, 7])
def test_explanation_table_equals_the_joined_table(neurix, examples, top) -> None:
    if not neurix.members:
        pytest.skip("the bundle ships no fold models")
    model_input = neurix.prepare(examples.iloc[:2])
    keys = neurix.bundle.drugs["drug_key"].iloc[[3, 40, 41]].tolist()
    fast = neurix.explain(model_input, drugs=keys, top=top)
    expected = _joined(neurix, model_input, [0, 1], keys, top)
    pd.testing.assert_frame_equal(fast, expected[fast.columns], check_dtype=False)
    assert list(fast.columns) == list(expected.columns)
    assert fast["is_target"].any() or not expected["is_target"].any()


def test_overview_positions_and_drug_blocks(neurix, examples) -> None:
    model_input = neurix.prepare(examples.iloc[:1])
    keys = neurix.bundle.drugs["drug_key"].iloc[[3, 40, 41]].tolist()
    frame = neurix.explain(model_input, drugs=keys, top=None)
    overview = explanation_overview(frame, neurix.bundle.genes, neurix.bundle.drugs)
    pivot = frame.pivot(index="gene", columns="drug_key", values="relevance")[keys]
    pd.testing.assert_frame_equal(overview["matrix"], pivot, check_column_type=False)
    rows = overview["gene_rows"]
    assert (overview["matrix"].index[rows] == frame["gene"]).all()
    expression = frame.drop_duplicates("gene").set_index("gene")["expression_z"]
    np.testing.assert_array_equal(overview["expression"].to_numpy(), expression.loc[pivot.index].to_numpy())
    blocks = drug_blocks(frame)
    assert list(blocks) == keys and all(isinstance(b, slice) for b in blocks.values())
    for key, rows_of_drug in blocks.items():
        assert (frame["drug_key"].iloc[rows_of_drug] == key).all()
    shuffled = frame.sample(frac=1.0, random_state=0)
    for key, positions in drug_blocks(shuffled).items():
        assert (shuffled["drug_key"].iloc[positions] == key).all()
