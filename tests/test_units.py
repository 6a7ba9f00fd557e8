"""Value-scale detection (neurix_core/io/units.py): z-scores only on positive evidence, every decision explained,
manual choices that contradict the data warned about.

Why: a wrong scale moves every prediction without any visible error. Property tests generate realistic profiles of
each scale (random sizes, depths, offsets, a few negatives) and check the rule that must hold for all of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurix_core.errors import ProfileError
from neurix_core.io.profile import parse_profile
from neurix_core.io.units import LOG_MAX, detect_scale

SETTINGS = settings(deadline=None, database=None, max_examples=60)


def _tpm(rng: np.random.Generator, n_samples: int, n_genes: int) -> np.ndarray:
    """Log-normal expression scaled to 10^6 per sample, as TPM are."""
    raw = rng.lognormal(mean=1.0, sigma=2.0, size=(n_samples, n_genes))
    return raw / raw.sum(axis=1, keepdims=True) * 1e6


SIZES = st.tuples(st.integers(1, 6), st.integers(200, 3000), st.integers(0, 2**32 - 1))


@SETTINGS
@given(SIZES)
def test_log2tpm_with_a_few_small_negatives_is_never_called_zscores(sizes: tuple[int, int, int]) -> None:
    """The reported bug: log2(TPM+1) with some negative values (batch correction) was read as z-scores."""
    n_samples, n_genes, seed = sizes
    rng = np.random.default_rng(seed)
    values = np.log2(_tpm(rng, n_samples, n_genes) + 1)
    low = values <= np.quantile(values, 0.05, axis=1, keepdims=True)
    values[low] = -rng.uniform(0.01, 0.4, low.sum())  # small negatives among the lowest genes
    detection = detect_scale(values)
    assert detection.scale == "log2"
    assert "not centred" in detection.reason


@SETTINGS
@given(SIZES, st.floats(-0.05, 0.05), st.floats(0.9, 1.1))
def test_within_sample_zscores_are_detected(sizes: tuple[int, int, int], shift: float, scale: float) -> None:
    n_samples, n_genes, seed = sizes
    rng = np.random.default_rng(seed)
    values = np.log2(_tpm(rng, n_samples, n_genes) + 1)
    z = (values - values.mean(axis=1, keepdims=True)) / values.std(axis=1, keepdims=True)
    detection = detect_scale(z * scale + shift)
    assert detection.scale == "zscore" and not detection.manual
    assert "mean ≈ 0" in detection.reason and "sd ≈ 1" in detection.reason


@SETTINGS
@given(SIZES)
def test_tpm_and_counts_are_told_apart_and_zscore_choice_is_warned(sizes: tuple[int, int, int]) -> None:
    n_samples, n_genes, seed = sizes
    rng = np.random.default_rng(seed)
    tpm = _tpm(rng, n_samples, n_genes)
    counts = np.round(tpm * rng.uniform(5, 50))
    assert detect_scale(tpm).scale == "tpm"
    assert detect_scale(counts).scale == "counts"
    for data in (tpm, counts, np.log2(tpm + 1)):
        manual = detect_scale(data, "zscore")
        assert manual.scale == "zscore" and manual.manual
        assert manual.warning and "not centred" in manual.warning


@SETTINGS
@given(SIZES, st.floats(-3, 3))
def test_shifted_log_values_are_never_zscores(sizes: tuple[int, int, int], offset: float) -> None:
    """Centred only by accident is not enough: a log scale keeps its sd of several units."""
    n_samples, n_genes, seed = sizes
    rng = np.random.default_rng(seed)
    values = np.log2(_tpm(rng, n_samples, n_genes) + 0.01) + offset
    values = np.clip(values, -LOG_MAX + 1, LOG_MAX)
    try:
        detection = detect_scale(values)
    except ProfileError as exc:  # a handful of whole-number negatives reads as missing codes: refused, fine
        assert "missing-value codes" in str(exc)
        return
    assert detection.scale != "zscore"


def test_one_sample_off_centre_is_enough_to_reject_zscores() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 2000))
    z[2] = z[2] * 3 + 4  # the third sample is not a z-score
    assert detect_scale(z).scale == "log2"


def test_manual_tpm_for_log_values_is_warned_and_kept() -> None:
    values = np.log2(_tpm(np.random.default_rng(1), 2, 1000) + 1)
    detection = detect_scale(values, "tpm")
    assert detection.scale == "tpm" and detection.detected == "log2tpm"
    assert detection.warning and "log2(TPM+1)" in detection.warning


def test_manual_choice_that_fits_has_no_warning() -> None:
    tpm = _tpm(np.random.default_rng(2), 2, 1000)
    assert detect_scale(tpm, "tpm").warning is None
    assert detect_scale(np.round(tpm), "counts").warning is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.r_[-999.0, np.linspace(30, 900, 300)], "missing-value codes"),
        (np.r_[-1.0, np.linspace(0, 12, 300)], "missing-value codes"),
        (np.r_[-50.0 * np.ones(30), np.linspace(30, 900, 300)], "fits no supported scale"),
    ],
)
def test_unfit_negatives_are_refused(values: np.ndarray, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        detect_scale(values[None, :])


def test_parse_profile_reports_detection_and_reason() -> None:
    rng = np.random.default_rng(3)
    genes = ["TP53", "KRAS", "EGFR", "BRAF", "MYC", "PTEN", "CDKN2A", "ERBB2", "SOX2", "GAPDH"]
    values = np.log2(_tpm(rng, 1, len(genes)) + 1)[0]
    values[0] = -0.2
    frame = pd.DataFrame({"S1": values}, index=pd.Index(genes, name="gene"))
    parsed = parse_profile(frame.to_csv().encode(), "p.csv")
    assert parsed.value_scale == "log2"
    assert parsed.scale_detection is not None and "log-scale" in parsed.scale_detection.reason
    assert any("used as given" in w for w in parsed.warnings)
    forced = parse_profile(frame.abs().to_csv().encode(), "p.csv", values="zscore")
    assert any("You chose z-scores" in w for w in forced.warnings)
