"""Gene symbols are HGNC spellings everywhere: training data, old bundles, uploads with either spelling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.api import Neurix
from neurix_core.data.dataset import load_expression
from neurix_core.data.layout import DataLayout
from neurix_core.io.gene_ids import gene_table, repair_symbol, repair_symbols


def test_r_mangled_names_are_repaired_and_others_untouched() -> None:
    assert repair_symbols(["HLA.A", "KRTAP1.5", "NKX3.1", "EGFR", "MLLT4"]) == [
        "HLA-A",
        "KRTAP1-5",
        "NKX3-1",
        "EGFR",
        "MLLT4",  # previous symbols keep the training data's spelling (uploads of AFDN still map)
    ]
    assert repair_symbol("NOT.A.GENE") == "NOT.A.GENE"
    assert repair_symbols(["HLA.A", "HLA-A"]) == ["HLA.A", "HLA-A"]  # never creates a duplicate


def test_every_model_gene_is_an_hgnc_symbol(neurix: Neurix) -> None:
    """All 5,778 genes of the shipped bundle (trained before the repair) are served in HGNC spelling."""
    table = gene_table()
    genes = neurix.bundle.genes
    assert len(set(genes)) == len(genes)
    assert not [g for g in genes if "." in g]
    unknown = [g for g in genes if g.upper() not in table.approved and g.upper() not in table.previous]
    # B3GNT1 is a previous symbol of two genes (B4GAT1, B3GNT2), so HGNC gives it no single current symbol
    assert unknown == ["B3GNT1"]
    assert {"HLA-A", "KRTAP1-5", "HLA-DRB1"} <= set(genes)
    assert {"HLA-A", "KRTAP1-5"} <= set(neurix.example_profiles().columns)


def test_training_data_is_repaired_at_build_time(data_dir: Path) -> None:
    expression, _ = load_expression(DataLayout(data_dir))
    assert "HLA-A" in expression.columns and "KRTAP1-5" in expression.columns
    assert not [g for g in expression.columns if "." in g]


def test_uploads_with_either_spelling_map(neurix: Neurix) -> None:
    example = neurix.example_profiles().iloc[:1]
    reference = neurix.predict(example)["z_log_auc"].to_numpy()
    for spelling in ("HLA.A", "HLA-A"):
        frame = example.rename(columns={"HLA-A": spelling, "KRTAP1-5": spelling.replace("HLA", "KRTAP1")})
        frame = frame.rename(columns={"KRTAP1.A": "KRTAP1.5", "KRTAP1-A": "KRTAP1-5"})
        text = frame.T.rename_axis("gene").to_csv().encode()
        profile = neurix.read_profile(text, filename="p.csv", values="zscore")
        assert {"HLA-A", "KRTAP1-5"} <= set(profile.expression.columns)
        np.testing.assert_allclose(neurix.predict(profile)["z_log_auc"].to_numpy(), reference, atol=1e-5)
        # a DataFrame with R-style columns passed straight to the API aligns too
        np.testing.assert_allclose(
            neurix.predict(pd.DataFrame(frame))["z_log_auc"].to_numpy(), reference, atol=1e-5
        )
