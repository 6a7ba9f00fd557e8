"""Training speed: matrix training over (cell lines × drugs) against a per-pair minibatch loop over pandas (the
reference implementation's approach). Moved out of cross_validation.py, which now measures accuracy only.

    python benchmarks/training_speed.py [--data-dir ../shared/data]

Writes benchmarks/results/training_speed.json and prints the figures.
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    torch.set_num_threads(2)
    full = build_dataset(args.data_dir, ["GDSC1", "GDSC2"])
    data = full.select(cells=np.isfinite(full.log_auc).any(axis=1))
    fingerprints = drug_fingerprints(data)
    short = TrainingConfig(
        epochs=5, linear_weight=0.0
    )  # the network alone: the part whose training is compared
    start = time.perf_counter()
    fit(data, short, fingerprints=fingerprints)
    matrix_rate = data.n_pairs * short.epochs / (time.perf_counter() - start)
    loop_rate = per_sample_pairs_per_second(data, fingerprints)
    speed = {
        "matrix_pairs_per_second": matrix_rate,
        "per_sample_pairs_per_second": loop_rate,
        "speedup": matrix_rate / loop_rate,
        "threads": torch.get_num_threads(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training_speed.json").write_text(json.dumps(speed, indent=1))
    print(
        f"matrix {matrix_rate:,.0f} pairs/s vs per-sample loop {loop_rate:,.0f} pairs/s: {speed['speedup']:.0f}×"
    )


if __name__ == "__main__":
    main()
