"""Platform detection and the three scaling modes: mechanics on synthetic data, the bundle's RNA-seq reference end
to end on the real-format DepMap sample, and the quoted benchmark figures against the benchmark's own output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurix_core.api import Neurix
from neurix_core.cli import main
from neurix_core.errors import ProfileError
from neurix_core.features import scaling_modes as modes
from neurix_core.features.rnaseq_reference import RnaseqReference
from neurix_core.features.scaling import GeneScaler, within_sample_zscore
from neurix_core.io.depmap import read_depmap_expression
from neurix_core.io.expression import read_gdsc_expression
from neurix_core.model.bundle import load_bundle

DEPMAP_SAMPLE = Path("depmap/sample_24Q4/OmicsExpressionProteinCodingGenesTPMLogp1.csv.gz")
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "platform_transfer.json"


def _reference(genes: list[str], n_model_genes: int) -> RnaseqReference:
    return RnaseqReference(genes, np.zeros(len(genes)), np.ones(len(genes)), 100, n_model_genes)


def test_cohort_scaling_removes_any_per_gene_offset_and_scale() -> None:
    rng = np.random.default_rng(0)
    profiles = rng.normal(5, 2, size=(30, 40))
    offset, gain = rng.normal(0, 3, size=40), rng.uniform(0.5, 2, size=40)
    shifted = profiles * gain + offset  # a platform: each gene its own offset and gain
    # Within-sample z alone cannot remove it; cohort centring does, up to the within-sample step's own effect.
    sample = modes.scale_sample(shifted, GeneScaler.fit(within_sample_zscore(profiles)))
    cohort = modes.scale_cohort(shifted)
    truth = modes.scale_cohort(profiles)
    assert np.corrcoef(cohort.ravel(), truth.ravel())[0, 1] > np.corrcoef(sample.ravel(), truth.ravel())[0, 1]
    np.testing.assert_allclose(cohort.mean(axis=0), 0, atol=1e-5)


def test_reference_scaling_matches_the_training_lines_rnaseq_statistics() -> None:
    rng = np.random.default_rng(1)
    genes = [f"G{i}" for i in range(20)]
    rnaseq = pd.DataFrame(
        rng.gamma(2, 2, size=(50, 12)), index=[f"L{i}" for i in range(50)], columns=genes[:12]
    )
    reference = RnaseqReference.fit(rnaseq, genes, [f"L{i}" for i in range(40)], source="x.csv")
    assert reference is not None and reference.genes == genes[:12] and reference.n_cell_lines == 40
    assert reference.coverage == pytest.approx(0.6)
    train_z = within_sample_zscore(rnaseq.iloc[:40].to_numpy())
    scaled = reference.transform(rnaseq.iloc[:40].to_numpy())
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(scaled, (train_z - train_z.mean(0)) / train_z.std(0), atol=1e-4)
    # Too few sequenced training lines → no reference rather than a noisy one.
    assert RnaseqReference.fit(rnaseq, genes, ["L1", "L2"]) is None


def test_detect_platform() -> None:
    assert modes.detect_platform("tpm") == "rnaseq"
    assert modes.detect_platform("counts") == "rnaseq"
    assert modes.detect_platform("zscore") == "unknown"
    rnaseq = np.r_[np.zeros(50), np.linspace(0, 12, 950)][None, :]
    assert modes.detect_platform("log2tpm", rnaseq) == "rnaseq"
    assert modes.detect_platform("log2tpm", rnaseq + 3) == "microarray"  # RMA-like: nothing unexpressed
    assert modes.detect_platform("log2tpm", rnaseq + 3, requested="rnaseq") == "rnaseq"
    with pytest.raises(ProfileError, match="Unknown platform"):
        modes.detect_platform("tpm", requested="nanopore")


def test_auto_scaling_takes_the_best_available_path_and_flags_microarray_statistics() -> None:
    few, many = 3, modes.MIN_COHORT_SAMPLES
    single = modes.choose_scaling("auto", "rnaseq", "microarray", few, None)
    assert single.mode == "sample" and "microarray statistics" in single.flag
    assert modes.choose_scaling("auto", "rnaseq", "microarray", many, None).mode == "cohort"
    assert modes.choose_scaling("auto", "rnaseq", "microarray", many, None).flag is None
    full = _reference([f"G{i}" for i in range(95)], 100)
    assert modes.choose_scaling("auto", "rnaseq", "microarray", many, full).mode == "reference"
    # A partial reference loses to a cohort, but beats microarray statistics for a single sample (flagged).
    partial = _reference([f"G{i}" for i in range(10)], 100)
    assert modes.choose_scaling("auto", "rnaseq", "microarray", many, partial).mode == "cohort"
    choice = modes.choose_scaling("auto", "rnaseq", "microarray", few, partial)
    assert choice.mode == "reference" and "covers only 10%" in choice.flag
    # Counts are CPM, not TPM: a full TPM reference still leaves gene-length offsets, so a cohort is preferred.
    assert modes.choose_scaling("auto", "rnaseq", "microarray", many, full, "counts").mode == "cohort"
    # Matching platform or already-normalised values: the training path, no warning.
    for platform, trained in (("unknown", "microarray"), ("rnaseq", "rnaseq"), ("microarray", "microarray")):
        choice = modes.choose_scaling("auto", platform, trained, many, None)
        assert choice.mode == "sample" and choice.flag is None
    assert single.benchmark_rho == modes.BENCHMARK_RHO["sample"]
    assert "0.2" in single.describe() and "WARNING" in single.describe()


def test_explicit_scaling_that_cannot_apply_is_refused_in_one_sentence() -> None:
    with pytest.raises(ProfileError, match=f"at least {modes.MIN_COHORT_SAMPLES} samples"):
        modes.choose_scaling("cohort", "rnaseq", "microarray", 3, None)
    with pytest.raises(ProfileError, match="no RNA-seq reference"):
        modes.choose_scaling("reference", "rnaseq", "microarray", 3, None)
    with pytest.raises(ProfileError, match="Unknown scaling"):
        modes.choose_scaling("quantile", "rnaseq", "microarray", 3, None)


def test_quoted_benchmark_figures_match_the_benchmark_output() -> None:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert results["min_cohort_samples"] == modes.MIN_COHORT_SAMPLES
    for path in (
        "microarray",
        "sample",
        "reference",
        "tissue_only",
        "cohort_one_type",
        "microarray_on_one_type_lines",
    ):
        assert modes.BENCHMARK_RHO[path] == pytest.approx(results[f"ridge:{path}"], abs=5e-4)
    assert modes.BENCHMARK_RHO["cohort"] == pytest.approx(
        results[f"ridge:cohort_{modes.MIN_COHORT_SAMPLES}"], abs=5e-4
    )
    assert modes.BENCHMARK_RHO["microarray_cohort"] == pytest.approx(
        results["ridge:microarray_cohort_25"], abs=5e-4
    )
    for path, rho in modes.NN_BENCHMARK_RHO.items():
        assert rho == pytest.approx(results[f"mlp:{path}"], abs=5e-4)


def test_shipped_bundle_records_platform_and_scaling_per_prediction() -> None:
    neurix = Neurix.load()
    rng = np.random.default_rng(2)
    genes = neurix.bundle.genes
    tpm = pd.DataFrame(rng.gamma(0.5, 20, size=(2, len(genes))), index=["t1", "t2"], columns=genes)
    parsed_like = np.log2(tpm + 1)
    table = neurix.predict(parsed_like)
    assert set(table["platform"]) == {"rnaseq"}
    if neurix.bundle.rnaseq_reference is None:  # the bundle as shipped before the retrain
        assert set(table["scaling"]) == {"sample"} and table["platform_flag"].all()
        with pytest.raises(ProfileError, match="no RNA-seq reference"):
            neurix.predict(parsed_like, scaling="reference")
    else:
        assert set(table["scaling"]) == {"reference"}
    examples = neurix.predict(neurix.example_profiles().iloc[:1])  # within-sample z: platform unknown
    assert set(examples["scaling"]) == {"sample"} and not examples["platform_flag"].any()


@pytest.fixture(scope="module")
def small_data_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real data with the microarray cut to the genes shared with the DepMap sample plus a few others, so that
    training runs in seconds; the RNA-seq sample sits where the default command finds it (links, not copies)."""
    root = tmp_path_factory.mktemp("platform_data")
    (root / "gdsc").symlink_to(data_dir / "gdsc")
    (root / "depmap").symlink_to(data_dir / "depmap")
    rnaseq, _ = read_depmap_expression(data_dir / DEPMAP_SAMPLE)
    microarray = read_gdsc_expression(data_dir / "expression" / "gdsc_microarray_rowz.parquet")
    shared = [g for g in microarray.columns if g in set(rnaseq.columns)]
    others = [g for g in microarray.columns if g not in set(shared)][:40]
    (root / "expression").mkdir()
    microarray[shared + others].to_parquet(root / "expression" / "gdsc_microarray_rowz.parquet")
    return root


def test_train_stores_the_rnaseq_reference_and_rnaseq_uploads_use_it(
    small_data_dir: Path, data_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "bundle"
    command = ["train", "--data-dir", str(small_data_dir), "--screens", "GDSC2", "--cv", "0", "--epochs", "2"]
    assert main([*command, "--out", str(out)]) == 0
    assert "RNA-seq reference from OmicsExpressionProteinCodingGenesTPMLogp1" in capsys.readouterr().err
    bundle = load_bundle(out)
    reference = bundle.rnaseq_reference
    assert bundle.training_platform == "microarray" and reference is not None
    assert len(reference.genes) == 53 and bundle.manifest["rnaseq_reference"]["n_genes"] == 53
    assert "OmicsExpressionProteinCodingGenesTPMLogp1.csv.gz" in bundle.manifest["data_fingerprint"]
    assert reference.n_cell_lines >= 400  # the sequenced training lines (held-out examples excluded)

    rnaseq, _ = read_depmap_expression(data_dir / DEPMAP_SAMPLE)
    upload = tmp_path / "rnaseq.tsv"
    rnaseq.iloc[:3].T.rename_axis("gene").to_csv(upload, sep="\t")
    predictions = tmp_path / "predictions.csv"
    args = ["predict", "--bundle", str(out), "--input", str(upload), "--out", str(predictions)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "Scaling: reference" in err and "covers only" in err
    table = pd.read_csv(predictions)
    assert set(table["platform"]) == {"rnaseq"} and set(table["scaling"]) == {"reference"}
    assert table["platform_flag"].all()  # 53 of 93 genes: partial, said so
    assert main([*args, "--scaling", "sample"]) == 0
    assert "microarray statistics" in capsys.readouterr().err
    assert main([*args, "--scaling", "cohort"]) == 2
    assert "at least" in capsys.readouterr().err

    # On held-out example lines, the reference brings RNA-seq closer to the line's own microarray input.
    neurix = Neurix(bundle)
    lines = [c for c in bundle.examples.index if c in rnaseq.index]
    assert lines
    columns = reference.columns(bundle.genes)
    microarray = neurix.prepare(bundle.examples.loc[lines]).scaled[:, columns]
    distance = {
        mode: np.linalg.norm(neurix.prepare(rnaseq.loc[lines], scaling=mode).scaled[:, columns] - microarray)
        for mode in ("reference", "sample")
    }
    assert distance["reference"] < distance["sample"]


def test_training_directly_on_depmap_rnaseq(small_data_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rnaseq_bundle"
    command = ["train", "--data-dir", str(small_data_dir), "--screens", "GDSC2", "--cv", "2", "--epochs", "2"]
    assert main([*command, "--expression", "depmap", "--out", str(out)]) == 0
    bundle = load_bundle(out)
    assert bundle.training_platform == "rnaseq" and bundle.rnaseq_reference is None
    assert len(bundle.genes) == 150 and bundle.drugs["cv_rho"].notna().any()
    timing = json.loads((out / "manifest.json").read_text())[
        "training_time"
    ]  # benchmarks/train_time.py reads it
    assert {"data", "cross-validation and baselines", "final model"} <= set(timing["wall_seconds"])
    assert timing["total_wall_seconds"] == pytest.approx(sum(timing["wall_seconds"].values()), abs=0.1)
    rnaseq, _ = read_depmap_expression(data_dir / DEPMAP_SAMPLE)
    table = Neurix(bundle).predict(rnaseq.iloc[:2])
    assert set(table["scaling"]) == {"sample"} and not table["platform_flag"].any()


def test_report_states_platform_scaling_and_the_flag() -> None:
    from neurix_core.report.html import build_report

    neurix = Neurix.load()
    rng = np.random.default_rng(4)
    genes = neurix.bundle.genes
    profile = pd.DataFrame(np.log2(rng.gamma(0.5, 20, size=(1, len(genes))) + 1), index=["t1"], columns=genes)
    predictions = neurix.predict(profile, scaling="sample")
    html = build_report("t1", predictions, pd.DataFrame(columns=["sample", "drug_key"]), fingerprint="0" * 64)
    assert "<th>Input platform</th><td>rnaseq</td>" in html
    assert "benchmark mean per-drug ρ 0.231" in html
    assert "per-gene platform offsets remain" in html
