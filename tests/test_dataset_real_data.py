"""The dataset builder on the real screens: counts, alignment, drug classes and cross-screen matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurix_core.data.dataset import build_dataset
from neurix_core.data.drugs import classify_drug, shared_drugs, target_genes
from neurix_core.data.summary import data_summary
from neurix_core.errors import NeurixError


@pytest.fixture(scope="module")
def full(data_dir: Path):
    return build_dataset(data_dir, ["GDSC1", "GDSC2", "PRISM"])


def test_gdsc_pairs_with_expression(full) -> None:
    gdsc = full.select(drugs=full.screen_mask(["GDSC1", "GDSC2"]))
    tested = np.isfinite(gdsc.log_auc).any(axis=1)
    assert gdsc.n_pairs == 518_398  # of 531,299 responses, those of the 871 cell lines with expression
    assert int(tested.sum()) == 871
    assert len(gdsc.drugs) == 697  # 402 GDSC1 + 295 GDSC2 (screen, DRUG_ID) entries
    assert gdsc.expression.shape == (len(gdsc.cell_lines), 5778)


def test_expression_is_within_sample_zscored_and_rows_align(full) -> None:
    np.testing.assert_allclose(full.expression.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(full.expression.std(axis=1), 1, atol=1e-3)
    assert full.log_auc.shape == (len(full.cell_lines), len(full.drugs))
    assert full.drugs["drug_key"].is_unique


def test_prism_slice(full) -> None:
    prism = full.select(drugs=full.screen_mask(["PRISM"]))
    assert len(prism.drugs) == 142
    assert int(np.isfinite(prism.log_auc).any(axis=1).sum()) == 345


def test_drug_classes_and_annotations(full) -> None:
    drugs = full.drugs.set_index("drug_key")
    assert drugs.loc["GDSC1:1005", "drug_class"] == "chemotherapy"  # cisplatin
    assert drugs.loc["GDSC1:1", "drug_class"] == "targeted"  # erlotinib
    assert set(full.drugs["drug_class"]) == {"targeted", "chemotherapy", "non-oncology", "uncharacterised"}
    assert full.drugs["compound_id"].notna().all()  # compound ids from training time on
    assert (full.drugs["smiles"] != "").mean() > 0.8
    pyrimethamine = full.drugs[full.drugs["drug_name"] == "Pyrimethamine"].iloc[0]
    assert pyrimethamine["drug_class"] == "non-oncology"


def test_classification_rules() -> None:
    assert classify_drug("", "DNA crosslinker", "DNA replication", "")[0] == "chemotherapy"
    assert classify_drug("tubulin polymerization inhibitor", "TUBB", "", "oncology")[0] == "chemotherapy"
    assert classify_drug("EGFR inhibitor", "EGFR", "", "oncology")[0] == "targeted"
    assert (
        classify_drug("dopamine receptor antagonist", "DRD2", "", "neurology/psychiatry")[0] == "non-oncology"
    )
    assert classify_drug("", "", "Unclassified", "")[0] == "uncharacterised"  # no mechanism annotated


def test_shared_gdsc_prism_compounds(full) -> None:
    pairs = pd.concat([shared_drugs(full.drugs, s, "PRISM") for s in ("GDSC1", "GDSC2")])
    assert pairs["drug_key_b"].nunique() == 65  # the data README: 65 PRISM compounds are also GDSC drugs


def test_target_genes() -> None:
    assert target_genes("PARP1, PARP2") == {"PARP1", "PARP2"}
    assert target_genes("EGFR|ERBB2") == {"EGFR", "ERBB2"}
    assert target_genes("Microtubule stabiliser") == set()


def test_summary_counts(data_dir: Path) -> None:
    summary = data_summary(data_dir).set_index("screen")
    assert summary.loc["GDSC1", "responses"] + summary.loc["GDSC2", "responses"] == 531_299
    assert summary.loc["PRISM", "cell_lines_with_expression"] == 345
    assert summary.loc[["GDSC1", "GDSC2"], "pairs_with_expression"].sum() == 518_398


def test_unknown_screen_is_a_clear_error(data_dir: Path) -> None:
    with pytest.raises(NeurixError, match="unknown screen"):
        build_dataset(data_dir, ["CTRP"])
