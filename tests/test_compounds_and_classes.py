"""Compound ids and curated drug classes on the shipped bundle's drug table.

Why: users see one entry per compound with its class, so duplicates must merge (and only true duplicates), and
the class of well-known drugs must be what a pharmacologist would say. The expectations below were checked by
hand against drug labels and WHO ATC codes (the override table's sources).
"""

from __future__ import annotations

import pandas as pd
import pytest

from neurix_core.data.compounds import compound_ids
from neurix_core.data.drug_classes import DRUG_CLASSES, class_overrides
from neurix_core.data.drug_table import complete_drug_table
from neurix_core.model.bundle import DEFAULT_BUNDLE

CHEMOTHERAPY = [
    "Cisplatin",
    "Oxaliplatin",
    "5-Fluorouracil",
    "Gemcitabine",
    "Cytarabine",
    "Paclitaxel",
    "Docetaxel",
    "Vinblastine",
    "Vinorelbine",
    "Doxorubicin",
    "Epirubicin",
    "Etoposide",
    "Topotecan",
    "Irinotecan",
    "Camptothecin",
    "Temozolomide",
    "Dacarbazine",
    "Methotrexate",
    "Fludarabine",
    "Bleomycin",
    "Mitomycin-C",
    "Cyclophosphamide",
    "Dactinomycin",
    "5-azacytidine",
]
TARGETED = [
    "Erlotinib",
    "Gefitinib",
    "Lapatinib",
    "Imatinib",
    "Dasatinib",
    "Nilotinib",
    "Sorafenib",
    "Olaparib",
    "Talazoparib",
    "Dabrafenib",
    "Trametinib",
    "Selumetinib",
    "Venetoclax",
    "Navitoclax",
    "Palbociclib",
    "Ribociclib",
    "Alpelisib",
    "Temsirolimus",
    "Rapamycin",
    "Masitinib",
    "Midostaurin",
    "Crizotinib",
    "Bortezomib",
    "Vorinostat",
    "Tretinoin",
    "Vismodegib",
    "Tamoxifen",
    "Fulvestrant",
    "Zoledronate",
]
NON_ONCOLOGY = ["Acetalax", "Pyrimethamine", "Leflunomide", "Phenformin", "FTY-720", "Avagacestat"] + [
    "Mycophenolic acid"
]
HAND_CHECKED = (
    [(n, "chemotherapy") for n in CHEMOTHERAPY]
    + [(n, "targeted") for n in TARGETED]
    + [(n, "non-oncology") for n in NON_ONCOLOGY]
)


@pytest.fixture(scope="module")
def drugs() -> pd.DataFrame:
    table = pd.read_csv(DEFAULT_BUNDLE / "drugs.csv", keep_default_na=False, dtype={"drug_id": str})
    return complete_drug_table(table)


def test_at_least_thirty_hand_checked_drugs() -> None:
    assert len(HAND_CHECKED) >= 30
    for name in ("Acetalax", "Masitinib", "Rapamycin", "Zoledronate"):
        assert name in dict(HAND_CHECKED)


@pytest.mark.parametrize(("name", "expected"), HAND_CHECKED)
def test_hand_checked_class(drugs: pd.DataFrame, name: str, expected: str) -> None:
    rows = drugs[drugs["drug_name"].str.lower() == name.lower()]
    assert not rows.empty, f"{name} is not in the shipped drug table"
    assert set(rows["drug_class"]) == {expected}, rows[["drug_key", "drug_class", "class_reason"]]


def test_overrides_have_sources_and_say_so(drugs: pd.DataFrame) -> None:
    overrides = class_overrides()
    assert overrides["source"].str.len().gt(10).all()
    assert set(overrides["drug_class"]) <= set(DRUG_CLASSES)
    acetalax = drugs[drugs["drug_name"] == "Acetalax"].iloc[0]
    assert acetalax["class_reason"].startswith("curated:") and "laxative" in acetalax["class_reason"]


def test_unannotated_compounds_are_not_called_targeted(drugs: pd.DataFrame) -> None:
    rows = drugs[drugs["drug_name"].isin(["123829", "Sinularin", "Elephantin"])]
    assert len(rows) == 3 and set(rows["drug_class"]) == {"uncharacterised"}


@pytest.mark.parametrize(
    ("compound", "keys"),
    [
        ("CISPLATIN", {"GDSC1:1005", "GDSC1:1496", "GDSC2:1005"}),
        ("SAPITINIB", {"GDSC1:1416", "GDSC2:1549"}),  # GDSC1 name AZD8931, GDSC2 synonym
        ("SAVOLITINIB", {"GDSC1:1403", "GDSC2:1936"}),  # AZD6094
        ("VENETOCLAX", {"GDSC1:412", "GDSC2:1909"}),  # GDSC1 spells it 'Venotoclax' (alias table)
        ("TORIN2", {"GDSC1:371", "GDSC1:1202"}),  # 'Torin 2' and 'torin2'
    ],
)
def test_known_duplicates_are_one_compound(drugs: pd.DataFrame, compound: str, keys: set[str]) -> None:
    assert set(drugs.loc[drugs["compound_id"] == compound, "drug_key"]) == keys


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Selumetinib", "AZD1480"),  # GDSC lists the JAK inhibitor AZD1480 as a selumetinib synonym
        ("Rapamycin", "Temsirolimus"),  # GDSC lists Torisel (temsirolimus) as a rapamycin synonym
        ("Bromosporine", "GSK2801"),  # shared synonyms only
    ],
)
def test_annotation_slips_do_not_merge_different_drugs(drugs: pd.DataFrame, a: str, b: str) -> None:
    ids = drugs.set_index("drug_name")["compound_id"]
    assert set(ids.loc[[a]]).isdisjoint(set(ids.loc[[b]]))


def test_compound_ids_are_stable_and_count(drugs: pd.DataFrame) -> None:
    shuffled = drugs.sample(frac=1.0, random_state=1)
    again = compound_ids(shuffled).reindex(drugs.index)
    assert (again == drugs["compound_id"]).all(), "ids must not depend on row order"
    assert len(drugs) == 697 and 520 <= drugs["compound_id"].nunique() <= 545
    classes = drugs.groupby("compound_id")["drug_class"].nunique()
    assert (classes == 1).all(), "every entry of a compound has the compound's class"
