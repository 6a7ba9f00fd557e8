"""Broken inputs end in the project's own error types with a message that says what to fix.

Why: users point the readers at files they downloaded or edited by hand, and clinicians upload profiles; a
pandas traceback helps neither. Each case asserts on the message, not only the type.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from neurix_core.errors import DataFormatError, NeurixError, ProfileError
from neurix_core.io.depmap import read_depmap_expression, read_depmap_models
from neurix_core.io.expression import read_expression_matrix, read_gdsc_expression
from neurix_core.io.gdsc import read_gdsc_compounds, read_gdsc_dose_response
from neurix_core.io.prism import read_prism_dose_response
from neurix_core.io.profile import ParsedProfile, parse_profile
from neurix_core.io.repurposing_hub import read_repurposing_drugs

GDSC_HEADER = "DATASET,COSMIC_ID,CELL_LINE_NAME,DRUG_ID,DRUG_NAME,LN_IC50,AUC"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- official readers ---------------------------------------------------------------------------------------


def test_gdsc_missing_column_names_it(tmp_path: Path) -> None:
    path = write(tmp_path, "gdsc.csv", "DATASET,COSMIC_ID,CELL_LINE_NAME,DRUG_ID,DRUG_NAME\nGDSC1,1,A,1,x\n")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['AUC'\]") as info:
        read_gdsc_dose_response(path)
    assert info.value.source == str(path)


def test_gdsc_wrong_delimiter_hints_at_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "gdsc.csv", GDSC_HEADER.replace(",", "|") + "\nGDSC1|1|A|1|x|0.1|0.5\n")
    with pytest.raises(DataFormatError, match="only one column was found: is the delimiter right"):
        read_gdsc_dose_response(path)


def test_gdsc_semicolon_file_is_sniffed(tmp_path: Path) -> None:
    path = write(tmp_path, "gdsc.csv", GDSC_HEADER.replace(",", ";") + "\nGDSC1;1;A;1;x;0.1;0.5\n")
    assert len(read_gdsc_dose_response(path)) == 1


def test_gdsc_non_numeric_auc_gives_examples(tmp_path: Path) -> None:
    path = write(tmp_path, "gdsc.csv", GDSC_HEADER + "\nGDSC1,1,A,1,x,0.1,high\nGDSC1,2,B,1,x,0.1,0.5\n")
    with pytest.raises(DataFormatError, match=r"column 'AUC' has non-numeric values, e.g. \['high'\]"):
        read_gdsc_dose_response(path)


def test_gdsc_auc_in_percent_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "gdsc.csv", GDSC_HEADER + "\nGDSC1,1,A,1,x,0.1,55\nGDSC1,2,B,1,x,0.1,80\n")
    with pytest.raises(DataFormatError, match="AUC values are not fractions"):
        read_gdsc_dose_response(path)


def test_gdsc_duplicate_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "gdsc.csv", GDSC_HEADER + ",AUC\nGDSC1,1,A,1,x,0.1,0.5,0.6\n")
    with pytest.raises(DataFormatError, match=r"duplicate column name\(s\) \['AUC'\]"):
        read_gdsc_dose_response(path)


@pytest.mark.parametrize(
    "reader",
    [read_gdsc_dose_response, read_gdsc_compounds, read_prism_dose_response, read_depmap_models],
)
def test_empty_file_is_reported(tmp_path: Path, reader: Callable[[Path], object]) -> None:
    path = write(tmp_path, "empty.csv", "")
    with pytest.raises(DataFormatError, match="the file is empty"):
        reader(path)


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "gdsc.csv", GDSC_HEADER + "\n")
    with pytest.raises(DataFormatError, match="no data rows"):
        read_gdsc_dose_response(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="file not found"):
        read_gdsc_dose_response(tmp_path / "nope.csv")


def test_prism_non_numeric_auc(tmp_path: Path) -> None:
    path = write(
        tmp_path, "prism.csv", "broad_id,depmap_id,name,auc\nBRD-K00000001-001-01-1,ACH-000001,x,n/a?\n"
    )
    with pytest.raises(DataFormatError, match="column 'auc' has non-numeric values"):
        read_prism_dose_response(path)


def test_repurposing_hub_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "drugs.txt", "!comment\npert_iname\tclinical_phase\nx\tLaunched\n")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['moa'"):
        read_repurposing_drugs(path)


def test_depmap_models_duplicate_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "Model.csv", "ModelID,COSMICID\nACH-000001,1\nACH-000001,2\n")
    with pytest.raises(DataFormatError, match="ModelID is not unique"):
        read_depmap_models(path)


def test_depmap_expression_rows_must_be_model_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "expr.csv", ",TP53 (7157),KRAS (3845)\nHeLa,1.0,2.0\n")
    with pytest.raises(
        DataFormatError, match=r"rows must be DepMap ModelIDs \(ACH-000000\), found \['HeLa'\]"
    ):
        read_depmap_expression(path)


def test_depmap_expression_plain_symbols_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "expr.csv", ",TP53,KRAS\nACH-000001,1.0,2.0\n")
    with pytest.raises(DataFormatError, match=r"'SYMBOL \(ENTREZ\)'"):
        read_depmap_expression(path)


def test_depmap_expression_non_numeric_values(tmp_path: Path) -> None:
    path = write(tmp_path, "expr.csv", ",TP53 (7157),KRAS (3845)\nACH-000001,high,low\n")
    with pytest.raises(DataFormatError, match="most expression values are not numbers"):
        read_depmap_expression(path)


def test_depmap_expression_duplicate_genes(tmp_path: Path) -> None:
    path = write(tmp_path, "expr.csv", ",TP53 (7157),TP53 (7157)\nACH-000001,1.0,2.0\n")
    with pytest.raises(DataFormatError, match=r"duplicate column name\(s\) \['TP53 \(7157\)'\]"):
        read_depmap_expression(path)


def test_depmap_expression_newer_layout_with_metadata_columns(tmp_path: Path) -> None:
    """24Q4+ files carry SequencingID/ModelID/IsDefaultEntryForModel columns; default entries are kept."""
    path = write(
        tmp_path,
        "expr.csv",
        "SequencingID,ModelID,IsDefaultEntryForModel,ModelConditionID,IsDefaultEntryForMC,TP53 (7157)\n"
        "CDS-1,ACH-000001,Yes,MC-1,Yes,5.0\nCDS-2,ACH-000001,No,MC-2,No,4.0\nCDS-3,ACH-000002,Yes,MC-3,Yes,3.0\n",
    )
    expression, genes = read_depmap_expression(path)
    assert list(expression.index) == ["ACH-000001", "ACH-000002"]
    assert list(expression["TP53"]) == [5.0, 3.0]


def test_expression_matrix_duplicate_genes(tmp_path: Path) -> None:
    path = write(tmp_path, "expr.csv", "ModelID,TP53,KRAS,TP53\nACH-000001,1,2,3\n")
    with pytest.raises(DataFormatError, match=r"duplicate column name\(s\) \['TP53'\]"):
        read_gdsc_expression(path)


def test_expression_matrix_text_only(tmp_path: Path) -> None:
    path = write(tmp_path, "expr.csv", "gene,S1\nTP53,high\nKRAS,low\n")
    with pytest.raises(DataFormatError, match="no numeric expression values found"):
        read_expression_matrix(path)


def test_expression_matrix_unreadable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "expr.parquet"
    path.write_bytes(b"not a parquet file")
    with pytest.raises(DataFormatError, match="could not be read as a table"):
        read_expression_matrix(path)


# --- uploaded profiles ------------------------------------------------------------------------------------


def parse(text: str | bytes, name: str = "profile.csv", **kwargs: object) -> ParsedProfile:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_profile(data, name, **kwargs)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty"),
        ("   \n\n", "The file is empty"),
        ("# only a comment\n", "The file is empty"),
        ("gene,S1\nFOO,1\nBAR,2\n", "No recognisable genes were found"),
        ("S1,S2\n1,2\n3,4\n", "No recognisable genes were found"),
        ("1,2\n3,4\n", "No gene names were found"),
        (
            "gene,S1\nTP53,abc\nKRAS,2\n",
            "hold text instead of a number (first at gene row 1, sample column 1",
        ),
        ("gene\tS1\nTP53\t1,5\nKRAS\t2\n", "use '.' as the decimal point"),
        ("gene,S1\nTP53,inf\nKRAS,2\n", "Some values are infinite"),
        ("gene,S1\nTP53,\nKRAS,\n", "has no values for any gene"),
        ("gene,S1,S2\nTP53,1,2\nKRAS,2,3,4,5\n", "Line 3 has 5 fields but most lines have 3"),
        ("gene\n" + "TP53\n" * 3, "The table has a single column"),
    ],
)
def test_profile_problems_have_actionable_messages(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse(text)
    assert message in str(info.value)


def test_profile_wrong_delimiter_is_a_single_column() -> None:
    with pytest.raises(ProfileError, match="separated by commas, tabs or semicolons"):
        parse("gene|S1\nTP53|1.5\nKRAS|2.5\n")


def test_profile_missing_value_codes_are_refused() -> None:
    rows = [("TP53", -999), *_genes_with_values(150)]
    with pytest.raises(ProfileError, match="missing-value codes"):
        parse("gene,S1\n" + "".join(f"{g},{v}\n" for g, v in rows))


def _genes_with_values(n: int) -> list[tuple[str, int]]:
    from neurix_core.io.gene_ids import gene_table

    table = gene_table()
    assert table is not None
    symbols = sorted(table.approved.values())[1000 : 1000 + n]
    return [(s, 30 + i) for i, s in enumerate(symbols)]


def test_profile_negative_counts_are_refused() -> None:
    with pytest.raises(ProfileError, match="negative values, which read counts cannot be"):
        parse("gene,S1\nTP53,-3\nKRAS,5\n", values="counts")


def test_profile_unknown_value_scale() -> None:
    with pytest.raises(ProfileError, match="Unknown value scale 'fpkm'"):
        parse("gene,S1\nTP53,1\n", values="fpkm")


def test_profile_duplicate_genes_are_averaged_not_refused() -> None:
    parsed = parse("gene,S1\nTP53,2\nTP53,4\nKRAS,1\n")
    assert parsed.n_duplicate_genes == 1
    assert parsed.expression.loc["S1", "TP53"] == pytest.approx(3.0)


def test_profile_errors_never_echo_cell_content() -> None:
    """A value cell may hold anything (even a patient's name); messages point at positions instead."""
    with pytest.raises(ProfileError) as info:
        parse("gene,S1\nTP53,Jane Doe\nKRAS,2\n")
    assert "Jane" not in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02binary\xff" * 50,
        b"PK\x03\x04broken zip",
        b"\x1f\x8b\x08broken gzip",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    ],
)
def test_profile_unreadable_files_are_profile_errors(data: bytes) -> None:
    with pytest.raises(ProfileError):
        parse(data, "upload.bin")


def test_all_errors_are_neurix_errors() -> None:
    assert issubclass(ProfileError, NeurixError) and issubclass(DataFormatError, NeurixError)


def test_profile_does_not_touch_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing happens in memory: run it from an empty working directory and check nothing appears there."""
    monkeypatch.chdir(tmp_path)
    parse(io.BytesIO(b"gene,S1\nTP53,1\nKRAS,2\n").getvalue())
    assert list(tmp_path.iterdir()) == []
