"""What the user sees, measured on the shipped bundle and the real data: compounds vs screen entries, curated
classes, repurposing rules, unit detection on real files and data-quality flags.

Prints the figures and writes ``benchmarks/results/user_view_check.json``. Rerun after retraining::

    PYTHONPATH=$PWD python benchmarks/user_view_check.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.api import Neurix
from neurix_core.data.drugs import classify_drug
from neurix_core.errors import ProfileError
from neurix_core.repurpose.candidates import repurposing_candidates

RESULTS = Path(__file__).resolve().parent / "results" / "user_view_check.json"


def _compounds(neurix: Neurix) -> dict:
    drugs = neurix.bundle.drugs
    sizes = drugs.groupby("compound_id").size()
    rule_only = [
        classify_drug(*(str(r[c]) for c in ("moa", "targets", "pathway", "disease_area")))[0]
        for _, r in drugs.iterrows()
    ]
    changed = drugs.loc[np.array(rule_only) != drugs["drug_class"].to_numpy()]
    return {
        "screen_entries": len(drugs),
        "compounds": int(sizes.size),
        "compounds_with_several_entries": int((sizes > 1).sum()),
        "classes_per_compound": drugs.drop_duplicates("compound_id")["drug_class"].value_counts().to_dict(),
        "entries_changed_by_overrides_or_compound_vote": int(len(changed)),
        "entries_with_auc_above_0.9_at_z_minus_1": int(
            (np.exp(drugs["log_auc_mean"] - drugs["log_auc_sd"]) > 0.9).sum()
        ),
    }


def _repurposing(neurix: Neurix) -> dict:
    """Candidates per held-out example (its own lineage as tumour type): old rule (z ≤ −1, ρ ≥ 0.2, any phase,
    screen entries) vs the current rule (compound level, AUC ≤ 0.8, clinical stage)."""
    examples = neurix.example_profiles()
    screen = neurix.predict(examples, level="screen")
    compounds = neurix.to_compounds(screen)
    out = {}
    for sample in examples.index.astype(str):
        lineage = str(neurix.example_responses(sample)["lineage"].iloc[0])
        rows = screen[screen["sample"] == sample]
        old = rows[(rows["z_log_auc"] <= -1) & (rows["cv_rho"] >= 0.2)]
        new = repurposing_candidates(compounds[compounds["sample"] == sample], neurix.bundle.drugs, lineage)
        out[sample] = {
            "lineage": lineage,
            "old_rule_screen_entries": len(old),
            "old_rule_auc_above_0.8": int((old["predicted_auc"] > 0.8).sum()),
            "new_rule_compounds": len(new),
            "new_rule_top": new["drug_name"].head(3).tolist(),
        }
    return out


def _units(neurix: Neurix, data_dir: Path) -> dict:
    """Detection on real files: DepMap RNA-seq log2(TPM+1), GDSC within-line z, and distorted versions."""
    depmap = data_dir / "depmap" / "sample_24Q4" / "OmicsExpressionProteinCodingGenesTPMLogp1.csv.gz"
    frame = pd.read_csv(depmap, index_col=0).iloc[:20]
    rng = np.random.default_rng(0)
    cases = {
        "depmap_log2tpm": frame,
        "depmap_tpm": np.expm1(frame * np.log(2)),
        "depmap_log2tpm_with_small_negatives": frame.where(frame > 0.3, -rng.uniform(0, 0.3, frame.shape)),
        "gdsc_zscores": neurix.example_profiles(),
    }
    out = {}
    for name, table in cases.items():
        try:
            parsed = neurix.read_profile(table.to_csv().encode(), f"{name}.csv")
            out[name] = {"scale": parsed.value_scale, "reason": parsed.scale_detection.reason}
        except ProfileError as exc:
            out[name] = {"refused": str(exc)}
        forced = neurix.read_profile(table.to_csv().encode(), f"{name}.csv", values="zscore")
        out[name]["zscore_choice_warned"] = any("You chose z-scores" in w for w in forced.warnings)
    return out


def _quality(neurix: Neurix) -> dict:
    """The reported case: 1 in 7 values empty or NA."""
    profile = neurix.example_profiles().iloc[:1].T.copy()
    profile.iloc[::7, 0] = np.nan
    parsed = neurix.read_profile(profile.rename_axis("gene").to_csv(na_rep="NA").encode(), "gaps.csv")
    sample = neurix.quality(parsed).samples[0]
    full = neurix.predict(neurix.example_profiles().iloc[:1])
    gappy = neurix.predict(parsed)
    return {
        "imputed": sample.imputed,
        "imputed_fraction": round(sample.imputed_fraction, 4),
        "status": sample.status,
        "top_z_full": round(float(full["z_log_auc"].iloc[0]), 3),
        "same_compound_z_with_gaps": round(
            float(gappy.set_index("compound_id").loc[full["compound_id"].iloc[0], "z_log_auc"]), 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    neurix = Neurix.load()
    results = {
        "compounds": _compounds(neurix),
        "repurposing": _repurposing(neurix),
        "units": _units(neurix, args.data_dir),
        "quality": _quality(neurix),
    }
    print(json.dumps(results, indent=1, default=str))
    RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
