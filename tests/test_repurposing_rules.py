"""Repurposing rules: indications matched to OncoTree lineages through a vocabulary (never word prefixes), and a
candidate needs a relative and an absolute effect, reliability, a clinical stage and a tumour type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurix_core.errors import NeurixError
from neurix_core.repurpose.candidates import indication_covers, indication_lineages, repurposing_candidates


@pytest.mark.parametrize(
    ("indication", "lineages"),
    [
        ("allergic rhinitis", set()),  # not ALL
        ("ALLERGY", set()),
        ("all", set()),  # the abbreviation is matched as written (upper case) only
        ("acute lymphoblastic leukemia (ALL)", {"Lymphoid"}),
        ("ALL", {"Lymphoid"}),
        ("acute myeloid leukemia (AML)", {"Myeloid"}),  # the generic 'leukemia' does not add Lymphoid
        ("leukemia", {"Myeloid", "Lymphoid"}),
        ("non-small cell lung cancer (NSCLC)|pancreatic cancer", {"Lung", "Pancreas"}),
        ("uveal melanoma", {"Eye"}),  # not Skin
        ("melanoma", {"Skin"}),
        ("head and neck squamous cell carcinoma (HNSCC)", {"Head and Neck"}),
        ("gastrointestinal stromal tumors (GIST)", {"Soft Tissue"}),
        ("breast cancer", {"Breast"}),
        ("breastfeeding support", set()),
        ("colorectal cancer", {"Bowel"}),
        ("Parkinson's Disease", set()),
        ("organ rejection|lymphangioleiomyomatosis", set()),  # not 'lymph...' Lymphoid
        ("hypertension", set()),
        ("prostate cancer", {"Prostate"}),
        ("prostatitis", set()),
    ],
)
def test_indication_vocabulary(indication: str, lineages: set[str]) -> None:
    assert indication_lineages(indication) == lineages


def test_solid_tumours_cover_solid_lineages_only() -> None:
    lineages = indication_lineages("solid tumors")
    assert "Lung" in lineages and "Breast" in lineages
    assert "Myeloid" not in lineages and "Lymphoid" not in lineages
    assert indication_covers("acute lymphoblastic leukemia (ALL)", "Lymphoid")
    assert not indication_covers("allergic rhinitis", "Lymphoid")


def _toy() -> tuple[pd.DataFrame, pd.DataFrame]:
    drugs = pd.DataFrame(
        {
            "drug_key": ["A", "B", "C", "D", "E", "F"],
            "phase": ["Launched", "Launched", "Phase 2", "", "Launched", "Launched"],
            "indication": [
                "allergic rhinitis",
                "acute lymphoblastic leukemia (ALL)",
                "",
                "",
                "asthma",
                "gout",
            ],
            "disease_area": ["allergy", "hematologic malignancy", "", "", "pulmonary", "rheumatology"],
            "log_auc_mean": np.log([0.85, 0.85, 0.85, 0.85, 0.97, 0.85]),
            "log_auc_sd": [0.2, 0.2, 0.2, 0.2, 0.02, 0.2],
        }
    )
    predictions = pd.DataFrame(
        {
            "sample": "S",
            "drug_key": drugs["drug_key"],
            "drug_name": list("ABCDEF"),
            "drug_class": [
                "non-oncology",
                "targeted",
                "targeted",
                "non-oncology",
                "non-oncology",
                "non-oncology",
            ],
            "z_log_auc": [-1.5, -1.5, -1.2, -2.0, -2.0, -1.5],
            "cv_rho": [0.4, 0.4, 0.3, 0.5, 0.5, 0.1],
        }
    )
    return predictions, drugs


def test_candidate_rules() -> None:
    predictions, drugs = _toy()
    candidates = repurposing_candidates(predictions, drugs, tumour_type="Lymphoid")
    # A: allergy drug (allergic ≠ ALL) → candidate; B: approved for ALL → covered; C: phase 2 → candidate;
    # D: no clinical phase → not a repurposing candidate; E: z −2 but AUC ≈ 0.93 → too weak in absolute terms;
    # F: ρ 0.1 → unreliable.
    assert candidates["drug_key"].tolist() == ["A", "C"]
    assert candidates["predicted_auc"].max() <= 0.8
    assert candidates["reliability_basis"].iloc[0].startswith("cross-validated")


def test_hit_rate_is_used_when_the_bundle_has_it() -> None:
    predictions, drugs = _toy()
    drugs["hit_rate"] = [0.3, 0.6, 0.6, 0.6, 0.6, 0.9]  # A below the bar; F (ρ 0.1) now reliable
    candidates = repurposing_candidates(predictions, drugs, tumour_type="Lymphoid")
    assert candidates["drug_key"].tolist() == ["F", "C"]
    assert candidates["reliability_basis"].iloc[0].startswith("hit rate")


def test_a_tumour_type_is_required_or_labelled_as_suggested() -> None:
    predictions, drugs = _toy()
    with pytest.raises(NeurixError, match="choose a tumour type"):
        repurposing_candidates(predictions, drugs)
    suggested = repurposing_candidates(predictions, drugs, suggested_lineage="Lymphoid")
    assert suggested["tumour_type_source"].str.startswith("suggested").all()
