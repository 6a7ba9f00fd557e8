"""A small bundle trained through the real pipeline on planted data, with discovery and stability members."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neurix_core.data.dataset import ResponseData
from neurix_core.model.towers import TrainingConfig
from tests.test_training import SMALL  # the small architecture every training test uses

GENES = ["SLFN11", "EGFR", "ABCB1", "HLA-A", "KRTAP1-5"] + [f"GENE{i}" for i in range(35)]
DRUGS = [
    ("Cisplatin", "DNA crosslinker"),
    ("Erlotinib", "EGFR"),
    ("Paclitaxel", "Microtubule stabiliser"),
] + [(f"Drug{i}", "MEK1, MEK2") for i in range(5)]


def planted_data(n_cells: int = 105, seed: int = 0) -> ResponseData:
    """SLFN11 drives Cisplatin (high → sensitive), EGFR Erlotinib, ABCB1 Paclitaxel (high → resistant)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_cells, len(GENES))).astype(np.float32)
    y = 0.3 * rng.normal(size=(n_cells, len(DRUGS)))
    y[:, 0] -= x[:, 0]
    y[:, 1] -= x[:, 1]
    y[:, 2] += x[:, 2]
    y[:, 3:] += x[:, 5:10].mean(axis=1, keepdims=True) * rng.normal(size=(1, len(DRUGS) - 3))
    y[rng.random(y.shape) < 0.2] = np.nan
    cells = [f"ACH-{i:06d}" for i in range(n_cells)]
    drugs = pd.DataFrame(
        {
            "drug_key": [f"GDSC2:{i}" for i in range(len(DRUGS))],
            "screen": "GDSC2",
            "drug_id": [str(i) for i in range(len(DRUGS))],
            "drug_name": [name for name, _ in DRUGS],
            "synonyms": "",
            "targets": [targets for _, targets in DRUGS],
            "pathway": "",
            "moa": "",
            "drug_class": ["chemotherapy", "targeted", "chemotherapy"] + ["targeted"] * (len(DRUGS) - 3),
            "class_rule": "",
            "clinical_phase": "",
            "disease_area": "",
            "indication": "",
            "smiles": "",
        }
    )
    info = pd.DataFrame(
        {
            "cell_line_name": cells,
            "lineage": [
                ["Lung", "Skin", "Breast", "Bowel", "Blood", "CNS", "Liver"][i % 7] for i in range(n_cells)
            ],
            "primary_disease": "",
        },
        index=cells,
    )
    return ResponseData(cells, list(GENES), x, drugs, y.astype(np.float32), info)


def train_small_bundle(out: Path) -> Path:
    """Run ``train_bundle`` (3-fold CV → discovery, members) on planted data; UMAP replaced by a stub map.

    One torch thread: on a busy shared machine, thread contention makes this tiny network ~7× slower."""
    from neurix_core.train import pipeline

    data = planted_data()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pipeline, "build_dataset", lambda *_args, **_kw: data)
            patch.setattr(pipeline, "training_platform", lambda *_args, **_kw: "microarray")
            patch.setattr(
                pipeline,
                "compute_drug_map",
                lambda _model, drugs: pd.DataFrame(
                    {"drug_key": drugs["drug_key"], "umap_x": 0.0, "umap_y": 0.0}
                ),
            )
            training = TrainingConfig(epochs=50, batch_cell_lines=16, learning_rate=1e-2, weight_decay=0.0)
            return pipeline.train_bundle(
                out.parent, out, cv_folds=3, training=training, architecture=SMALL, log=lambda _m: None
            )
    finally:
        torch.set_num_threads(threads)
