"""Issue-10 accuracy benchmark: repeated 5-fold cell-line CV of the hybrid model and every baseline on the same folds.

Protocol (`neurix_core/train/protocol.py`): the six example lines are out of everything; 20% of the other lines form
the fixed selection split that chose the blend weight (`benchmarks/model_selection.py`) and never enter this CV;
the remaining evaluation lines get 5-fold CV under several partition seeds. Each fold fits the shipped model type
(interaction network + per-drug ridge with its penalty chosen per drug by leave-one-out on the training folds +
reduced-rank linear model); its parts give the network-only and ridge-only predictions, and the tissue-only lookup
runs on the same folds. Per-drug ρ comes from pooled out-of-fold predictions, averaged over the partitions.

    python benchmarks/cross_validation.py --partition 0      # fit and cache one partition (can run in parallel)
    python benchmarks/cross_validation.py --seeds 0,1,2      # fit what is not cached, then report

Writes benchmarks/results/cross_validation.json and .md and prints the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurix_core.data.dataset import ResponseData, build_dataset  # noqa: E402
from neurix_core.model.towers import TrainingConfig  # noqa: E402
from neurix_core.train.cv import CrossValidationResult  # noqa: E402
from neurix_core.train.evaluation import MethodPredictions, cross_validate_methods, summarise_methods  # noqa: E402
from neurix_core.train.protocol import protocol_lines  # noqa: E402
from neurix_core.train.repeated_cv import benchmark_record  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
LABELS = {
    "model": "Neurix hybrid (shipped)",
    "network": "interaction network alone",
    "ridge": "per-drug ridge (α per drug, LOO)",
    "tissue": "tissue-only lookup",
}


def evaluation_data(data_dir: Path) -> ResponseData:
    """GDSC1+GDSC2 lines with a response, minus the six example lines and the selection split."""
    return protocol_lines(build_dataset(data_dir, ["GDSC1", "GDSC2"]))[0]


PARTS = ("network", "ridge", "reduced_rank", "tissue")
CACHE_VERSION = 2  # 2: dropout masks from uniform draws (FastDropout), and the reduced-rank part


def cache_file(cache: Path, seed: int, training: TrainingConfig) -> Path:
    """One file per partition and network setting: a changed model never reuses another's predictions."""
    return cache / f"partition_{seed}_e{training.epochs}_b{training.batch_cell_lines}_v{CACHE_VERSION}.npz"


def run_partition(data: ResponseData, seed: int, cache: Path, training: TrainingConfig) -> None:
    """Fit one partition's folds and cache each part's and the tissue lookup's out-of-fold predictions."""
    fit_config = TrainingConfig(
        **{
            **training.to_dict(),
            "linear_weight": max(training.linear_weight, 0.1),  # every part is fitted, whatever its share
            "reduced_rank_weight": max(training.reduced_rank_weight, 0.1),
        }
    )
    start = time.perf_counter()
    runs = cross_validate_methods(
        data,
        fit_config,
        {},
        seed=seed,
        on_fold=lambda fold, seconds: print(
            f"partition {seed}: fold {fold + 1}/5 ({seconds:.0f} s)", flush=True
        ),
    )
    np.savez(
        cache_file(cache, seed, training),
        folds=runs.result.folds,
        seconds=time.perf_counter() - start,
        epochs=training.epochs,
        **{name: runs.predictions[name] for name in PARTS},
    )


def load_partition(
    data: ResponseData, seed: int, cache: Path, training: TrainingConfig
) -> tuple[MethodPredictions, float]:
    ridge_share, reduced_share = training.linear_weight, training.reduced_rank_weight
    stored = np.load(cache_file(cache, seed, training))
    predictions = {name: stored[name] for name in PARTS}
    predictions["model"] = (
        (1 - ridge_share - reduced_share) * predictions["network"]
        + ridge_share * predictions["ridge"]
        + reduced_share * predictions["reduced_rank"]
    ).astype(np.float32)
    result = CrossValidationResult(stored["folds"], predictions["model"], None, {}, float(stored["seconds"]))
    return MethodPredictions(seed, result, predictions), float(stored["seconds"])


def markdown(results: dict) -> str:
    s = results["summary"]
    lines = [
        f"Repeated {results['folds']}-fold CV over {s['n_cell_lines']} evaluation cell lines (partition seeds "
        f"{s['partition_seeds']}; {results['n_selection_lines']} selection lines and 6 example lines held out), "
        f"GDSC1+GDSC2, {results['n_drugs']} drugs. Per-drug Spearman ρ from pooled out-of-fold predictions, "
        f"averaged over partitions; interval = 2.5–97.5% of a cell-line bootstrap ({results['n_boot']} resamples "
        "per partition).",
        "",
        "| method | mean ρ | 95% interval | by partition | median ρ | ρ > 0.2 | ρ > 0.3 | within-lineage ρ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, label in LABELS.items():
        if key not in s:
            continue
        a = s[key]["summary"]["all"]
        ci = s[key].get("bootstrap_ci95", [float("nan")] * 2)
        lines.append(
            f"| {label} | {a['mean_rho']:.3f} | {ci[0]:.3f}–{ci[1]:.3f} | "
            f"{', '.join(f'{v:.3f}' for v in s[key]['mean_rho_by_seed'])} | {a['median_rho']:.3f} | "
            f"{a['n_rho_gt_0.2']} ({a['frac_rho_gt_0.2']:.0%}) | {a['n_rho_gt_0.3']} ({a['frac_rho_gt_0.3']:.0%}) | "
            f"{s[key]['within_lineage_rho']:.3f} |"
        )
    lines += [
        "",
        f"Within-lineage ρ: mean per-drug ρ inside each of {s['n_lineages_within']} lineages with ≥ 15 evaluation "
        "lines, averaged over lineages (what the model adds beyond tissue of origin).",
        "",
        "| paired, per drug | mean difference | 95% interval (drugs) | 95% interval (bootstrap) | wins | Wilcoxon p |",
        "|---|---|---|---|---|---|",
    ]
    for key, p in s["paired"].items():
        boot = p.get("bootstrap_ci95", [float("nan")] * 2)
        lines.append(
            f"| {key.replace('_', ' ')} | {p['mean_difference']:+.4f} | {p['ci95'][0]:+.4f} to {p['ci95'][1]:+.4f} | "
            f"{boot[0]:+.4f} to {boot[1]:+.4f} | {p['wins']} of {p['n_drugs']} ({p['win_fraction']:.0%}) | "
            f"{p['wilcoxon_p']:.1e} |"
        )
    if "within_lineage_difference" in s["paired"].get("model_vs_ridge", {}):
        lines.append(
            f"\nWithin lineage the model is {s['paired']['model_vs_ridge']['within_lineage_difference']:+.4f} ρ "
            "ahead of ridge."
        )
    lines.append(
        f"\nShares of the hybrid (chosen on the selection split): ridge {results['linear_weight']}, reduced-rank "
        f"linear model {results.get('reduced_rank_weight', 0.0)}, network the rest; {results['epochs']} epochs, "
        f"batches of {results.get('batch_cell_lines', 32)} cell lines. "
        "Fitting one partition (5 folds, all parts) took "
        f"{', '.join(f'{v:.0f}' for v in results['partition_seconds'])} s on a shared machine."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seeds", default="0,1,2", help="partition seeds to report")
    parser.add_argument("--partition", type=int, default=None, help="only fit and cache this partition")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/neurix_cross_validation"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--boot", type=int, default=100, help="cell-line bootstrap resamples per partition")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    training = TrainingConfig()
    data = evaluation_data(args.data_dir)
    print(f"evaluation set: {len(data.cell_lines)} cell lines × {len(data.drugs)} drugs", flush=True)
    seeds = [args.partition] if args.partition is not None else [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        if not cache_file(args.cache, seed, training).exists():
            run_partition(data, seed, args.cache, training)
    if args.partition is not None:
        return
    loaded = [load_partition(data, seed, args.cache, training) for seed in seeds]
    summary = summarise_methods(data, [run for run, _ in loaded], n_boot=args.boot)
    results = {
        "folds": 5,
        "n_boot": args.boot,
        "n_drugs": len(data.drugs),
        "n_selection_lines": int(round(len(data.cell_lines) / 0.8 * 0.2)),
        "linear_weight": training.linear_weight,
        "reduced_rank_weight": training.reduced_rank_weight,
        "epochs": training.epochs,
        "batch_cell_lines": training.batch_cell_lines,
        **benchmark_record(training, data.source_fingerprint),
        "partition_seconds": [seconds for _, seconds in loaded],
        "summary": summary,
        "drugs": data.drugs[["drug_key", "drug_name", "drug_class"]].to_dict(orient="list"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cross_validation.json").write_text(json.dumps(results, indent=1, default=float))
    report = markdown(results)
    (RESULTS / "cross_validation.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
