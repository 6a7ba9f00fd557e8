"""The drug table a bundle serves: compound ids, curated classes and the log-AUC scale, whether the bundle was
trained with them (``neurix train`` stores them) or before they existed (derived when it is loaded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.data.drug_table import complete_drug_table
from neurix_core.model.bundle import load_bundle, save_bundle
from neurix_core.model.towers import TrainingConfig
from neurix_core.train.fit import fit
from tests.test_training import SMALL, planted_data


def _drugs(n: int) -> pd.DataFrame:
    names = ["Cisplatin", "Cisplatin", "AZD8931", "Sapitinib", "Acetalax", "Rapamycin"]
    return pd.DataFrame(
        {
            "drug_key": [f"GDSC{1 + i % 2}:{i}" for i in range(n)],
            "screen": [f"GDSC{1 + i % 2}" for i in range(n)],
            "drug_id": [str(i) for i in range(n)],
            "drug_name": [names[i % len(names)] if i < len(names) else f"drug{i}" for i in range(n)],
            "synonyms": ["", "", "", "AZD8931", "", "Sirolimus"] + [""] * (n - 6),
            "targets": ["DNA crosslinker", "DNA crosslinker", "EGFR, ERBB2", "EGFR, ERBB2", "", "MTORC1"]
            + ["X"] * (n - 6),
            "pathway": ["DNA replication"] * 2
            + ["EGFR signaling"] * 2
            + ["Unclassified", "PI3K/MTOR"]
            + ["Other"] * (n - 6),
            "moa": "",
            "phase": "",
            "disease_area": ["", "", "", "", "", "transplant"] + [""] * (n - 6),
            "indication": "",
            "smiles": "",
            "drug_class": "targeted",
            "class_reason": "",
        }
    )


def _bundle(tmp_path: Path, with_new_columns: bool) -> Path:
    data = planted_data(n_cells=60, n_genes=20, n_drugs=8)
    data.drugs = _drugs(8)
    fitted = fit(data, TrainingConfig(epochs=2, seed=0), SMALL)
    drugs = data.drugs.assign(cv_rho=np.linspace(0.1, 0.5, 8), n_cell_lines=50)
    if with_new_columns:  # what train_bundle stores
        drugs = complete_drug_table(drugs, fitted.target_scaler.mean, fitted.target_scaler.std)
    return save_bundle(tmp_path / "bundle", fitted, data.genes, drugs, {}, {}, ["GDSC1", "GDSC2"])


def _check(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    drugs = bundle.drugs
    assert drugs.loc[:1, "compound_id"].tolist() == ["CISPLATIN", "CISPLATIN"]
    assert drugs.loc[2, "compound_id"] == drugs.loc[3, "compound_id"] == "SAPITINIB"
    assert drugs.loc[4, "drug_class"] == "non-oncology"  # Acetalax: curated override
    assert drugs.loc[5, "drug_class"] == "targeted"  # rapamycin: curated, not 'transplant'
    np.testing.assert_allclose(drugs["log_auc_mean"], bundle.fitted.target_scaler.mean, rtol=1e-6)
    np.testing.assert_allclose(drugs["log_auc_sd"], bundle.fitted.target_scaler.std, rtol=1e-6)


def test_trained_bundle_stores_the_drug_table_columns(tmp_path: Path) -> None:
    directory = _bundle(tmp_path, with_new_columns=True)
    stored = pd.read_csv(directory / "drugs.csv", keep_default_na=False)
    assert {"compound_id", "compound_name", "log_auc_mean", "log_auc_sd"} <= set(stored.columns)
    _check(directory)


def test_older_bundle_gets_the_columns_when_loaded(tmp_path: Path) -> None:
    directory = _bundle(tmp_path, with_new_columns=False)
    stored = pd.read_csv(directory / "drugs.csv", keep_default_na=False)
    assert "compound_id" not in stored.columns
    _check(directory)
