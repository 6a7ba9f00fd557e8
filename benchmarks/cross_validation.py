"""Issue-3 validation benchmark: 5-fold cell-line CV on GDSC1+GDSC2, ridge on the same folds, external validation
across labs (GDSC ↔ PRISM), and training speed against a per-sample minibatch loop.

    python benchmarks/cross_validation.py [--data-dir ../shared/data] [--folds 5]

Writes benchmarks/results/cross_validation.json and .md and prints the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurix_core.data.dataset import ResponseData, build_dataset  # noqa: E402
from neurix_core.model.towers import InteractionModel, ModelConfig, TrainingConfig  # noqa: E402
from neurix_core.train.fit import TargetScaler, drug_fingerprints, fit  # noqa: E402
from neurix_core.train.pipeline import run_validation  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


class PairDataset(torch.utils.data.Dataset):
    """The reference implementation's approach: one (cell line, drug) pair per item, looked up in pandas frames."""

    def __init__(self, data: ResponseData, expression: pd.DataFrame) -> None:
        target = TargetScaler.fit(data.log_auc).transform(data.log_auc)
        rows, cols = np.nonzero(np.isfinite(target))
        self.pairs = pd.DataFrame(
            {"cell": np.array(data.cell_lines)[rows], "drug": cols, "y": target[rows, cols]}
        )
        self.expression = expression

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, float]:
        pair = self.pairs.iloc[index]
        x = torch.tensor(self.expression.loc[pair["cell"]].to_numpy(), dtype=torch.float32)
        return x, int(pair["drug"]), float(pair["y"])


def per_sample_pairs_per_second(data: ResponseData, fingerprints: torch.Tensor, n_batches: int = 20) -> float:
    """Time a per-pair minibatch loop (batch 256, DataLoader over pandas) for n_batches training steps."""
    expression = pd.DataFrame(data.expression, index=data.cell_lines)
    loader = torch.utils.data.DataLoader(PairDataset(data, expression), batch_size=256, shuffle=True)
    config = ModelConfig(
        n_genes=len(data.genes), n_drugs=len(data.drugs), fingerprint_bits=fingerprints.shape[1]
    )
    model = InteractionModel(config, fingerprints)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    start, pairs = time.perf_counter(), 0
    for step, (x, drug, y) in enumerate(loader):
        latent = model.expression_tower(x) * model.drug_latent(drug)  # one expression-tower pass per pair
        loss = ((latent.mean(dim=1) - y.float()) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        pairs += len(y)
        if step + 1 == n_batches:
            break
    return pairs / (time.perf_counter() - start)


def markdown(results: dict) -> str:
    cv, ridge = results["validation"]["cross_validation"]["summary"], results["validation"]["ridge_baseline"]
    lines = [
        "| drugs | n | model mean ρ | model median ρ | model ρ>0.2 | model ρ>0.3 | ridge mean ρ | ridge ρ>0.2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in cv:
        m, r = cv[key], ridge["summary"].get(key, {})
        lines.append(
            f"| {key} | {m['n_drugs']} | {m['mean_rho']:.3f} | {m['median_rho']:.3f} | "
            f"{m['n_rho_gt_0.2']} ({m['frac_rho_gt_0.2']:.0%}) | {m['n_rho_gt_0.3']} ({m['frac_rho_gt_0.3']:.0%}) | "
            f"{r.get('mean_rho', float('nan')):.3f} | {r.get('n_rho_gt_0.2', '')} |"
        )
    lines.append("")
    lines.append(f"Model beats ridge on {ridge['model_wins']} of {ridge['n_compared']} drugs.")
    for name, block in results["validation"].get("external", {}).items():
        s = block["summary"].get("all", {})
        lines.append(
            f"External {name}: {s.get('n_drugs', 0)} shared drug pairs, mean ρ {s.get('mean_rho', float('nan')):.3f}, "
            f"{s.get('n_rho_gt_0.2', 0)} with ρ > 0.2 (train {block['summary'].get('n_train_cell_lines')} / "
            f"test {block['summary'].get('n_test_cell_lines')} cell lines)."
        )
    speed = results["speed"]
    lines.append(
        f"Training: {speed['matrix_pairs_per_second']:,.0f} pairs/s (matrix) vs "
        f"{speed['per_sample_pairs_per_second']:,.0f} pairs/s (per-sample loop): {speed['speedup']:.0f}×. "
        f"Full {results['folds']}-fold CV: {speed['cv_wall_seconds']:.0f} s on {torch.get_num_threads()} threads."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--validation-from",
        type=Path,
        default=None,
        help="read CV/ridge/external figures from a bundle that `neurix train --baseline --external` wrote "
        "(the same run_validation code) and only measure training speed here",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    full = build_dataset(args.data_dir, ["GDSC1", "GDSC2", "PRISM"])
    data = full.select(drugs=full.screen_mask(["GDSC1", "GDSC2"]))
    data = data.select(cells=np.isfinite(data.log_auc).any(axis=1))
    print(
        f"GDSC1+GDSC2: {len(data.cell_lines)} cell lines × {len(data.drugs)} drugs, {data.n_pairs:,} pairs",
        flush=True,
    )
    training = TrainingConfig()
    if args.validation_from is not None:
        bundle_dir = args.validation_from
        validation = json.loads((bundle_dir / "validation.json").read_text())
        drugs = pd.read_csv(bundle_dir / "drugs.csv")
        print(f"validation figures read from {bundle_dir}", flush=True)
    else:
        validation, drugs = run_validation(
            data,
            full,
            args.folds,
            training,
            {},
            baseline=True,
            external=True,
            log=lambda m: print(m, flush=True),
        )

    fingerprints = drug_fingerprints(data)
    start = time.perf_counter()
    short = TrainingConfig(epochs=5)
    fit(data, short, fingerprints=fingerprints)
    matrix_rate = data.n_pairs * short.epochs / (time.perf_counter() - start)
    loop_rate = per_sample_pairs_per_second(data, fingerprints)
    speed = {
        "matrix_pairs_per_second": matrix_rate,
        "per_sample_pairs_per_second": loop_rate,
        "speedup": matrix_rate / loop_rate,
        "cv_wall_seconds": validation["cross_validation"]["seconds"],
        "threads": torch.get_num_threads(),
    }
    results = {
        "folds": args.folds,
        "validation": validation,
        "speed": speed,
        "per_drug": drugs[
            ["drug_key", "drug_name", "drug_class", "n_cell_lines", "cv_rho", "ridge_rho"]
        ].to_dict(orient="records"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cross_validation.json").write_text(json.dumps(results, indent=1, default=float))
    report = markdown(results)
    (RESULTS / "cross_validation.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
