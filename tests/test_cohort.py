"""`neurix cohort`: every format, the same numbers as `predict`, bad samples listed, resumable, AnnData out.

Runs partitions in-process (``scheduler="inline"``) on a small cohort made from the shipped example cell lines;
the Dask cluster and worker-loss behaviour is tested in test_cohort_faults.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurix_core.api import Neurix
from neurix_core.cli import main
from neurix_core.errors import NeurixError

anndata = pytest.importorskip("anndata")

N_GOOD = 30


@pytest.fixture(scope="module")
def neurix() -> Neurix:
    return Neurix.load()


@pytest.fixture(scope="module")
def cohort(neurix: Neurix) -> pd.DataFrame:
    """30 noisy copies of the example lines (z-scores) plus two bad samples: too few genes, and no values."""
    examples = neurix.example_profiles()
    rng = np.random.default_rng(0)
    values = np.repeat(examples.to_numpy(), 5, axis=0)[:N_GOOD] + rng.normal(
        0, 0.3, (N_GOOD, examples.shape[1])
    )
    frame = pd.DataFrame(values, columns=examples.columns, index=[f"T{i:03d}" for i in range(N_GOOD)])
    sparse = frame.iloc[0].copy()
    sparse.iloc[: int(0.7 * len(sparse))] = np.nan  # 30% of the model's genes: below the 50% rule
    frame.loc["few_genes"] = sparse
    frame.loc["empty"] = np.nan
    return frame


def _write_h5ad(frame: pd.DataFrame, path: Path) -> Path:
    obs = pd.DataFrame(
        {"tumour_type": pd.Categorical(np.asarray(["Lung", "Breast"])[np.arange(len(frame)) % 2])},
        index=pd.Index(list(frame.index), dtype=object),
    )
    var = pd.DataFrame(index=pd.Index(list(frame.columns), dtype=object))
    anndata.AnnData(X=frame.to_numpy(np.float32), obs=obs, var=var).write_h5ad(path)
    return path


@pytest.fixture(scope="module")
def h5ad(cohort: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_h5ad(cohort, tmp_path_factory.mktemp("cohort") / "cohort.h5ad")


@pytest.fixture(scope="module")
def run(h5ad: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = Neurix.load().run_cohort(
        h5ad, out, scheduler="inline", partition_size=8, group_by="tumour_type", progress=False
    )
    return result, out


def _predictions(out: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(p) for p in sorted((out / "predictions").glob("part-*.parquet"))], ignore_index=True
    )


def _digest(samples) -> str:
    return hashlib.sha256("\n".join(sorted(map(str, samples))).encode()).hexdigest()


def test_cohort_matches_predict_and_lists_bad_samples(run, cohort: pd.DataFrame, neurix: Neurix) -> None:
    result, out = run
    assert (result.n_samples, result.n_predicted, result.n_failed) == (N_GOOD + 2, N_GOOD, 2)
    assert result.n_partitions == 4 and result.value_scale == "zscore"
    predictions = _predictions(out)
    expected = neurix.predict(cohort.iloc[:N_GOOD].astype(np.float32).astype(np.float64))
    assert list(predictions.columns) == list(
        expected.columns
    )  # the same columns as `predict`, whatever they are
    assert len(predictions) == N_GOOD * _n_compounds(neurix)  # compound level, as `neurix predict`
    merged = predictions.merge(expected, on=["sample", "drug_key"], suffixes=("", "_predict"))
    assert len(merged) == len(expected)
    np.testing.assert_allclose(merged["z_log_auc"], merged["z_log_auc_predict"], atol=1e-5)
    assert (merged["rank"] == merged["rank_predict"]).all()

    quality = pd.concat([pd.read_parquet(p) for p in sorted((out / "quality").glob("*.parquet"))])
    assert _digest(quality["sample"]) == _digest(cohort.index)  # every input sample exactly once
    failed = quality.set_index("sample").loc[["few_genes", "empty"]]
    assert (failed["status"] == "failed").all()
    assert "at least 50%" in failed.loc["few_genes", "reason"]
    assert "no values" in failed.loc["empty", "reason"]
    assert failed.loc["few_genes", "model_genes_imputed"] > 0.5 * len(neurix.bundle.genes)
    assert (quality["tumour_type"].isin(["Lung", "Breast"])).all()  # obs annotations carried along


def test_cohort_summaries(run, neurix: Neurix) -> None:
    result, out = run
    predictions = _predictions(out)
    key = "compound_id"  # the default level is compound: summaries are keyed by compound
    drugs = pd.read_parquet(out / "summary" / "drugs.parquet").set_index(key)
    expected = predictions.groupby(key)["z_log_auc"].agg(["mean", "size", "min"])
    np.testing.assert_allclose(drugs.loc[expected.index, "mean_z"], expected["mean"], atol=1e-9)
    assert (drugs.loc[expected.index, "n_samples"] == N_GOOD).all()
    np.testing.assert_allclose(drugs.loc[expected.index, "min_z"], expected["min"])
    by_group = pd.read_parquet(out / "summary" / "drugs_by_group.parquet")
    assert set(by_group["tumour_type"]) == {"Lung", "Breast"}
    assert by_group.groupby(key)["n_samples"].sum().eq(N_GOOD).all()


def test_cohort_resumes_and_refuses_other_settings(run, h5ad: Path, tmp_path: Path) -> None:
    _, first = run
    out = tmp_path / "resume"
    for sub in ("predictions", "quality", "_partitions"):
        (out / sub).mkdir(parents=True)
    (out / "cohort.json").write_text((first / "cohort.json").read_text())
    for path in sorted((first / "_partitions").glob("part-0000[01]*")):  # partitions 0 and 1 were finished
        (out / "_partitions" / path.name).write_bytes(path.read_bytes())
    for sub in ("predictions", "quality"):
        for path in sorted((first / sub).glob("part-0000[01]*")):
            (out / sub / path.name).write_bytes(path.read_bytes())
    (out / "predictions" / ".part-00002.parquet.dead.tmp").write_bytes(b"half a file")  # an interrupted write
    result = Neurix.load().run_cohort(
        h5ad, out, scheduler="inline", partition_size=8, group_by="tumour_type", progress=False
    )
    assert result.n_skipped == 2 and result.n_predicted == N_GOOD
    pd.testing.assert_frame_equal(_predictions(out), _predictions(first))
    with pytest.raises(NeurixError, match="other settings"):
        Neurix.load().run_cohort(h5ad, out, scheduler="inline", partition_size=5, progress=False)


def test_parquet_and_csv_inputs_give_the_same_predictions(run, cohort: pd.DataFrame, tmp_path: Path) -> None:
    _, reference_out = run
    reference = _predictions(reference_out).set_index(["sample", "drug_key"])["z_log_auc"]
    good = cohort.iloc[:10].astype(np.float32)
    parquet = tmp_path / "cohort.parquet"
    good.rename_axis("sample").reset_index().to_parquet(parquet, index=False, row_group_size=4)
    genes_by_samples = tmp_path / "genes_by_samples.parquet"
    good.T.rename_axis("gene").reset_index().to_parquet(genes_by_samples, index=False)
    csv = tmp_path / "cohort.csv"
    good.T.rename_axis("gene").to_csv(csv)  # genes × samples, the layout `predict` reads
    for source in (parquet, genes_by_samples, csv):
        out = tmp_path / f"out_{source.stem}_{source.suffix[1:]}"
        result = Neurix.load().run_cohort(source, out, scheduler="inline", partition_size=3, progress=False)
        assert result.n_predicted == 10, source
        got = _predictions(out).set_index(["sample", "drug_key"])["z_log_auc"]
        np.testing.assert_allclose(got, reference.loc[got.index], atol=1e-4, err_msg=str(source))


def _n_compounds(neurix: Neurix) -> int:
    """Rows per sample at the default (compound) level."""
    return int(neurix.bundle.drugs["compound_id"].nunique())


def test_top_genes_match_explain(h5ad: Path, cohort: pd.DataFrame, neurix: Neurix, tmp_path: Path) -> None:
    """One block of K genes per prediction row: at compound level the entry the row shows for that sample."""
    small = tmp_path / "small.h5ad"
    _write_h5ad(cohort.iloc[:2], small)
    out = tmp_path / "explained"
    Neurix.load().run_cohort(small, out, scheduler="inline", explain_top=3, progress=False)
    genes = pd.read_parquet(out / "genes" / "part-00000.parquet").astype({"sample": str, "gene": str})
    predictions = _predictions(out)
    assert len(genes) == 2 * _n_compounds(neurix) * 3
    shown = predictions.groupby("sample")["drug_key"].apply(set)
    explained = genes.groupby("sample")["drug_key"].apply(set)
    assert explained.to_dict() == shown.to_dict()
    assert (genes.groupby(["sample", "compound_id"]).size() == 3).all()
    chosen = predictions[predictions["n_entries"] > 1].iloc[0]  # a compound whose entry was chosen per sample
    for drug in [neurix.bundle.drugs["drug_key"].iloc[5], chosen["drug_key"]]:
        expected = neurix.explain(cohort.iloc[:2].astype(np.float32).astype(np.float64), drugs=[drug], top=3)
        got = genes[genes["drug_key"] == drug]
        merged = got.merge(expected, on=["sample", "gene"], suffixes=("", "_explain"))
        assert len(merged) == len(got) > 0
        np.testing.assert_allclose(merged["relevance"], merged["relevance_explain"], rtol=1e-3, atol=1e-6)
    summary = pd.read_parquet(out / "summary" / "genes.parquet")
    assert (summary["fraction_in_top"] <= 1).all() and len(summary) > 0
    assert set(summary["compound_id"]) <= set(predictions["compound_id"])


def test_top_genes_at_screen_level_cover_every_entry(
    cohort: pd.DataFrame, neurix: Neurix, tmp_path: Path
) -> None:
    small = tmp_path / "small.h5ad"
    _write_h5ad(cohort.iloc[:1], small)
    out = tmp_path / "screen"
    Neurix.load().run_cohort(small, out, scheduler="inline", explain_top=2, level="screen", progress=False)
    genes = pd.read_parquet(out / "genes" / "part-00000.parquet")
    assert len(genes) == len(neurix.bundle.drugs) * 2
    assert set(genes["drug_key"]) == set(neurix.bundle.drugs["drug_key"])
    summary = pd.read_parquet(out / "summary" / "genes.parquet")
    assert "drug_key" in summary.columns and (summary["n_samples_in_top"] == 1).all()


def test_cli_writes_anndata(h5ad: Path, tmp_path: Path, neurix: Neurix) -> None:
    out = tmp_path / "predictions.h5ad"
    assert main(["cohort", "--input", str(h5ad), "--out", str(out), "--scheduler", "inline"]) == 0
    adata = anndata.read_h5ad(out)
    assert adata.shape == (N_GOOD + 2, _n_compounds(neurix))
    assert np.isnan(adata[["few_genes", "empty"]].X).all()  # refused samples keep a row, with no predictions
    assert np.isfinite(adata[[f"T{i:03d}" for i in range(N_GOOD)]].X).all()
    assert {"drug_name", "drug_class"} <= set(adata.var.columns)  # per-compound constants
    assert {"z_log_auc", "cv_rho"} & set(adata.layers) or "cv_rho" in adata.var.columns
    assert {"coverage", "status", "reason", "tumour_type"} <= set(adata.obs.columns)
    assert "rank" in adata.layers


def test_api_predict_anndata(neurix: Neurix) -> None:
    adata = neurix.predict_anndata(neurix.example_profiles().iloc[:3])
    table = neurix.predict(neurix.example_profiles().iloc[:3])
    assert adata.shape == (3, _n_compounds(neurix))
    first = table[(table["sample"] == adata.obs_names[0]) & (table["compound_id"] == adata.var_names[0])]
    assert adata.X[0, 0] == pytest.approx(first["z_log_auc"].iloc[0], abs=1e-5)


def test_bad_inputs_are_clear(tmp_path: Path, h5ad: Path) -> None:
    with pytest.raises(NeurixError, match="not found"):
        Neurix.load().run_cohort(tmp_path / "missing.h5ad", tmp_path / "o", scheduler="inline")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(NeurixError, match="unsupported cohort format"):
        Neurix.load().run_cohort(tmp_path / "x.json", tmp_path / "o2", scheduler="inline")
    with pytest.raises(NeurixError, match="no layer"):
        Neurix.load().run_cohort(h5ad, tmp_path / "o3", scheduler="inline", layer="counts")
    assert main(["cohort", "--input", str(h5ad), "--out", str(tmp_path / "o4"), "--group-by", "nope"]) == 2


def test_interrupted_cli_run_resumes(h5ad: Path, tmp_path: Path) -> None:
    """Kill a running `neurix cohort` once its first partition is marked done; the rerun finishes the rest."""
    out = tmp_path / "interrupted"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "neurix_core.cli", "cohort", "--input", str(h5ad), "--out", str(out)]
    command += ["--scheduler", "inline", "--partition-size", "2"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((out / "_partitions").glob("part-*.json")) and process.poll() is None:
        assert time.monotonic() < deadline, "no partition finished"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(list((out / "_partitions").glob("part-*.json")))
    result = Neurix.load().run_cohort(h5ad, out, scheduler="inline", partition_size=2, progress=False)
    assert result.n_skipped == done_before >= 1
    quality = pd.concat([pd.read_parquet(p) for p in (out / "quality").glob("part-*.parquet")])
    assert len(quality) == N_GOOD + 2 and quality["sample"].is_unique
    assert json.loads((out / "cohort.json").read_text())["status"] == "complete"


def test_default_local_cluster(h5ad: Path, tmp_path: Path, run) -> None:
    """No --scheduler: a local Dask cluster (one in-process worker, a thread per core), started and stopped by the
    run."""
    _, reference_out = run
    out = tmp_path / "local"
    result = Neurix.load().run_cohort(h5ad, out, n_workers=1, partition_size=16, progress=False)
    assert (result.n_predicted, result.n_failed, result.n_partitions) == (N_GOOD, 2, 2)
    got = _predictions(out).set_index(["sample", "drug_key"])["z_log_auc"].sort_index()
    expected = _predictions(reference_out).set_index(["sample", "drug_key"])["z_log_auc"].sort_index()
    pd.testing.assert_series_equal(got, expected, check_exact=False, atol=1e-5)  # thread counts differ
