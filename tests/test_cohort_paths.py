"""The vectorised paths a cohort partition runs through give the same answers whatever the row order or gaps.

``compound_table`` scatters rows into a samples × drugs matrix and orders each sample once; ``scale_evidence``
skips masked copies for fully observed arrays. Both must not depend on how the input happens to be laid out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurix_core.api import Neurix
from neurix_core.io.units import scale_evidence
from neurix_core.predict import prediction_table
from neurix_core.predict_levels import add_drug_columns, compound_table


@pytest.fixture(scope="module")
def neurix() -> Neurix:
    return Neurix.load()


@pytest.fixture(scope="module")
def screen(neurix: Neurix) -> pd.DataFrame:
    examples = neurix.example_profiles().iloc[:3]
    return add_drug_columns(prediction_table(neurix.bundle, neurix.prepare(examples)), neurix.bundle.drugs)


def test_compound_table_ignores_row_order_within_samples(screen: pd.DataFrame, neurix: Neurix) -> None:
    drugs = neurix.bundle.drugs
    expected = compound_table(screen, drugs)
    shuffled = screen.groupby("sample", sort=False, group_keys=False).sample(frac=1.0, random_state=0)
    assert not shuffled.index.equals(screen.index)
    pd.testing.assert_frame_equal(compound_table(shuffled, drugs), expected)


def test_compound_rows_are_ranked_with_ties_and_gaps(screen: pd.DataFrame, neurix: Neurix) -> None:
    drugs = neurix.bundle.drugs
    table = screen.sample(frac=0.7, random_state=1).copy()  # drugs missing for some samples
    table.loc[table.index[:40], "z_log_auc"] = 0.25  # ties
    table.loc[table.index[40:45], "z_log_auc"] = np.nan
    out = compound_table(table, drugs)
    assert not out.duplicated(["sample", "compound_id"]).any()
    assert out["sample"].unique().tolist() == table["sample"].unique().tolist()
    for _, rows in out.groupby("sample", sort=False):
        z = rows["z_log_auc"].to_numpy()
        finite = z[~np.isnan(z)]
        assert np.all(np.diff(finite) >= 0) and np.isnan(z[len(finite) :]).all()  # NaN last
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
    chosen = table.set_index(["sample", "drug_key"])["z_log_auc"]
    picked = chosen.loc[list(zip(out["sample"], out["drug_key"], strict=True))].to_numpy()
    np.testing.assert_array_equal(picked, out["z_log_auc"].to_numpy())  # every row is one screen entry's
    # "entries" of multi-entry compounds (built entry by entry when some are missing) lists exactly the entries
    # with a z, by increasing z (a single-entry compound shows its label)
    multi = drugs["compound_id"].value_counts().pipe(lambda n: n[n > 1]).index
    shown = out[out["compound_id"].isin(multi)]
    assert len(shown) > 100
    for entries, n, z_min in shown[["entries", "n_entries", "z_min"]].itertuples(index=False):
        parts = [p.rsplit(" ", 1) for p in entries.split("; ")] if entries else []
        assert len(parts) == n
        values = [float(v) for _, v in parts]
        assert values == sorted(values) and (n == 0 or abs(values[0] - z_min) <= 0.005 + 1e-9)


def test_scale_evidence_same_with_and_without_missing_rows() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (20, 300))
    with_gap = np.vstack([values[:7], np.full((1, 300), np.nan), values[7:]])
    assert scale_evidence(with_gap) == scale_evidence(values)
    assert scale_evidence(values).zscore_like and not scale_evidence(values).whole_numbers
    counts = np.round(rng.gamma(2, 40, (5, 5000)))
    counts[4, -1] += 0.5  # one fraction after the first block
    assert scale_evidence(counts[:4]).whole_numbers and not scale_evidence(counts).whole_numbers


def test_block_from_the_matrix_equals_the_table_path(screen: pd.DataFrame, neurix: Neurix) -> None:
    """``predict`` (consensus on the model's matrix) gives exactly ``compound_table`` of the screen rows."""
    examples = neurix.example_profiles().iloc[:3]
    pd.testing.assert_frame_equal(neurix.predict(examples), compound_table(screen, neurix.bundle.drugs))


@pytest.mark.parametrize("level", ["compound", "screen"])
def test_block_parquet_reads_back_as_predict(neurix: Neurix, tmp_path, level: str) -> None:
    """The cohort's Parquet (dictionary-encoded Arrow, no stored Arrow schema) reads back as ``predict``'s frame:
    same values, columns and dtypes (str, nullable boolean), not categoricals."""
    from neurix_core.predict_block import write_parquet

    examples = neurix.example_profiles().iloc[:3]
    block = neurix.predict_block(examples, level=level)
    write_parquet(block.to_arrow(neurix.bundle.drugs), tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "p.parquet"), neurix.predict(examples, level=level)
    )


def test_signed_two_decimals_match_printf() -> None:
    from neurix_core.predict_levels import _signed_2dp, _signed_2dp_arrow

    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.normal(0, 3, 2000),
            [
                0.005,
                -0.005,
                0.015,
                1.125,
                -1.125,
                2.675,
                -0.001,
                -0.0,
                0.0,
                19.995,
                -20.004,
                25.3,
                -1e6,
                np.inf,
            ],
            np.arange(-300, 300) / 100 + 0.005,  # every rounding boundary in ±3
        ]
    )
    expected = np.array([f"{v:+.2f}" for v in values], dtype=object)  # printf semantics, as np.char.mod
    assert (_signed_2dp(values) == expected).all()
    assert _signed_2dp_arrow(values).to_pylist() == list(expected)  # the cohort's Arrow path: same strings
    assert _signed_2dp(np.array([np.nan]))[0] == ""  # a padded entry: never shown
    assert _signed_2dp_arrow(np.array([np.nan, -0.001])).to_pylist() == ["", "-0.00"]


def test_partition_threads_do_their_maths_on_one_thread_each() -> None:
    """Partitions on threads of one process: torch and numpy's BLAS single-threaded inside the block (OpenBLAS
    on every core serialised the two partitions' calls), both restored after."""
    import torch
    from threadpoolctl import threadpool_info

    from neurix_core.threads import math_threads

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    torch_before, blas_before = torch.get_num_threads(), blas_threads()
    with math_threads(1):
        assert torch.get_num_threads() == 1
        assert blas_threads() and all(n == 1 for n in blas_threads())
    assert torch.get_num_threads() == torch_before and blas_threads() == blas_before


def test_a_new_thread_adopts_the_process_torch_thread_count() -> None:
    """OpenMP keeps its thread count per thread: a worker thread (cohort partition, Streamlit script run) starts
    from every core unless it adopts the process setting, which ``adopt_torch_threads`` does."""
    import threading

    import torch
    from threadpoolctl import threadpool_info

    from neurix_core.threads import adopt_torch_threads

    def openmp_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"]

    seen: dict[str, list[int]] = {}

    def worker() -> None:
        adopt_torch_threads()
        seen["adopted"] = openmp_threads()

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    finally:
        torch.set_num_threads(before)
    assert seen["adopted"] and all(n == 1 for n in seen["adopted"])
