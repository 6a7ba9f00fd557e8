"""AnnData (.h5ad) uploads on the Predict page: the upload parser's rules, limits, and the cohort heatmap."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from neurix_core.errors import LimitExceededError, ProfileError
from neurix_core.io.profile import ProfileLimits, parse_profile
from neurix_core.report.cohort_figure import cohort_matrix, top_cohort_drugs

anndata = pytest.importorskip("anndata")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from dashboard import widgets  # noqa: E402


def _h5ad_bytes(frame: pd.DataFrame, sparse: bool = False, nullable_strings: bool = False) -> bytes:
    """``nullable_strings``: names in pandas' string dtype, written as anndata's ``nullable-string-array`` groups
    (what anndata writes for pandas 3's default strings once allowed) instead of plain string datasets."""
    import scipy.sparse

    values = frame.to_numpy(np.float32)
    dtype = "string" if nullable_strings else object
    adata = anndata.AnnData(
        X=scipy.sparse.csr_matrix(values) if sparse else values,
        obs=pd.DataFrame(index=pd.Index([str(s) for s in frame.index], dtype=dtype)),
        var=pd.DataFrame(index=pd.Index([str(g) for g in frame.columns], dtype=dtype)),
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "upload.h5ad"
        with anndata.settings.override(allow_write_nullable_strings=nullable_strings):
            adata.write_h5ad(path)
        return path.read_bytes()


@pytest.mark.parametrize("sparse", [False, True])
def test_h5ad_upload_parses_like_a_table(examples: pd.DataFrame, neurix, sparse: bool) -> None:
    frame = examples.iloc[:3]
    parsed = parse_profile(_h5ad_bytes(frame, sparse), "cohort.h5ad", known_genes=neurix.bundle.genes)
    table = parse_profile(frame.T.to_csv().encode(), "cohort.csv", known_genes=neurix.bundle.genes)
    assert parsed.value_scale == table.value_scale == "zscore"
    assert list(parsed.expression.index) == [str(s) for s in frame.index]
    np.testing.assert_allclose(parsed.expression[table.expression.columns], table.expression, atol=1e-5)


def test_h5ad_with_nullable_string_names_reads_like_plain_strings(
    examples: pd.DataFrame, neurix, tmp_path
) -> None:
    """Names stored as anndata's nullable-string-array groups (values + mask) are read, for an upload and for a
    cohort, not refused with an internal error."""
    from neurix_core.cohort import run_cohort

    frame = examples.iloc[:3]
    data = _h5ad_bytes(frame, nullable_strings=True)
    parsed = parse_profile(data, "strings.h5ad", known_genes=neurix.bundle.genes)
    plain = parse_profile(_h5ad_bytes(frame), "plain.h5ad", known_genes=neurix.bundle.genes)
    assert list(parsed.expression.index) == [str(s) for s in frame.index]
    pd.testing.assert_frame_equal(parsed.expression, plain.expression)
    path = tmp_path / "strings.h5ad"
    path.write_bytes(data)
    result = run_cohort(path, tmp_path / "out", scheduler="inline", progress=False)
    assert result.n_predicted == 3
    written = pd.read_parquet(tmp_path / "out" / "quality")
    assert sorted(written["sample"]) == sorted(str(s) for s in frame.index)


def test_h5ad_upload_limits_and_damage(examples: pd.DataFrame, neurix) -> None:
    data = _h5ad_bytes(examples.iloc[:3])
    with pytest.raises(LimitExceededError, match="neurix cohort"):
        parse_profile(data, "big.h5ad", limits=ProfileLimits(max_samples=2), known_genes=neurix.bundle.genes)
    with pytest.raises(ProfileError, match="h5ad"):
        parse_profile(data[:4000], "cut.h5ad", known_genes=neurix.bundle.genes)


def test_cohort_matrix_is_clustered_top_drugs(neurix) -> None:
    predictions = neurix.predict(neurix.example_profiles())
    matrix = cohort_matrix(predictions, n_drugs=10)
    assert matrix.shape == (len(neurix.example_profiles()), 10)
    assert set(matrix.columns) == set(top_cohort_drugs(predictions, 10))
    expected = predictions.groupby("compound_id")["z_log_auc"].mean().nsmallest(10)  # compound level
    assert set(expected.index) == set(matrix.columns)
    from neurix_core.report.cohort_figure import cohort_heatmap

    scale = next(t for t in cohort_heatmap(predictions, n_drugs=10).data if t.zmid == 0).colorscale
    # negative z (more sensitive) is blue, as on every other Neurix chart
    low, high = scale[0][1], scale[-1][1]
    assert low.startswith("rgb(5,48,97)") and high.startswith("rgb(103,0,31)"), (low, high)


def test_predict_page_shows_the_cohort_view_for_an_h5ad_upload(examples: pd.DataFrame) -> None:
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=30).run()
    at = at.switch_page("views/predict.py").run()
    at.file_uploader[0].set_value(("cohort.h5ad", _h5ad_bytes(examples.iloc[:4]), "application/octet-stream"))
    at = at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    profile = at.session_state[widgets.PROFILE_KEY]
    assert profile.samples == [str(s) for s in examples.index[:4]]
    assert any("Cohort view · 4 samples" in s.value for s in at.subheader)
    assert len(at.get("plotly_chart")) == 2
