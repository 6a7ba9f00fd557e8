"""The Predict page shows the detected platform, the scaling used and its benchmark figure, and flags RNA-seq
scaled with microarray statistics; an impossible scaling choice is a one-sentence error (AppTest, shipped bundle)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `dashboard` is not part of the installed package
    sys.path.insert(0, str(ROOT))

from dashboard import widgets  # noqa: E402
from neurix_core.api import Neurix  # noqa: E402
from neurix_core.features.scaling_modes import MIN_COHORT_SAMPLES  # noqa: E402

APP = ROOT / "dashboard" / "app.py"


def _tpm(genes: list[str], n_samples: int) -> bytes:
    rng = np.random.default_rng(3)
    values = np.round(rng.gamma(0.6, 40.0, size=(len(genes), n_samples)), 3)
    columns = [f"S{i + 1}" for i in range(n_samples)]
    return pd.DataFrame(values, index=pd.Index(genes, name="gene"), columns=columns).to_csv().encode()


def _upload(data: bytes, scaling: str = "auto") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/predict.py").run()
    at.selectbox(key="neurix_scaling").set_value(scaling)
    at.file_uploader[0].set_value(("tpm.csv", data, "text/csv"))
    return at.run()


def _text(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.warning])


def test_single_rnaseq_upload_shows_platform_scaling_and_the_flag(neurix: Neurix) -> None:
    at = _upload(_tpm(neurix.bundle.genes, 1))
    assert not at.exception and not at.error
    text = _text(at)
    assert "**Platform:** RNA-seq" in text and "benchmark mean per-drug ρ" in text
    choice = at.session_state[widgets.PROFILE_KEY].model_input.scaling
    if neurix.bundle.rnaseq_reference is None:
        assert choice.mode == "sample"
        assert any("microarray statistics" in w.value for w in at.warning)


def test_cohort_scaling_on_too_few_samples_is_a_clear_error(neurix: Neurix) -> None:
    at = _upload(_tpm(neurix.bundle.genes, 2), scaling="cohort")
    assert not at.exception
    assert any(f"at least {MIN_COHORT_SAMPLES} samples" in e.value for e in at.error)


def test_a_large_rnaseq_cohort_is_cohort_scaled_by_default(neurix: Neurix) -> None:
    at = _upload(_tpm(neurix.bundle.genes, MIN_COHORT_SAMPLES))
    assert not at.exception and not at.error
    choice = at.session_state[widgets.PROFILE_KEY].model_input.scaling
    reference = neurix.bundle.rnaseq_reference
    if reference is not None and reference.coverage >= 0.9:
        assert choice.mode == "reference"
    else:
        assert choice.mode == "cohort" and "Cohort-centred" in _text(at)
