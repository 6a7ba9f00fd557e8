"""The drug table: one row per (screen, native drug id), annotated and classified.

Drug classes (``targeted`` / ``chemotherapy`` / ``non-oncology`` / ``uncharacterised``), in order of precedence:

0. **override** – the hand-checked table ``drug_class_overrides.csv`` (one source per row: label, ATC code or
   paper), applied per compound in ``neurix_core/data/drug_classes.py``; it wins over every rule below.
1. **non-oncology** – the Repurposing Hub / PRISM disease area is annotated and names neither oncology nor a
   haematological malignancy (e.g. an anthelmintic or an antipsychotic screened for anticancer potential).
2. **chemotherapy** – the Hub MOA or the GDSC target/pathway is classic cytotoxic: DNA alkylating/crosslinking
   agents and platinum, topoisomerase I/II poisons, anthracyclines, antimetabolites (nucleoside analogues,
   antifolates, thymidylate synthase, ribonucleotide reductase), microtubule stabilisers/destabilisers, DNA-break
   inducers.
3. **targeted** – an oncology disease area, or any annotated mechanism (Hub MOA, GDSC target or pathway) that is not
   cytotoxic: kinase, epigenetic, apoptosis, hormone-receptor, ... inhibitors.
4. **uncharacterised** – no disease area and no mechanism at all (GDSC's 'Unclassified' NSC compounds and natural
   products): calling these 'targeted' would claim a mechanism nobody annotated.
"""

from __future__ import annotations

import re

import pandas as pd

CHEMOTHERAPY_PATTERN = re.compile(
    r"alkylat|crosslink|platinum|\bTOP[12]\b|topoisomerase|anthracycline|anti-?metabolite|"
    r"nucleoside analog|purine antagonist|pyrimidine antagonist|antifolate|dihydrofolate reductase|\bDHFR\b|"
    r"thymidylate synthase|\bTYMS\b|ribonucleotide reductase|DNA synthesis inhibitor|DNA polymerase inhibitor|"
    r"microtubule|tubulin|dsDNA break|DNA inhibitor|DNA intercalat",
    re.IGNORECASE,
)
ONCOLOGY_AREA = re.compile(r"oncology|malignancy|cancer|tumou?r", re.IGNORECASE)
DRUG_COLUMNS = [
    "drug_key",
    "screen",
    "drug_id",
    "drug_name",
    "synonyms",
    "targets",
    "pathway",
    "moa",
    "phase",
    "disease_area",
    "indication",
    "smiles",
    "drug_class",
    "class_reason",
]


def normalise_name(name: object) -> str:
    """Upper case, letters and digits only: matches 'Nutlin-3a (-)' to 'NUTLIN3A' across screens."""
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


UNANNOTATED = re.compile(r"^(unclassified|not defined|other|)$", re.IGNORECASE)


def classify_drug(moa: str, targets: str, pathway: str, disease_area: str) -> tuple[str, str]:
    """Class and the rule that decided it (rules 1–4 of the module docstring; overrides come later)."""
    area = (disease_area or "").strip()
    mechanism = " ".join(filter(None, [moa, targets, pathway]))
    if area and not ONCOLOGY_AREA.search(area):
        return "non-oncology", f"disease area: {area}"
    match = CHEMOTHERAPY_PATTERN.search(mechanism)
    if match:
        return "chemotherapy", f"cytotoxic mechanism: {match.group(0)}"
    if area:
        return "targeted", f"disease area: {area}, non-cytotoxic mechanism"
    if any(not UNANNOTATED.match((text or "").strip()) for text in (moa, targets, pathway)):
        return "targeted", "annotated non-cytotoxic mechanism"
    return "uncharacterised", "no mechanism or disease area annotated"


def _text(value: object) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA
        else str(value).strip()
    )


def _first_smiles(value: object) -> str:
    """PRISM lists every salt's SMILES comma-separated; they are the same parent structure, keep the first."""
    return _text(value).split(",")[0].strip()


class HubIndex:
    """Repurposing Hub annotations and SMILES, looked up by normalised drug name."""

    def __init__(self, hub_drugs: pd.DataFrame | None, hub_samples: pd.DataFrame | None) -> None:
        self.drugs: dict[str, pd.Series] = {}
        self.smiles: dict[str, str] = {}
        if hub_drugs is not None:
            for _, row in hub_drugs.iterrows():
                self.drugs.setdefault(normalise_name(row["pert_iname"]), row)
        if hub_samples is not None:
            for name, smiles in zip(hub_samples["pert_iname"], hub_samples["smiles"], strict=True):
                if isinstance(smiles, str) and smiles:
                    self.smiles.setdefault(normalise_name(name), smiles)

    def lookup(self, names: list[str]) -> tuple[pd.Series | None, str]:
        """The Hub row and SMILES for the first of ``names`` that the Hub knows."""
        keys = [normalise_name(n) for n in names if _text(n)]
        row = next((self.drugs[k] for k in keys if k in self.drugs), None)
        smiles = next((self.smiles[k] for k in keys if k in self.smiles), "")
        return row, smiles


def gdsc_drug_table(
    responses: pd.DataFrame,
    compounds: pd.DataFrame | None,
    smiles: pd.DataFrame | None,
    hub: HubIndex,
) -> pd.DataFrame:
    """One row per (GDSC1/GDSC2, DRUG_ID) present in the responses."""
    drugs = responses.groupby(["DATASET", "DRUG_ID"], as_index=False).agg(
        DRUG_NAME=("DRUG_NAME", "first"),
        PUTATIVE_TARGET=("PUTATIVE_TARGET", "first"),
        PATHWAY_NAME=("PATHWAY_NAME", "first"),
    )
    annotation = compounds.set_index("DRUG_ID") if compounds is not None else pd.DataFrame()
    smiles_by_name = (
        {normalise_name(n): s for n, s in zip(smiles["DRUG_NAME"], smiles["SMILES"], strict=True)}
        if smiles is not None
        else {}
    )
    rows = []
    for _, drug in drugs.iterrows():
        info = annotation.loc[drug["DRUG_ID"]] if drug["DRUG_ID"] in annotation.index else None
        synonyms = _text(info["SYNONYMS"]) if info is not None else ""
        targets = _text(drug["PUTATIVE_TARGET"]) or (_text(info["TARGET"]) if info is not None else "")
        pathway = _text(drug["PATHWAY_NAME"]) or (_text(info["TARGET_PATHWAY"]) if info is not None else "")
        names = [drug["DRUG_NAME"], *[s.strip() for s in synonyms.split(",") if s.strip()]]
        hub_row, hub_smiles = hub.lookup(names)
        smiles_text = next(
            (smiles_by_name[normalise_name(n)] for n in names if normalise_name(n) in smiles_by_name), ""
        )
        moa = _text(hub_row["moa"]) if hub_row is not None else ""
        disease_area = _text(hub_row["disease_area"]) if hub_row is not None else ""
        drug_class, reason = classify_drug(moa, targets, pathway, disease_area)
        rows.append(
            {
                "drug_key": f"{drug['DATASET']}:{drug['DRUG_ID']}",
                "screen": drug["DATASET"],
                "drug_id": str(drug["DRUG_ID"]),
                "drug_name": _text(drug["DRUG_NAME"]),
                "synonyms": synonyms,
                "targets": targets,
                "pathway": pathway,
                "moa": moa,
                "phase": _text(hub_row["clinical_phase"]) if hub_row is not None else "",
                "disease_area": disease_area,
                "indication": _text(hub_row["indication"]) if hub_row is not None else "",
                "smiles": smiles_text or hub_smiles,
                "drug_class": drug_class,
                "class_reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=DRUG_COLUMNS)


def prism_drug_table(responses: pd.DataFrame, hub: HubIndex) -> pd.DataFrame:
    """One row per PRISM compound (13-character Broad id) present in the responses."""
    first = responses.drop_duplicates("compound_id").set_index("compound_id")
    rows = []
    for compound, drug in first.iterrows():
        hub_row, hub_smiles = hub.lookup([drug["name"]])
        moa = _text(drug["moa"]) or (_text(hub_row["moa"]) if hub_row is not None else "")
        targets = _text(drug["target"]) or (
            _text(hub_row["target"]).replace("|", ", ") if hub_row is not None else ""
        )
        disease_area = _text(drug["disease.area"]) or (
            _text(hub_row["disease_area"]) if hub_row is not None else ""
        )
        drug_class, reason = classify_drug(moa, targets, "", disease_area)
        rows.append(
            {
                "drug_key": f"PRISM:{compound}",
                "screen": "PRISM",
                "drug_id": compound,
                "drug_name": _text(drug["name"]),
                "synonyms": "",
                "targets": targets,
                "pathway": "",
                "moa": moa,
                "phase": _text(drug["phase"])
                or (_text(hub_row["clinical_phase"]) if hub_row is not None else ""),
                "disease_area": disease_area,
                "indication": _text(drug["indication"])
                or (_text(hub_row["indication"]) if hub_row is not None else ""),
                "smiles": _first_smiles(drug["smiles"]) or hub_smiles,
                "drug_class": drug_class,
                "class_reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=DRUG_COLUMNS)


def shared_drugs(drugs: pd.DataFrame, screen_a: str, screen_b: str) -> pd.DataFrame:
    """Pairs of drug keys that are the same compound in two screens (matched on normalised name or synonym)."""

    def name_keys(row: pd.Series) -> set[str]:
        names = [row["drug_name"], *row["synonyms"].split(",")]
        return {normalise_name(n) for n in names if n.strip()}

    index: dict[str, list[str]] = {}
    for _, row in drugs[drugs["screen"] == screen_b].iterrows():
        for key in name_keys(row):
            index.setdefault(key, []).append(row["drug_key"])
    pairs = []
    for _, row in drugs[drugs["screen"] == screen_a].iterrows():
        matches = sorted({m for key in name_keys(row) for m in index.get(key, [])})
        pairs.extend(
            {"drug_key_a": row["drug_key"], "drug_key_b": m, "drug_name": row["drug_name"]} for m in matches
        )
    return pd.DataFrame(pairs, columns=["drug_key_a", "drug_key_b", "drug_name"])


TARGET_SPLIT = re.compile(r"[,;|/]\s*|\s+and\s+")
GENE_SYMBOL = re.compile(r"^[A-Z][A-Z0-9-]{1,14}$")


def target_genes(targets: str) -> set[str]:
    """Gene-like symbols in a free-text target field ('PARP1, PARP2' → {PARP1, PARP2}; 'Microtubule' → {})."""
    words = (token.strip().split(" ")[0] for token in TARGET_SPLIT.split(targets or "") if token.strip())
    return {word for word in words if GENE_SYMBOL.match(word)}  # as written: gene symbols are upper case
