"""Discovery, stability, readable explanations and the biology check on a small bundle trained through the real
pipeline (planted data: SLFN11 drives Cisplatin, EGFR Erlotinib, ABCB1 Paclitaxel); the shipped bundle, trained
before these artefacts existed, degrades with a clear message."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from explain_fixtures import GENES, train_small_bundle  # noqa: E402

from neurix_core.api import Neurix  # noqa: E402
from neurix_core.cli import main  # noqa: E402
from neurix_core.errors import NeurixError  # noqa: E402
from neurix_core.explain.markers import marker_table, markers_for_drug  # noqa: E402
from neurix_core.explain.readable import common_pattern, contrast, target_coverage  # noqa: E402
from neurix_core.explain.stability import stability, stability_mark  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Neurix:
    return Neurix.load(train_small_bundle(tmp_path_factory.mktemp("bundle") / "small"))


def test_pipeline_writes_checksummed_artifacts_and_the_biology_summary(small: Neurix) -> None:
    files = small.bundle.manifest["files"]
    assert {"discovery.parquet", "discovery.npz", "members.pt"} <= set(files)
    assert len(small.members) == 3
    biology = small.bundle.validation["biology_check"]
    assert biology["markers_checked"] == 3 and biology["markers_direction_agrees"] == 3


def test_discovery_finds_the_planted_drivers_with_direction_and_marks(small: Neurix) -> None:
    for drug, gene, association in (
        ("Cisplatin", "SLFN11", "high expression → sensitivity"),
        ("Erlotinib", "EGFR", "high expression → sensitivity"),
        ("Paclitaxel", "ABCB1", "high expression → resistance"),
    ):
        table = small.discover(drug, top=5)
        first = table.iloc[0]
        assert first["gene"] == gene and first["discovery_rank"] == 1
        assert first["association"] == association
        assert first["known"].startswith("known marker") and first["source"]
        assert first["agrees_with_literature"] is True or first["agrees_with_literature"] == True  # noqa: E712
        assert first["fold_top"] == 3 and 0 < first["consistency"] <= 1
        assert (table["known"].iloc[1:] == "not annotated").any()
    erlotinib = small.discover("Erlotinib", top=None)
    assert set(erlotinib["gene"]) <= set(GENES)
    points = small.discovery_points(erlotinib["drug_key"].iloc[0], "EGFR")
    assert len(points) > 10 and np.corrcoef(points["expression_z"], points["relevance"])[0, 1] < -0.5


def test_discovery_export_via_cli(small: Neurix, tmp_path: Path, capsys) -> None:
    out = tmp_path / "discovery.csv"
    assert (
        main(["discover", "--drug", "Cisplatin", "--bundle", str(small.bundle.path), "--out", str(out)]) == 0
    )
    table = pd.read_csv(out)
    assert table["gene"].iloc[0] == "SLFN11" and "source" in table.columns
    assert "SLFN11" in capsys.readouterr().out


def test_shipped_bundle_without_discovery_says_so(neurix: Neurix, capsys) -> None:
    if neurix.discovery is not None:
        pytest.skip("the shipped bundle has been retrained with discovery")
    with pytest.raises(NeurixError, match="no discovery view"):
        neurix.discover("Cisplatin")
    assert main(["discover", "--drug", "Cisplatin"]) == 2
    assert "retrain" in capsys.readouterr().err


def test_explanations_add_up_and_carry_stability(small: Neurix) -> None:
    examples = small.example_profiles()
    profile = examples.loc[[examples["SLFN11"].abs().idxmax()]]  # a line where the planted driver matters
    frame = small.explain(profile, drugs=["Cisplatin", "Erlotinib"], top=None)
    for _, part in frame.groupby("drug_key"):
        total = part["relevance"].sum() + part["bias_share"].iloc[0]
        assert total == pytest.approx(part["prediction"].iloc[0], abs=1e-4)
    assert set(frame["stability"]) <= {"stable", "partly stable", "model-specific"}
    assert frame["agreeing_models"].between(0, 3).all() and frame["rank_correlation"].notna().all()
    slfn11 = frame[(frame["drug_name"] == "Cisplatin") & (frame["gene"] == "SLFN11")].iloc[0]
    assert slfn11["rank"] <= 2 and slfn11["stability"] in {"stable", "partly stable"}


def test_shipped_bundle_explanations_state_missing_stability(neurix: Neurix) -> None:
    frame = neurix.explain(neurix.example_profiles().iloc[:1], drugs=["Cisplatin"], top=3)
    if neurix.members:
        assert frame["agreeing_models"].notna().all()
    else:
        assert frame["stability"].str.startswith("n/a").all()
    assert {"prediction", "bias_share"} <= set(frame.columns)


def test_overview_common_pattern_contrast_and_missing_targets(small: Neurix) -> None:
    profile = small.example_profiles().iloc[:1]
    overview = small.overview(profile, profile.index[0], ["Cisplatin", "Erlotinib", "Drug0", "Drug1"])
    matrix, difference = overview["matrix"], overview["contrast"]
    assert difference.shape == matrix.shape
    others = matrix.drop(columns=matrix.columns[0]).mean(axis=1)
    np.testing.assert_allclose(difference.iloc[:, 0], matrix.iloc[:, 0] - others)
    assert overview["missing_targets"].count("MEK1") == 1  # named once for all MEK drugs
    assert "Cisplatin" not in overview["missing_targets"]  # 'DNA crosslinker' names no gene


def test_common_pattern_on_a_known_matrix() -> None:
    genes = [f"G{i}" for i in range(40)]
    shared = np.r_[np.linspace(2, 1, 20), np.zeros(20)]
    matrix = pd.DataFrame(
        {"a": shared, "b": shared * 0.5, "c": np.r_[np.zeros(20), np.ones(20)]}, index=genes
    )
    common, overlap = common_pattern(matrix)
    assert set(common["gene"]) == set(genes[:20]) and (common["n_drugs"] == 2).all()
    assert overlap == pytest.approx((1 + 0 + 0) / 3)
    assert contrast(matrix)["c"].sum() == pytest.approx(20 - 0.75 * 30)


def test_stability_marks() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(2, 100))
    same = np.stack([reference, reference, reference])
    stats = stability(reference, same)
    np.testing.assert_allclose(stats["rank_correlation"], 1.0)
    assert (stats["top_overlap"] == 1).all() and stats["agreeing"].max() == 3
    noisy = stability(reference, rng.normal(size=(3, 2, 100)))
    assert (noisy["rank_correlation"] < 0.5).all()
    assert [stability_mark(a, 3) for a in (3, 2, 1, 0)] == [
        "stable",
        "partly stable",
        "model-specific",
    ] * 1 + ["model-specific"]


def test_targets_map_through_hgnc() -> None:
    present, missing = target_coverage("MEK1, MEK2, EGFR", ["EGFR", "MAP2K1"])
    assert present == ["EGFR", "MAP2K1"] and missing == ["MEK2 (MAP2K2)"]


def test_every_marker_has_a_source_and_a_direction() -> None:
    table = marker_table()
    assert table["source"].str.len().gt(10).all()
    assert set(table["expected"]) == {"sensitivity", "resistance"}
    assert {"SLFN11", "ABCB1", "EGFR", "ERBB2", "BCL2", "MDM2", "MET", "MGMT", "ESR1"} <= set(table["gene"])
    assert set(markers_for_drug("Nutlin-3a (-)")["gene"]) >= {"MDM2"}


def test_biology_check_benchmark_runs_on_a_bundle(small: Neurix, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import biology_check

    assert biology_check.main(["--bundle", str(small.bundle.path), "--results", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "biology_check.json").read_text())
    assert {m["gene"] for m in result["markers"]} == {"SLFN11", "EGFR", "ABCB1"}
    assert "| SLFN11 | Cisplatin |" in (tmp_path / "biology_check.md").read_text()
