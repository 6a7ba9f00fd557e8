"""The CLI and the Python API on the shipped bundle: same numbers, clear errors, documented columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurix_core.api import Neurix
from neurix_core.cli import main
from neurix_core.errors import NeurixError, ProfileError
from neurix_core.predict import MIN_GENE_COVERAGE


@pytest.fixture(scope="module")
def neurix() -> Neurix:
    return Neurix.load()


@pytest.fixture(scope="module")
def example_csv(neurix: Neurix, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two held-out example cell lines written as a genes × samples table (the layout most labs export)."""
    path = tmp_path_factory.mktemp("cli") / "profiles.csv"
    neurix.example_profiles().iloc[:2].T.rename_axis("gene").to_csv(path)
    return path


def test_predict_cli_writes_documented_columns(
    example_csv: Path, tmp_path: Path, neurix: Neurix, capsys
) -> None:
    from neurix_core.predict_levels import COMPOUND_COLUMNS, SCREEN_COLUMNS

    out = tmp_path / "predictions.csv"
    assert main(["predict", "--input", str(example_csv), "--out", str(out), "--values", "zscore"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns)[: len(COMPOUND_COLUMNS)] == COMPOUND_COLUMNS
    assert len(table) == 2 * neurix.bundle.drugs["compound_id"].nunique()  # one row per compound
    err = capsys.readouterr().err
    assert "5,778 of 5,778 model genes measured" in err and "0 imputed" in err  # data quality per sample
    trust = ["percentile", "interval_low", "interval_high", "in_domain", "domain_distance"]
    assert set(trust) <= set(table.columns)  # the trust columns (NaN where the bundle has no calibration)
    screen = tmp_path / "screen.csv"
    assert main(["predict", "--input", str(example_csv), "--out", str(screen), "--level", "screen"]) == 0
    table = pd.read_csv(screen)
    assert list(table.columns)[: len(SCREEN_COLUMNS)] == SCREEN_COLUMNS
    assert len(table) == 2 * len(neurix.bundle.drugs)
    assert table["z_log_auc"].astype(str).str.len().max() <= 7  # sensible precision, not 17 digits


def test_cli_and_api_agree(example_csv: Path, tmp_path: Path, neurix: Neurix) -> None:
    out = tmp_path / "predictions.csv"
    main(
        ["predict", "--input", str(example_csv), "--out", str(out), "--values", "zscore", "--level", "screen"]
    )
    cli = pd.read_csv(out, dtype={"drug_id": str})
    api = neurix.predict(neurix.example_profiles().iloc[:2], level="screen")
    merged = cli.merge(api, on=["sample", "screen", "drug_id"], suffixes=("_cli", "_api"))
    assert len(merged) == len(api)
    np.testing.assert_allclose(merged["z_log_auc_cli"], merged["z_log_auc_api"], rtol=1e-3, atol=1e-3)


def test_explain_cli(example_csv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "genes.csv"
    code = main(["explain", "--input", str(example_csv), "--drugs", "Cisplatin,Erlotinib", "--top", "5",
                 "--out", str(out), "--values", "zscore"])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out)
    assert {"sample", "drug_key", "gene", "relevance", "rank", "is_target"} <= set(table.columns)
    assert table.groupby(["sample", "drug_key"]).size().eq(5).all()
    # compound level: one screen entry per (sample, compound), and the matches are reported
    assert table.groupby(["sample", "compound_id"])["drug_key"].nunique().eq(1).all()
    assert set(table["compound_id"]) == {"CISPLATIN", "ERLOTINIB"}
    assert (
        "'Cisplatin' → Cisplatin (CISPLATIN): GDSC1 #1005, GDSC1 #1496, GDSC2 #1005"
        in capsys.readouterr().err
    )


def test_explain_cli_defaults_work_for_multi_sample_files(
    example_csv: Path, tmp_path: Path, neurix: Neurix
) -> None:
    out = tmp_path / "genes.csv"
    assert main(["explain", "--input", str(example_csv), "--top", "3", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["sample"].nunique() == 2
    assert table.groupby("sample")["drug_key"].nunique().eq(5).all()  # each sample's own top 5 compounds
    top = neurix.predict(neurix.example_profiles().iloc[:2])
    expected = set(top.loc[top["rank"] <= 5, "drug_key"])
    assert set(table["drug_key"]) <= expected


def test_drugs_cli_lists_compounds(tmp_path: Path, neurix: Neurix, capsys) -> None:
    assert main(["drugs", "--search", "cisplatin"]) == 0
    printed = capsys.readouterr().out
    assert "CISPLATIN" in printed and "GDSC2 #1005" in printed
    out = tmp_path / "drugs.csv"
    assert main(["drugs", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert {"compound_id", "drug_name", "drug_class", "cv_rho", "n_entries", "entries"} <= set(table.columns)
    assert len(table) == neurix.bundle.drugs["compound_id"].nunique() and table["compound_id"].is_unique


def test_every_cli_option_has_help() -> None:
    import argparse

    from neurix_core.cli import build_parser

    def walk(parser: argparse.ArgumentParser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from walk(sub)
            elif not isinstance(action, argparse._HelpAction):
                yield parser.prog, action

    missing = [f"{prog} {a.option_strings}" for prog, a in walk(build_parser()) if not a.help]
    assert not missing


def test_cli_errors_speak_of_files(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["predict", "--input", str(empty), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "upload" not in err.lower()


def test_low_coverage_is_refused_with_a_clear_message(tmp_path: Path, neurix: Neurix, capsys) -> None:
    genes = neurix.bundle.genes[: int(len(neurix.bundle.genes) * MIN_GENE_COVERAGE) - 50]
    path = tmp_path / "few_genes.tsv"
    pd.DataFrame({"gene": genes, "tumour": np.linspace(0, 12, len(genes))}).to_csv(
        path, sep="\t", index=False
    )
    assert main(["predict", "--input", str(path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "at least 50%" in capsys.readouterr().err
    with pytest.raises(ProfileError, match="at least 50%"):
        neurix.predict(neurix.read_profile(path))


def test_missing_input_and_unknown_drug(tmp_path: Path, neurix: Neurix, capsys) -> None:
    assert main(["predict", "--input", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(NeurixError, match="unknown drug"):
        neurix.drug_indices(["not-a-drug-xyz"])


def test_prediction_ranks_and_relevance_decomposes_prediction(neurix: Neurix) -> None:
    profile = neurix.example_profiles().iloc[:1]
    predictions = neurix.predict(profile, level="screen")
    assert predictions["rank"].tolist() == list(range(1, len(neurix.bundle.drugs) + 1))
    assert predictions["z_log_auc"].is_monotonic_increasing
    genes = neurix.explain(profile, drugs=["Cisplatin"], top=None, level="screen")
    for drug_key, rows in genes.groupby("drug_key"):
        predicted = predictions.set_index("drug_key").loc[drug_key, "z_log_auc"]
        assert rows["prediction"].iloc[0] == pytest.approx(predicted, abs=1e-5)
        assert len(rows) == len(neurix.bundle.genes)


def test_repurposing_candidates_follow_the_rules(neurix: Neurix) -> None:
    profile = neurix.example_profiles().iloc[:1]
    predictions = neurix.predict(profile)
    candidates = neurix.repurposing_candidates(
        predictions, profile.index[0], tumour_type="Lung", max_z=-0.5, max_auc=0.9
    )
    assert (candidates["z_log_auc"] <= -0.5).all() and (candidates["cv_rho"] >= 0.2).all()
    assert (candidates["predicted_auc"] <= 0.9).all() and candidates["clinical_stage"].all()
    assert not candidates["indication_covers_tumour"].any()
    assert (candidates["tumour_type_source"] == "chosen by you").all()
    classes = candidates["drug_class"].tolist()
    if "non-oncology" in classes:
        assert classes.index("non-oncology") == 0  # non-oncology drugs first
    with pytest.raises(NeurixError, match="choose a tumour type"):
        neurix.repurposing_candidates(predictions, profile.index[0])
    suggested = neurix.repurposing_candidates(
        predictions, profile.index[0], suggested_lineage="Lung", max_z=-0.5, max_auc=0.9
    )
    assert suggested["tumour_type_source"].str.startswith("suggested").all()


def test_examples_have_measured_responses(neurix: Neurix) -> None:
    sample = neurix.example_profiles().index[0]
    measured = neurix.example_responses(sample)
    assert len(measured) > 100 and measured["measured_z_log_auc"].notna().all()
    held_out = neurix.bundle.manifest["example_cell_lines"]
    assert sample in held_out and len(held_out) == len(neurix.example_profiles())
    assert neurix.bundle.validation["n_cell_lines"] == 871 - len(held_out)  # examples never trained on


def test_explain_requests_are_capped(neurix: Neurix) -> None:
    from neurix_core.api import MAX_EXPLAIN_PAIRS
    from neurix_core.errors import LimitExceededError

    profiles = neurix.example_profiles()
    assert len(profiles) * len(neurix.bundle.drugs) > MAX_EXPLAIN_PAIRS
    with pytest.raises(LimitExceededError, match="exceeds the limit"):
        neurix.explain(profiles, drugs=None, top=5)
