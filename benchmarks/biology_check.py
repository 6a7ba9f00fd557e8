"""Biology check of the explanations (report, do not tune): where do well-known expression markers rank in each
drug's cohort relevance on *held-out* cell lines?

- SLFN11 for DNA-damaging agents (expected: high SLFN11 → sensitising),
- ABCB1 (P-glycoprotein) for its substrates (expected: high ABCB1 → resistance),
- the drug's own target gene for targeted drugs (EGFR for erlotinib/gefitinib/afatinib, ERBB2 for lapatinib, BCL2
  for venetoclax/navitoclax, ...), and the fraction of all targeted drugs whose annotated target is in the top 1 %.

The models are the 5 cross-validation fold models; each explains only the cell lines it never saw. Genes are ranked
by mean |relevance| over those cell lines (1 = most relevant of 5,778).

    python benchmarks/biology_check.py        # ~8 min on 2 cores; writes benchmarks/results/biology_check.{json,md}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurix_core.data.dataset import build_dataset  # noqa: E402
from neurix_core.data.drugs import normalise_name, target_genes  # noqa: E402
from neurix_core.explain.cohort import drug_relevance_matrix, summarise_cohort  # noqa: E402
from neurix_core.explain.lrp import InteractionLRP  # noqa: E402
from neurix_core.train.cv import cross_validate, interaction_predictor  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
MARKERS = {
    "SLFN11": [
        "Cisplatin",
        "Carboplatin",
        "Oxaliplatin",
        "SN-38",
        "Irinotecan",
        "Topotecan",
        "Camptothecin",
        "Doxorubicin",
        "Epirubicin",
        "Etoposide",
        "Mitoxantrone",
        "Gemcitabine",
        "Olaparib",
        "Talazoparib",
    ],
    "ABCB1": [
        "Paclitaxel",
        "Docetaxel",
        "Vincristine",
        "Vinblastine",
        "Vinorelbine",
        "Doxorubicin",
        "Epothilone B",
    ],
}
OWN_TARGETS = {
    "Erlotinib": "EGFR",
    "Gefitinib": "EGFR",
    "Afatinib": "EGFR",
    "Lapatinib": "ERBB2",
    "Venetoclax": "BCL2",
    "Navitoclax": "BCL2",
    "Nutlin-3a (-)": "MDM2",
    "Dabrafenib": "BRAF",
    "PLX-4720": "BRAF",
    "Crizotinib": "MET",
    "Ruxolitinib": "JAK2",
    "Imatinib": "ABL1",
    "Nilotinib": "ABL1",
    "Dasatinib": "ABL1",
    "Tamoxifen": "ESR1",
    "Fulvestrant": "ESR1",
    "Sapitinib": "EGFR",
    "Cetuximab": "EGFR",
    "AZD4547": "FGFR1",
    "Alpelisib": "PIK3CA",
}


def main() -> None:
    torch.set_num_threads(2)
    data = build_dataset(DATA_DIR, ["GDSC1", "GDSC2"])
    data = data.select(cells=np.isfinite(data.log_auc).any(axis=1))
    models: list = []
    cv = cross_validate(data, interaction_predictor(keep_models=models), n_folds=5)
    print(f"CV done: mean per-drug ρ {cv.summary['all']['mean_rho']:.3f}", flush=True)
    explainers = [InteractionLRP.from_fitted(m) for m in models]  # the hybrid as it predicts (both parts)
    scaled = [models[f].gene_scaler.transform(data.expression[cv.folds == f]) for f in range(5)]
    genes = data.genes
    gene_position = {g: i for i, g in enumerate(genes)}

    def cohort(drug_index: int) -> pd.DataFrame:
        relevance = np.vstack(
            [drug_relevance_matrix(e, x, drug_index) for e, x in zip(explainers, scaled, strict=True)]
        )
        observed = np.concatenate([np.isfinite(data.log_auc[cv.folds == f, drug_index]) for f in range(5)])
        inputs = np.vstack(scaled)
        summary = summarise_cohort(relevance[observed], inputs[observed], genes)
        summary["abs_rank"] = summary["mean_abs_relevance"].rank(ascending=False, method="min").astype(int)
        return summary.set_index("gene")

    names = data.drugs["drug_name"].map(normalise_name)
    rows = []
    checks = [(f"{marker} marker", name, marker) for marker, drugs in MARKERS.items() for name in drugs]
    checks += [("own target", name, gene) for name, gene in OWN_TARGETS.items()]
    for check, name, gene in checks:
        if gene not in gene_position:
            continue
        for j in np.flatnonzero(names == normalise_name(name)):
            m = cohort(int(j)).loc[gene]
            rows.append(
                {
                    "check": check,
                    "drug": data.drugs.iloc[j]["drug_key"],
                    "drug_name": name,
                    "gene": gene,
                    "rank": int(m["abs_rank"]),
                    "of": len(genes),
                    "expression_relevance_r": float(m["expression_relevance_r"]),
                    "direction": m["direction"],
                    "cv_rho": float(cv.per_drug.iloc[j]["rho"]),
                }
            )
    table = pd.DataFrame(rows)

    top_share = max(1, int(round(0.01 * len(genes))))
    targeted = data.drugs[data.drugs["drug_class"] == "targeted"]
    hits, tested = 0, 0
    for j, drug in targeted.iterrows():
        targets = [t for t in target_genes(drug["targets"]) if t in gene_position]
        if not targets:
            continue
        summary = cohort(int(j))
        tested += 1
        hits += int(summary.loc[targets, "abs_rank"].min() <= top_share)
    expected = tested * top_share / len(genes)
    result = {
        "markers": table.to_dict(orient="records"),
        "targeted_with_target_in_model_genes": tested,
        "targeted_with_target_in_top_1pct": hits,
        "fraction": hits / tested if tested else float("nan"),
        "expected_by_chance": expected,
        "top_1pct_genes": top_share,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "biology_check.json").write_text(json.dumps(result, indent=1, default=float))
    summary_line = (
        f"Targeted drugs whose annotated target gene is in the top 1% ({top_share} genes) of cohort relevance: "
        f"{hits} of {tested} ({result['fraction']:.1%}; {expected:.1f} expected by chance)."
    )
    (RESULTS / "biology_check.md").write_text(table.to_string(index=False) + "\n\n" + summary_line + "\n")
    print(table.to_string(index=False))
    print(summary_line)


if __name__ == "__main__":
    main()
