"""Repurposing candidates for one tumour: a strong, reliable predicted effect outside the drug's approved uses.

A drug is a candidate for a sample when
- its predicted z-scored log AUC is at most ``max_z`` (more sensitive than ~85% of cell lines for z ≤ -1),
- its cross-validated per-drug ρ is at least ``min_rho`` (the model ranks cell lines for it reliably), and
- its approved indication (Repurposing Hub) does not cover the sample's tumour type (any drug counts as outside when
  no tumour type is given, or when it has no approved indication at all).
Non-oncology drugs come first, then chemotherapy/targeted drugs, each ordered by strength × reliability.
"""

from __future__ import annotations

import re

import pandas as pd

# Oncotree lineages (DepMap) → words an indication uses for that tumour type.
TUMOUR_TYPE_TERMS: dict[str, tuple[str, ...]] = {
    "Lung": ("lung", "nsclc", "sclc", "mesothelioma"),
    "Breast": ("breast",),
    "Bowel": ("colorectal", "colon", "rectal", "bowel"),
    "Skin": ("melanoma", "skin", "basal cell", "merkel"),
    "Myeloid": ("myeloid", "aml", "cml", "leukemia", "leukaemia", "myelodysplastic", "mds", "myelofibrosis"),
    "Lymphoid": (
        "lymphoma",
        "lymphoblastic",
        "lymphocytic",
        "all",
        "cll",
        "leukemia",
        "leukaemia",
        "myeloma",
    ),
    "Ovary/Fallopian Tube": ("ovarian", "ovary", "fallopian"),
    "CNS/Brain": ("glioma", "glioblastoma", "brain", "astrocytoma"),
    "Pancreas": ("pancrea",),
    "Esophagus/Stomach": ("gastric", "stomach", "esophag", "oesophag", "gastroesophageal"),
    "Kidney": ("renal", "kidney"),
    "Liver": ("hepatocellular", "liver", "hcc"),
    "Prostate": ("prostate",),
    "Head and Neck": ("head and neck", "squamous cell carcinoma of the head"),
    "Bone": ("osteosarcoma", "ewing", "bone"),
    "Soft Tissue": ("sarcoma", "gist", "gastrointestinal stromal"),
    "Thyroid": ("thyroid",),
    "Bladder/Urinary Tract": ("bladder", "urothelial"),
    "Uterus": ("endometrial", "uterine"),
    "Cervix": ("cervical",),
    "Peripheral Nervous System": ("neuroblastoma",),
    "Biliary Tract": ("biliary", "cholangiocarcinoma"),
}
CLASS_PRIORITY = {"non-oncology": 0, "chemotherapy": 1, "targeted": 1}
APPROVED = re.compile(r"launched|approved", re.IGNORECASE)


def tumour_types() -> list[str]:
    return sorted(TUMOUR_TYPE_TERMS)


def indication_covers(indication: str, tumour_type: str | None) -> bool:
    """Whether an indication text names the tumour type (word match on the type's terms)."""
    if not tumour_type or not indication:
        return False
    terms = TUMOUR_TYPE_TERMS.get(tumour_type, (tumour_type.lower(),))
    text = indication.lower()
    return any(re.search(rf"\b{re.escape(term)}", text) for term in terms)


def repurposing_candidates(
    predictions: pd.DataFrame,
    drugs: pd.DataFrame,
    tumour_type: str | None = None,
    max_z: float = -1.0,
    min_rho: float = 0.2,
) -> pd.DataFrame:
    """Candidates for one sample's predictions (rows of ``prediction_table`` for that sample)."""
    annotation = drugs.set_index("drug_key")[["phase", "indication", "disease_area"]]
    table = predictions.join(annotation, on="drug_key")
    table["approved"] = table["phase"].fillna("").map(lambda p: bool(APPROVED.search(str(p))))
    table["indication_covers_tumour"] = [
        approved and indication_covers(str(indication), tumour_type)
        for approved, indication in zip(table["approved"], table["indication"].fillna(""), strict=True)
    ]
    strong = table["z_log_auc"] <= max_z
    reliable = table["cv_rho"].fillna(-1) >= min_rho
    candidates = table[strong & reliable & ~table["indication_covers_tumour"]].copy()
    candidates["repurposing_score"] = -candidates["z_log_auc"] * candidates["cv_rho"]
    candidates["class_priority"] = candidates["drug_class"].map(CLASS_PRIORITY).fillna(1)
    candidates = candidates.sort_values(["class_priority", "repurposing_score"], ascending=[True, False])
    return candidates.drop(columns="class_priority").reset_index(drop=True)
