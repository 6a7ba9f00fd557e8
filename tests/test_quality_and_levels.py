"""Data quality per sample and compound-level consensus on the shipped bundle.

Why: imputed values must never be silent (the reported bug: 1 in 7 values empty showed "5,778 of 5,778 genes"),
and a compound row must be one coherent screen entry chosen by the documented rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurix_core.api import Neurix
from neurix_core.errors import ProfileError
from neurix_core.predict_levels import compound_table
from neurix_core.quality import IMPUTED_WARNING


@pytest.fixture(scope="module")
def neurix() -> Neurix:
    return Neurix.load()


def _file(frame: pd.DataFrame) -> bytes:
    return frame.rename_axis("gene").to_csv(na_rep="NA").encode()


def test_missing_values_are_counted_as_imputed_and_warned(neurix: Neurix) -> None:
    profile = neurix.example_profiles().iloc[:2].T.copy()
    profile.iloc[::7, 0] = np.nan  # 1 in 7 values of the first sample are 'NA'
    parsed = neurix.read_profile(_file(profile), "gaps.csv")
    quality = neurix.quality(parsed)
    first, second = quality.samples
    assert first.values_missing == len(profile.index[::7]) and first.genes_absent == 0
    assert first.imputed_fraction == pytest.approx(1 / 7, abs=0.01) and first.status == "warning"
    assert "imputed" in first.message() and "empty or NA" in first.message()
    assert second.imputed == 0 and second.status == "ok"
    assert quality.table().loc[0, "imputed_fraction"] > IMPUTED_WARNING


def test_quality_counts_are_the_same_from_the_cohort_coverage(neurix: Neurix) -> None:
    """Cohort partitions pass the measured-gene counts they already have; the figures must not change, and a gene
    the alignment matches by an R-style spelling (HLA.A for HLA-A) counts as in the file, not as absent."""
    from neurix_core.quality import assess_quality

    genes = neurix.bundle.genes
    frame = neurix.example_profiles().iloc[:3].copy()
    frame.iloc[0, ::9] = np.nan  # values missing in one sample
    frame = frame.drop(columns=frame.columns[5:40])  # genes absent from the file
    dotted = next(g for g in frame.columns if "-" in g)
    frame = frame.rename(columns={dotted: dotted.replace("-", ".")})
    aligned = assess_quality(frame, genes).table()
    measured = np.isfinite(neurix.prepare(frame).zscored).sum(axis=1)
    given = assess_quality(frame, genes, genes_measured=measured).table()
    pd.testing.assert_frame_equal(aligned, given)
    assert (aligned["genes_absent"] == 35).all()  # the dotted spelling is not among them
    assert aligned.loc[0, "values_missing"] == int(frame.iloc[0].isna().sum())


def test_every_low_coverage_sample_is_named(neurix: Neurix) -> None:
    profile = neurix.example_profiles().iloc[:3].T.copy()
    profile.iloc[: int(0.6 * len(profile)), [0, 2]] = np.nan
    parsed = neurix.read_profile(_file(profile), "low.csv")
    quality = neurix.quality(parsed)
    refused = [s.sample for s in quality.refused]
    assert refused == [profile.columns[0], profile.columns[2]]
    message = quality.refusal_message()
    assert message and all(name in message for name in refused)
    with pytest.raises(ProfileError) as info:
        neurix.predict(parsed)
    assert all(name in str(info.value) for name in refused)


def test_unrecognised_labels_are_listed_and_downloadable(neurix: Neurix) -> None:
    profile = neurix.example_profiles().iloc[:1].T.copy()
    extra = pd.DataFrame({profile.columns[0]: [1.0, 2.0]}, index=["NOT_A_GENE_1", "mystery-probe"])
    parsed = neurix.read_profile(_file(pd.concat([profile, extra])), "extra.csv")
    quality = neurix.quality(parsed)
    assert quality.unrecognised_labels == ["NOT_A_GENE_1", "mystery-probe"]
    assert quality.unrecognised_csv().decode().splitlines() == [
        "unrecognised_label",
        "NOT_A_GENE_1",
        "mystery-probe",
    ]


def _screen_rows(neurix: Neurix, keys: list[str], z: list[float]) -> pd.DataFrame:
    drugs = neurix.bundle.drugs.set_index("drug_key").loc[keys].reset_index()
    return pd.DataFrame(
        {
            "sample": "S",
            "drug_key": keys,
            "drug_id": drugs["drug_id"],
            "drug_name": drugs["drug_name"],
            "screen": drugs["screen"],
            "drug_class": drugs["drug_class"],
            "cv_rho": drugs["cv_rho"],
            "z_log_auc": z,
            "rank": range(1, len(keys) + 1),
            "percentile": [10.0 * (i + 1) for i in range(len(keys))],  # a per-entry trust column
        }
    )


def test_compound_row_is_the_weighted_median_entry_with_all_its_columns(neurix: Neurix) -> None:
    drugs = neurix.bundle.drugs
    keys = drugs.loc[drugs["compound_id"] == "CISPLATIN", "drug_key"].tolist()
    assert len(keys) == 3
    rows = _screen_rows(neurix, keys, [-2.0, 0.1, 0.2])  # one entry disagrees with the other two
    out = compound_table(rows, drugs)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["drug_key"] != keys[0], "an outlying entry cannot win alone"
    chosen = rows.set_index("drug_key").loc[row["drug_key"]]
    assert row["z_log_auc"] == chosen["z_log_auc"] and row["percentile"] == chosen["percentile"]
    assert row["n_entries"] == 3 and row["z_min"] == -2.0 and row["z_max"] == 0.2
    assert row["entries"].count(";") == 2 and row["drug_name"] == "Cisplatin"
    info = drugs.set_index("drug_key").loc[row["drug_key"]]
    assert row["predicted_auc"] == pytest.approx(
        np.exp(info["log_auc_mean"] + row["z_log_auc"] * info["log_auc_sd"])
    )


def test_two_entries_pick_the_more_reliable(neurix: Neurix) -> None:
    drugs = neurix.bundle.drugs
    keys = drugs.loc[drugs["compound_id"] == "ERLOTINIB", "drug_key"].tolist()
    rho = drugs.set_index("drug_key").loc[keys, "cv_rho"]
    for z in ([-1.0, 1.0], [1.0, -1.0]):
        out = compound_table(_screen_rows(neurix, keys, z), drugs)
        assert out.iloc[0]["drug_key"] == rho.idxmax()


def test_default_predictions_have_one_row_per_compound(neurix: Neurix) -> None:
    predictions = neurix.predict(neurix.example_profiles().iloc[:2])
    assert not predictions.duplicated(["sample", "compound_id"]).any()
    assert (
        predictions.groupby("sample")
        .size()
        .eq(drugs_count := neurix.bundle.drugs["compound_id"].nunique())
        .all()
    )
    assert drugs_count < len(neurix.bundle.drugs)
    assert (
        predictions.groupby("sample")["rank"].apply(lambda r: r.tolist() == list(range(1, len(r) + 1))).all()
    )


def test_report_carries_data_quality_and_the_training_platform(neurix: Neurix) -> None:
    from neurix_core.report.html import build_report
    from neurix_core.report.make import sample_data_quality
    from neurix_core.report.text import training_data_text

    profile = neurix.example_profiles().iloc[:1].T.copy()
    profile.iloc[::7, 0] = np.nan
    parsed = neurix.read_profile(_file(profile), "gaps.csv")
    predictions = neurix.predict(parsed)
    html = build_report(
        str(profile.columns[0]),
        predictions,
        pd.DataFrame(columns=["sample", "drug_key"]),
        fingerprint=parsed.fingerprint,
        manifest=neurix.bundle.manifest,
        data_quality=sample_data_quality(neurix.quality(parsed), str(profile.columns[0])),
        model_text=training_data_text(5778, 697, 537),
    )
    assert "Data quality" in html and "14.3%" in html and "more than 5% imputed" in html
    assert "microarrays" in html and "platform_transfer.py" in html
    assert "One row per compound" in html
