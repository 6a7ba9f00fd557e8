"""How far can a user trust a prediction? Coverage of the intervals, hit rates, the domain check, and its cost.

    PYTHONPATH=. python benchmarks/trust.py --bundle DIR [--data-dir ../shared/data] [--repeats 5]

1. **Coverage and hit rates** are read from the bundle's ``trust.json``: ``neurix train`` measured them on the
   cross-validation's outer folds, each fold's interval quantiles, difficulty and domain threshold fitted on the
   other folds only (``neurix_core/trust/calibration.py: nested_evaluation``).
2. **Domain check** on real data, fold by fold with the training's folds: for the held-out lines of each fold, with
   the gene scaler, principal axes and threshold fitted without them, the false-alarm rate on the real profiles and
   the detection rate on shifted copies (gene labels shuffled, constant profile, random noise, 40 % of genes
   missing). Then real DepMap 24Q4 RNA-seq profiles (``depmap/sample_24Q4``, 150 genes) sent through the upload
   path to the bundle; they cover far fewer model genes than the 50 % coverage rule requires, so the rule is
   relaxed for this measurement only (the product refuses them).
3. **Cost**: CPU time of upload → predictions with intervals + domain check → bar chart for one sample, with and
   without the trust computations (median of ``--repeats`` after a warm-up).

Results go to benchmarks/results/trust.json and trust.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
SHIFTS = ("gene labels shuffled", "constant profile", "random noise", "40% of genes missing")


def shifted(profiles: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Shifted copies of within-sample z profiles (NaN = not measured), before the upload path's scaling."""
    out = profiles.copy()
    if kind == "gene labels shuffled":
        for row in out:
            rng.shuffle(row)
    elif kind == "constant profile":
        out[:] = 5.0
    elif kind == "random noise":
        out = rng.normal(size=out.shape)
    elif kind == "40% of genes missing":
        out[rng.random(out.shape) < 0.4] = np.nan
    return out


def training_lines(data_dir: Path):
    """The lines and folds ``neurix train`` used (same dataset, examples held out, same fold seed)."""
    from neurix_core.data.dataset import build_dataset
    from neurix_core.data.splits import cell_line_folds
    from neurix_core.train.protocol import choose_examples

    full = build_dataset(data_dir, ["GDSC1", "GDSC2"])
    data = full.select(cells=np.isfinite(full.log_auc).any(axis=1))
    examples = choose_examples(data)
    model_data = data.select(cells=~np.isin(data.cell_lines, examples))
    return model_data, cell_line_folds(model_data.cell_lines, 5, 0)


def domain_on_folds(expression: np.ndarray, folds: np.ndarray, seed: int = 0) -> dict:
    """False alarms on held-out real lines and detection of shifted inputs, each fold calibrated on the others."""
    from neurix_core.features.scaling import GeneScaler, within_sample_zscore
    from neurix_core.trust import domain

    held_out = domain.held_out_distances(expression, folds)
    rng = np.random.default_rng(seed)
    flagged = {"real held-out lines": 0, **{k: 0 for k in SHIFTS}}
    for fold in np.unique(folds):
        test = folds == fold
        threshold = domain.domain_threshold(held_out[~test])
        scaler = GeneScaler.fit(expression[~test])
        space = domain.ReferenceSpace.fit(scaler.transform(expression[~test]))

        def distance(profiles: np.ndarray, space=space, scaler=scaler) -> np.ndarray:  # noqa: ANN001
            zscored = within_sample_zscore(profiles)
            found = domain.domain_distance(space.similarities(scaler.transform(zscored)))
            return np.where(domain.flat_profiles(zscored), 1.0, found)  # as TrustArtifacts.domain does

        flagged["real held-out lines"] += int((distance(expression[test]) > threshold).sum())
        for kind in SHIFTS:
            flagged[kind] += int((distance(shifted(expression[test], kind, rng)) > threshold).sum())
    n = len(folds)
    return {kind: {"flagged": count, "n": n, "rate": count / n} for kind, count in flagged.items()}


def depmap_through_upload(neurix, data_dir: Path) -> dict:  # noqa: ANN001
    """Real RNA-seq profiles through read_profile → prepare (coverage rule relaxed) → domain check."""
    from neurix_core.io.profile import ProfileLimits
    from neurix_core.predict import prepare_input

    path = data_dir / "depmap" / "sample_24Q4" / "OmicsExpressionProteinCodingGenesTPMLogp1.csv.gz"
    table = pd.read_csv(path, index_col=0)
    distances, coverages = [], []
    for start in range(0, len(table), 200):  # the upload limit is 200 samples per file
        chunk = table.iloc[start : start + 200].to_csv().encode()
        profile = neurix.read_profile(chunk, filename="depmap_sample.csv", limits=ProfileLimits())
        model_input = prepare_input(neurix.bundle, profile.expression, min_coverage=0.0)
        distances.append(neurix.bundle.trust.domain(model_input.scaled, model_input.zscored)[0])
        coverages.append(model_input.coverage)
    distance = np.concatenate(distances)
    inside = distance <= neurix.bundle.trust.threshold
    return {
        "n_samples": len(distance),
        "model_genes_covered": float(np.median(np.concatenate(coverages))),
        "coverage_rule_relaxed": True,
        "flagged": int((~inside).sum()),
        "rate": float((~inside).mean()),
        "median_distance": float(np.median(distance)),
        "threshold": neurix.bundle.trust.threshold,
    }


def cost(neurix, repeats: int) -> dict:  # noqa: ANN001
    """CPU seconds of upload → predictions (+ intervals, percentiles, domain) → bars, one sample."""
    from neurix_core.report.figures import prediction_bars

    sample = neurix.example_profiles().iloc[:1]
    upload = sample.T.to_csv().encode()

    def run() -> None:
        profile = neurix.read_profile(upload, filename="one.csv")
        table = neurix.predict(profile)
        prediction_bars(table.head(25))

    def median_cpu() -> float:
        run()
        times = []
        for _ in range(repeats):
            start = time.process_time()
            run()
            times.append(time.process_time() - start)
        return statistics.median(times)

    with_trust = median_cpu()
    trust, neurix.bundle.trust = neurix.bundle.trust, None
    try:
        without = median_cpu()
    finally:
        neurix.bundle.trust = trust
    return {
        "upload_to_bars_cpu_s": with_trust,
        "without_trust_cpu_s": without,
        "extra_cpu_s": with_trust - without,
    }


def markdown(results: dict) -> str:
    """The figures as a short Markdown table set (benchmarks/results/trust.md)."""
    lines = [f"# Trust benchmark · {results['bundle']} ({results['model_version']})", ""]
    lines += ["## Interval coverage on outer folds", "", "| level | group | coverage |", "|---|---|---|"]
    for level, entry in results["coverage"].items():
        lines.append(f"| {level} | all pairs | {entry['overall']:.1%} |")
        for grouping in ("reliability_group", "hit_rate_group"):
            for label, cell in entry.get(grouping, {}).items():
                lines.append(f"| {level} | {grouping.replace('_', ' ')}: {label} | {cell['coverage']:.1%} |")
    hits = results["hit_rate"]
    lines += [
        "",
        f"Hit rate (top 20% predicted → truly most sensitive third): mean {hits['mean']:.1%}, median "
        f"{hits['median']:.1%} (chance 33%); drugs per tier {hits['groups']}.",
        "",
        "## Domain check (share flagged out of domain)",
        "",
        "| input | flagged |",
        "|---|---|",
    ]
    for kind, entry in results["domain_on_folds"].items():
        lines.append(f"| {kind} | {entry['rate']:.1%} ({entry['flagged']} of {entry['n']}) |")
    depmap = results["depmap_rnaseq"]
    lines.append(
        f"| DepMap 24Q4 RNA-seq sample via upload (coverage rule relaxed; median {depmap['model_genes_covered']:.1%}"
        f" of model genes) | {depmap['rate']:.1%} ({depmap['flagged']} of {depmap['n_samples']}) |"
    )
    cost = results["cost"]
    lines += [
        "",
        f"Cost, one sample: upload → bars with intervals and domain check {cost['upload_to_bars_cpu_s']:.3f} s CPU "
        f"({cost['extra_cpu_s']:+.3f} s for trust).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from neurix_core.api import Neurix
    from neurix_core.trust.artifacts import NOT_AVAILABLE

    neurix = Neurix.load(args.bundle)
    if not neurix.has_trust:
        print(f"{neurix.bundle.path}: {NOT_AVAILABLE}")
        return
    report = neurix.bundle.trust.report
    results: dict = {"bundle": str(neurix.bundle.path), "model_version": neurix.bundle.version}
    results["coverage"] = report["coverage"]
    results["mean_width"] = report["mean_width"]
    results["hit_rate"] = report["hit_rate"]
    results["domain_training_time"] = report["domain"]
    print("Interval coverage on outer folds (nominal → measured):")
    for level, entry in report["coverage"].items():
        print(f"  {level}: overall {entry['overall']:.1%}, mean width {report['mean_width'][level]:.2f} z")
        for grouping in ("reliability_group", "hit_rate_group"):
            for label, cell in entry.get(grouping, {}).items():
                print(f"      {grouping} {label:<12} {cell['coverage']:.1%} ({cell['n_pairs']:,} pairs)")
        print(
            f"      in domain {entry['in_domain']:.1%}, out of domain "
            + ("n/a" if entry["out_of_domain"] is None else f"{entry['out_of_domain']:.1%}")
            + f"; drugs within ±5 points: {entry['per_drug_within_5_points']:.0%}"
        )
    hits = report["hit_rate"]
    print(
        f"Hit rate (top 20% predicted → truly most sensitive third): mean {hits['mean']:.1%}, median "
        f"{hits['median']:.1%}, chance 33%; drugs by group: {hits['groups']}"
    )
    data, folds = training_lines(args.data_dir)
    results["domain_on_folds"] = domain_on_folds(data.expression, folds)
    print("Domain check on outer folds (share flagged out of domain):")
    for kind, entry in results["domain_on_folds"].items():
        print(f"  {kind:<22} {entry['rate']:.1%} ({entry['flagged']} of {entry['n']})")
    results["depmap_rnaseq"] = depmap_through_upload(neurix, args.data_dir)
    entry = results["depmap_rnaseq"]
    print(
        f"  DepMap 24Q4 RNA-seq sample (upload path, coverage rule relaxed: median {entry['model_genes_covered']:.1%}"
        f" of model genes): {entry['rate']:.1%} flagged ({entry['flagged']} of {entry['n_samples']})"
    )
    results["cost"] = cost(neurix, args.repeats)
    print(
        "Cost, one sample: upload → bars with intervals and domain check "
        f"{results['cost']['upload_to_bars_cpu_s']:.3f} s "
        f"CPU ({results['cost']['extra_cpu_s']:+.3f} s for trust)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "trust.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (RESULTS / "trust.md").write_text(markdown(results), encoding="utf-8")
    print(f"written to {RESULTS / 'trust.json'}")


if __name__ == "__main__":
    main()
