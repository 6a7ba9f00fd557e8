"""Choose the interaction model's size and schedule by cell-line cross-validation (mean per-drug ρ).

Run it where there is compute (it accepts --device cuda); the dataset can be exported to a cache first, so the
search machine needs neither the raw files nor RDKit:

    python benchmarks/hyperparameter_search.py --export-cache /tmp/gdsc.npz           # here
    python benchmarks/hyperparameter_search.py --cache /tmp/gdsc.npz --device cuda    # there

Every configuration is scored on the same folds as the ridge baseline; nothing is tuned on external data.
On two CPU cores a quick screen can score only some folds first (--screen-folds 0,1,2); the winner is then
confirmed by the full 5-fold run of `neurix train --cv 5 --baseline`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurix_core.data.dataset import ResponseData, build_dataset  # noqa: E402
from neurix_core.data.splits import cell_line_folds  # noqa: E402
from neurix_core.model.towers import TrainingConfig  # noqa: E402
from neurix_core.train.baselines import ridge_predictor  # noqa: E402
from neurix_core.train.cv import Predictor, cross_validate, interaction_predictor  # noqa: E402
from neurix_core.train.metrics import per_drug_spearman  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
GRID = {
    "expression_hidden": [(256,), (512,), (512, 256), (1024, 256)],
    "latent_dim": [32, 64, 128],
    "dropout": [0.1, 0.3, 0.5],
    "input_dropout": [0.0, 0.2],
    "epochs": [60, 120, 200],
    "learning_rate": [1e-3, 3e-4],
    "weight_decay": [1e-5],
}


def export_cache(path: Path, screens: list[str]) -> None:
    from neurix_core.train.fit import drug_fingerprints

    data = build_dataset(DATA_DIR, screens)
    data = data.select(cells=np.isfinite(data.log_auc).any(axis=1))
    np.savez_compressed(
        path,
        expression=data.expression,
        log_auc=data.log_auc,
        fingerprints=drug_fingerprints(data).numpy().astype(np.uint8),
        cell_lines=np.array(data.cell_lines),
        genes=np.array(data.genes),
        drug_key=data.drugs["drug_key"].to_numpy(str),
        screen=data.drugs["screen"].to_numpy(str),
        drug_class=data.drugs["drug_class"].to_numpy(str),
        drug_name=data.drugs["drug_name"].to_numpy(str),
    )
    print(f"cache written: {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def load_cache(path: Path) -> tuple[ResponseData, dict[str, np.ndarray]]:
    arrays = np.load(path)
    drugs = pd.DataFrame({k: arrays[k] for k in ("drug_key", "screen", "drug_class", "drug_name")})
    drugs["smiles"] = ""
    data = ResponseData(
        cell_lines=arrays["cell_lines"].tolist(),
        genes=arrays["genes"].tolist(),
        expression=arrays["expression"],
        drugs=drugs,
        log_auc=arrays["log_auc"],
        cell_info=pd.DataFrame(),
    )
    fingerprints = dict(zip(drugs["drug_key"], arrays["fingerprints"].astype(np.float32), strict=True))
    return data, fingerprints


def screen_folds(
    data: ResponseData, predictor: Predictor, folds: list[int], n_folds: int
) -> dict[int, float]:
    """Mean per-drug ρ on selected held-out folds only (the same fold assignment as the full CV)."""
    assignment = cell_line_folds(data.cell_lines, n_folds, 0)
    scores = {}
    for fold in folds:
        test = assignment == fold
        predicted = predictor(data.select(cells=~test), data.select(cells=test))
        scores[fold] = float(np.nanmean(per_drug_spearman(predicted, data.log_auc[test])))
    return scores


def configurations(budget: int, seed: int, grid_spec: dict) -> list[dict]:
    grid = [dict(zip(grid_spec, values, strict=True)) for values in itertools.product(*grid_spec.values())]
    rng = np.random.default_rng(seed)
    return [grid[i] for i in rng.choice(len(grid), size=min(budget, len(grid)), replace=False)]


def split_training(config: dict) -> tuple[TrainingConfig, dict]:
    """A grid point → (training settings, architecture settings)."""
    config = dict(config)
    training = TrainingConfig(
        epochs=config.pop("epochs", TrainingConfig.epochs),
        learning_rate=config.pop("learning_rate", TrainingConfig.learning_rate),
        weight_decay=config.pop("weight_decay", TrainingConfig.weight_decay),
    )
    return training, config


def screen(data: ResponseData, fingerprints, folds: list[int], grid_spec: dict, args) -> None:
    """Ridge and every grid point (the whole grid, in order) on a few folds; one JSON line per result."""
    rows = []
    if not args.no_ridge:
        rows.append({"config": "ridge", "fold_rho": screen_folds(data, ridge_predictor(), folds, args.folds)})
        print(json.dumps(rows[-1]), flush=True)
    for values in itertools.product(*grid_spec.values()):
        config = dict(zip(grid_spec, values, strict=True))
        training, architecture = split_training(config)
        predictor = interaction_predictor(
            training, architecture, fingerprints=fingerprints, device=args.device
        )
        rows.append({"config": config, "fold_rho": screen_folds(data, predictor, folds, args.folds)})
        print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--export-cache", type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--screens", default="GDSC1,GDSC2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=24, help="random configurations from the grid")
    parser.add_argument(
        "--seconds", type=float, default=480, help="stop starting new configurations after this"
    )
    parser.add_argument(
        "--screen-folds", default=None, help="comma-separated folds: score only these (a quick screen)"
    )
    parser.add_argument("--no-ridge", action="store_true", help="skip the ridge baseline (already measured)")
    parser.add_argument("--grid-json", default=None, help="a grid like GRID as JSON, replacing the default")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/hyperparameter_search.json"))
    args = parser.parse_args()
    if args.export_cache:
        export_cache(args.export_cache, args.screens.split(","))
        return
    data, fingerprints = (
        load_cache(args.cache) if args.cache else (build_dataset(DATA_DIR, args.screens.split(",")), None)
    )
    # The six example lines are out of everything (issue 10). The rounds stored in results/ predate this and the
    # selection split: they scored on lines that now also report, which the README states.
    from neurix_core.train.protocol import choose_examples

    data = data.select(cells=np.isfinite(data.log_auc).any(axis=1))
    # the cache keeps no lineages: the examples can only be excluded on a dataset built from the data directory
    if "lineage" in data.cell_info.columns:
        data = data.select(cells=~np.isin(data.cell_lines, choose_examples(data)))
    else:
        print("warning: no lineages in the cache, so the example lines cannot be excluded", flush=True)
    start = time.perf_counter()
    results: list[dict] = []
    ridge = None
    grid_spec = {**GRID, **json.loads(args.grid_json)} if args.grid_json else GRID
    if args.screen_folds:
        screen(data, fingerprints, [int(f) for f in args.screen_folds.split(",")], grid_spec, args)
        return
    if not args.no_ridge:
        ridge = cross_validate(
            data, ridge_predictor(), n_folds=args.folds
        )  # same folds (seed 0) as every model
        results.append(
            {
                "config": "ridge",
                "mean_rho": ridge.summary["all"]["mean_rho"],
                "n_rho_gt_0.2": ridge.summary["all"]["n_rho_gt_0.2"],
                "seconds": ridge.seconds,
            }
        )
        print(f"ridge: mean ρ {results[0]['mean_rho']:.4f} ({ridge.seconds:.0f} s)", flush=True)
    for config in [{}, *configurations(args.budget, 0, grid_spec)]:
        if time.perf_counter() - start > args.seconds:
            break
        training, config = split_training(config)
        result = cross_validate(
            data,
            interaction_predictor(training, config, fingerprints=fingerprints, device=args.device),
            n_folds=args.folds,
        )
        wins = int((result.per_drug["rho"] > ridge.per_drug["rho"]).sum()) if ridge else None
        row = {
            "config": {
                **config,
                "epochs": training.epochs,
                "learning_rate": training.learning_rate,
                "weight_decay": training.weight_decay,
            },
            "mean_rho": result.summary["all"]["mean_rho"],
            "n_rho_gt_0.2": result.summary["all"]["n_rho_gt_0.2"],
            "wins_vs_ridge": wins,
            "seconds": result.seconds,
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    best = max((r for r in results if r["config"] != "ridge"), key=lambda r: r["mean_rho"])
    print(f"best: {best}")


if __name__ == "__main__":
    main()
