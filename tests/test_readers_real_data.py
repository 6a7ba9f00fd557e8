"""Every real data file in ../shared/data read through the official readers, checked against known counts.

Why: the readers are what a user points at the official downloads; these counts (from the data README and
measured once) catch a reader that silently drops or duplicates rows.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurix_core.io.depmap import read_depmap_expression, read_depmap_models
from neurix_core.io.expression import read_gdsc_expression
from neurix_core.io.gdsc import (
    read_cell_line_mapping,
    read_drug_smiles,
    read_gdsc_compounds,
    read_gdsc_dose_response,
)
from neurix_core.io.gene_ids import gene_table, map_genes
from neurix_core.io.prism import read_prism_compounds, read_prism_dose_response
from neurix_core.io.profile import parse_profile
from neurix_core.io.repurposing_hub import read_repurposing_drugs, read_repurposing_samples

DEPMAP_SAMPLE = "depmap/sample_24Q4/OmicsExpressionProteinCodingGenesTPMLogp1.csv.gz"


@pytest.fixture(scope="module")
def gdsc_responses(data_dir: Path) -> pd.DataFrame:
    return read_gdsc_dose_response(data_dir / "gdsc" / "GDSC_fitted_dose_response.csv.gz")


@pytest.fixture(scope="module")
def gdsc_expression(data_dir: Path) -> pd.DataFrame:
    return read_gdsc_expression(data_dir / "expression" / "gdsc_microarray_rowz.parquet")


@pytest.fixture(scope="module")
def depmap_sample(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return read_depmap_expression(data_dir / DEPMAP_SAMPLE)


def test_gdsc_dose_response_counts(gdsc_responses: pd.DataFrame) -> None:
    # All 531,299 rows have 0 < AUC <= 1, so the reader's AUC filter drops nothing in this release.
    assert len(gdsc_responses) == 531_299
    assert gdsc_responses["COSMIC_ID"].nunique() == 903
    assert gdsc_responses["CELL_LINE_NAME"].nunique() == 903
    assert gdsc_responses["DRUG_ID"].nunique() == 621
    assert gdsc_responses["DRUG_NAME"].nunique() == 542
    assert gdsc_responses["DATASET"].value_counts().to_dict() == {"GDSC1": 307_564, "GDSC2": 223_735}
    assert gdsc_responses["AUC"].between(0, 1, inclusive="right").all()
    assert not gdsc_responses.duplicated(["DATASET", "COSMIC_ID", "DRUG_ID"]).any()


def test_gdsc_compounds_smiles_and_mapping(data_dir: Path) -> None:
    compounds = read_gdsc_compounds(data_dir / "gdsc" / "screened_compounds_rel_8.4.csv")
    assert len(compounds) == 621
    assert compounds["DRUG_ID"].is_unique
    assert len(read_drug_smiles(data_dir / "gdsc" / "drug_smiles.csv")) == 429
    mapping = read_cell_line_mapping(data_dir / "gdsc" / "cell_line_mapping.csv")
    # 903 rows in the file; KMH-2 (COSMIC 1298167) has no DepMap ModelID and is dropped by the reader.
    assert len(mapping) == 902
    assert 1298167 not in set(mapping["COSMIC_ID"])
    assert mapping["DepMap_ModelID"].str.match(r"^ACH-\d{6}$").all()


def test_gdsc_expression_shape_and_scale(gdsc_expression: pd.DataFrame) -> None:
    assert gdsc_expression.shape == (899, 5_778)
    assert gdsc_expression.dtypes.eq(np.float32).all()
    assert gdsc_expression.index.str.match(r"^ACH-\d{6}$").all()
    assert gdsc_expression.columns.is_unique
    # z-scored within each cell line across genes
    assert np.abs(gdsc_expression.mean(axis=1)).max() < 0.2
    assert np.abs(gdsc_expression.std(axis=1) - 1).max() < 0.1


def test_gdsc_expression_genes_map_to_hgnc(gdsc_expression: pd.DataFrame) -> None:
    """Training genes are partly older symbols (MLLT4, HLA.DPA1): all but one map to current symbols."""
    assert gene_table() is not None
    mapping = map_genes(list(gdsc_expression.columns))
    assert mapping.n_mapped >= 5_777
    assert dict(zip(gdsc_expression.columns, mapping.symbols, strict=True))["MLLT4"] == "AFDN"


def test_prism_dose_response_counts(data_dir: Path) -> None:
    path = data_dir / "prism" / "secondary-screen-dose-response-curve-parameters.csv.gz"
    raw = pd.read_csv(path, usecols=["depmap_id"])
    assert len(raw) == 74_157 and raw["depmap_id"].isna().sum() == 172
    curves = read_prism_dose_response(path)
    # the 172 curves without a depmap_id (no cell line to attach them to) are dropped by the reader
    assert len(curves) == 74_157 - 172
    assert curves["depmap_id"].nunique() == 480
    assert curves["broad_id"].nunique() == 172
    assert curves["compound_id"].nunique() == 142
    assert (curves["auc"] > 0).all()


def test_prism_compounds_count(data_dir: Path) -> None:
    compounds = read_prism_compounds(data_dir / "prism" / "secondary_screen_compounds.csv")
    assert len(compounds) == 1_441
    assert compounds["compound_id"].str.len().eq(13).all()


def test_repurposing_hub_counts(data_dir: Path) -> None:
    drugs = read_repurposing_drugs(data_dir / "repurposing_hub" / "repurposing_drugs_20200324.txt")
    samples = read_repurposing_samples(data_dir / "repurposing_hub" / "repurposing_samples_20200324.txt")
    assert len(drugs) == 6_798
    assert len(samples) == 13_553
    assert drugs["pert_iname"].is_unique


def test_depmap_models_count(data_dir: Path) -> None:
    models = read_depmap_models(data_dir / "depmap" / "Model.csv")
    assert len(models) == 1_959
    assert models["ModelID"].is_unique
    assert len(read_depmap_models(data_dir / "depmap" / "sample_24Q4" / "Model.csv.gz")) == 2_105


def test_depmap_24q4_expression_headers(depmap_sample: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    expression, genes = depmap_sample
    assert expression.shape == (1_673, 150)
    assert len(genes) == 150
    assert genes["entrez"].notna().all()
    assert list(expression.columns) == list(genes["symbol"])
    by_symbol = dict(zip(genes["symbol"], genes["entrez"], strict=True))
    assert by_symbol["TP53"] == 7157
    assert expression.to_numpy().min() >= 0 and expression.to_numpy().max() < 20  # log2(TPM+1)


def test_depmap_entrez_ids_agree_with_bundled_hgnc_table(
    depmap_sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, genes = depmap_sample
    by_header = map_genes([f"{s} ({e})" for s, e in zip(genes["symbol"], genes["entrez"], strict=True)])
    by_entrez = map_genes([str(e) for e in genes["entrez"]])
    assert by_header.id_type == "depmap" and by_entrez.id_type == "entrez"
    assert list(by_header.symbols) == list(genes["symbol"])
    assert list(by_entrez.symbols) == list(genes["symbol"])


def test_parse_profile_reads_real_depmap_rows(
    data_dir: Path, depmap_sample: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """A real-format DepMap file (20 models) uploaded as a profile: same numbers as the dedicated reader."""
    expression, _ = depmap_sample
    raw = pd.read_csv(data_dir / DEPMAP_SAMPLE, nrows=20)
    parsed = parse_profile(raw.to_csv(index=False).encode(), "depmap.csv")
    assert parsed.orientation == "samples_by_genes"
    assert parsed.id_type == "depmap"
    assert parsed.value_scale == "log2tpm"
    assert parsed.expression.shape == (20, 150)
    expected = expression.loc[parsed.expression.index, parsed.expression.columns].astype(float)
    np.testing.assert_allclose(parsed.expression.to_numpy(), expected.to_numpy(), atol=1e-5)


def test_parse_profile_reads_gdsc_zscores_in_model_spelling(gdsc_expression: pd.DataFrame) -> None:
    """GDSC rows written genes × samples with current symbols come back in the training data's spelling."""
    block = gdsc_expression.iloc[:3, :400].T.astype(float)
    current = map_genes(list(block.index)).symbols
    block.index = [c or g for c, g in zip(current, block.index, strict=True)]
    buffer = io.StringIO()
    block.to_csv(buffer, sep="\t")
    parsed = parse_profile(buffer.getvalue().encode(), "gdsc.tsv", known_genes=list(gdsc_expression.columns))
    assert parsed.value_scale == "zscore"
    assert parsed.orientation == "genes_by_samples"
    assert set(parsed.expression.columns) <= set(gdsc_expression.columns)
    assert parsed.expression.shape[1] >= 398
    original = gdsc_expression.loc[parsed.expression.index, parsed.expression.columns].astype(float)
    np.testing.assert_allclose(parsed.expression.to_numpy(), original.to_numpy(), atol=1e-5)
