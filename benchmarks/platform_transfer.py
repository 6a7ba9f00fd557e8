"""Platform transfer: how much accuracy an RNA-seq upload loses through each scaling path of a microarray model.

Real paired data: the GDSC cell lines that also have DepMap 24Q4 RNA-seq in ``depmap/sample_24Q4`` (the real-format
150-gene sample), restricted to the genes both platforms measure. Models are trained on *microarray* (per-drug ridge,
as the project's baseline, and a small untuned multi-task neural network), 5-fold by cell line with the project's
folds; the held-out lines are then scored from their microarray and from their RNA-seq through each scaling path of
``neurix_core/features/scaling_modes.py`` (the code predictions use). Also: cohort scaling on cohorts of several sizes
and on single-tumour-type cohorts, and a tissue-of-origin lookup without expression.

Outputs the table, the cohort-size threshold (smallest cohort whose centring beats today's single-sample path for both
models and recovers at least half of its loss for ridge), and writes ``benchmarks/results/platform_transfer.{json,md}``.
Minutes on 2 cores::

    PYTHONPATH=$PWD python benchmarks/platform_transfer.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from neurix_core.data.dataset import build_dataset
from neurix_core.data.splits import cell_line_folds
from neurix_core.features.rnaseq_reference import RnaseqReference
from neurix_core.features.scaling import GeneScaler, within_sample_zscore
from neurix_core.features.scaling_modes import scale_cohort, scale_reference, scale_sample
from neurix_core.io.depmap import read_depmap_expression
from neurix_core.train.baselines import RIDGE_ALPHAS
from neurix_core.train.cv import per_drug_table
from neurix_core.train.fit import TargetScaler
from neurix_core.train.metrics import per_drug_spearman

RESULTS = Path(__file__).resolve().parent / "results"
RNASEQ_SAMPLE = "depmap/sample_24Q4/OmicsExpressionProteinCodingGenesTPMLogp1.csv.gz"
COHORT_SIZES = (5, 10, 25, 50, 100)
LINEAGE_COHORT_MIN = 8  # a single-tumour-type cohort needs this many held-out lines of one lineage
N_FOLDS = 5


def _ridge_weights(
    x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-drug ridge on the lines each drug was tested on, in primal form (few genes): for each alpha, weights
    (drugs × genes) and intercepts. Same estimator and penalty scale as ``train/baselines.py`` (kernel form)."""
    observed = np.isfinite(y)
    y0 = np.where(observed, y, 0.0)
    centre = y0.sum(axis=0) / np.maximum(observed.sum(axis=0), 1)
    gram = np.einsum("nd,ng,nh->dgh", observed.astype(np.float64), x, x)  # drugs × genes × genes
    moment = np.einsum("nd,ng->dg", np.where(observed, y0 - centre, 0.0), x)
    scale = float(np.mean((x**2).sum(axis=1)))  # mean diagonal of the Gram matrix, as the kernel form
    eye = np.eye(x.shape[1])
    return [
        (np.linalg.solve(gram + alpha * scale * eye, moment[:, :, None])[:, :, 0], centre) for alpha in alphas
    ]


def fit_ridge(train_x: np.ndarray, train_y: np.ndarray, cell_lines: list[str]):
    """Per-drug ridge with the penalty chosen on an inner split of the training lines (as the project's baseline)."""
    inner = cell_line_folds(cell_lines, 5, 0) == 0
    scores = [
        np.nanmean(per_drug_spearman(train_x[inner] @ w.T + c, train_y[inner]))
        for w, c in _ridge_weights(train_x[~inner], train_y[~inner], RIDGE_ALPHAS)
    ]
    alpha = RIDGE_ALPHAS[int(np.nanargmax(scores))]
    weights, centre = _ridge_weights(train_x, train_y, (alpha,))[0]
    return lambda x: x.astype(np.float64) @ weights.T + centre


def fit_mlp(train_x: np.ndarray, train_y: np.ndarray, seed: int = 0, epochs: int = 300):
    """A small multi-task network (two hidden layers, untuned), masked MSE over tested pairs."""
    torch.manual_seed(seed)
    x = torch.from_numpy(train_x.astype(np.float32))
    mask = torch.from_numpy(np.isfinite(train_y))
    y = torch.from_numpy(np.nan_to_num(train_y).astype(np.float32))
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, y.shape[1]),
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for batch in torch.randperm(x.shape[0], generator=generator).split(128):
            loss = (((net(x[batch]) - y[batch]) ** 2) * mask[batch]).sum() / mask[batch].sum().clamp(min=1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    net.eval()

    def predict(test_x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(test_x.astype(np.float32))).numpy()

    return predict


def chunks(rows: np.ndarray, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random cohorts of at least ``size`` lines covering ``rows`` (one cohort if there are fewer)."""
    return np.array_split(rng.permutation(rows), max(1, len(rows) // size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--repeats", type=int, default=3, help="random cohort draws per size")
    parser.add_argument("--mlp-epochs", type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread, no contention on a shared machine
    start = time.perf_counter()

    data = build_dataset(args.data_dir, ["GDSC1", "GDSC2"])
    rnaseq, _ = read_depmap_expression(args.data_dir / RNASEQ_SAMPLE)
    genes = [g for g in data.genes if g in set(rnaseq.columns)]
    paired = np.isin(data.cell_lines, rnaseq.index)
    data = data.select(cells=paired)
    data = data.select(drugs=np.isfinite(data.log_auc).sum(axis=0) >= 50)
    gene_cols = [data.genes.index(g) for g in genes]
    microarray = data.expression[:, gene_cols].astype(np.float64)  # within-sample z of 5,778 genes, then 53
    rna = rnaseq.loc[data.cell_lines, genes].to_numpy(np.float64)
    lineage = data.cell_info.reindex(data.cell_lines)["lineage"].fillna("unknown").to_numpy()
    n_lines, n_drugs = data.log_auc.shape
    print(f"{n_lines} paired cell lines, {len(genes)} shared genes, {n_drugs} drugs (≥50 lines)")

    folds = cell_line_folds(data.cell_lines, N_FOLDS, 0)
    models = ("ridge", "mlp")
    paths = ["microarray", "sample", "reference", "tissue_only", "microarray_cohort_25", "cohort_one_type"]
    paths += [f"cohort_{n}" for n in COHORT_SIZES]
    predictions = {(m, p): np.full((args.repeats, n_lines, n_drugs), np.nan) for m in models for p in paths}
    closest = {p: [] for p in ("microarray", "sample", "reference", "cohort_25", "cohort_50")}
    rng = np.random.default_rng(0)
    for fold in range(N_FOLDS):
        train, test = folds != fold, folds == fold
        test_rows = np.flatnonzero(test)
        train_lines = [data.cell_lines[i] for i in np.flatnonzero(train)]
        scaler = GeneScaler.fit(within_sample_zscore(microarray[train]))
        train_x = scale_sample(microarray[train], scaler).astype(np.float64)
        train_y = TargetScaler.fit(data.log_auc[train]).transform(data.log_auc[train]).astype(np.float64)
        reference = RnaseqReference.fit(rnaseq, genes, train_lines)
        assert reference is not None and reference.genes == genes
        inputs = {
            "microarray": scale_sample(microarray[test], scaler),
            "sample": scale_sample(rna[test], scaler),
            "reference": scale_reference(rna[test], scaler, reference, genes),
        }
        predictors = {"ridge": fit_ridge(train_x, train_y, train_lines), "mlp": fit_mlp(train_x, train_y)}
        with warnings.catch_warnings():  # a drug untested in a lineage: no lookup value (0 = the drug's mean)
            warnings.simplefilter("ignore", RuntimeWarning)
            by_lineage = {
                name: np.nanmean(train_y[lineage[train] == name], axis=0)
                for name in np.unique(lineage[train])
            }
        for i in test_rows:
            tissue = by_lineage.get(lineage[i], np.zeros(n_drugs))
            for model in models:
                predictions[(model, "tissue_only")][:, i] = np.nan_to_num(tissue)
        for model, predict in predictors.items():
            for path, x in inputs.items():
                predictions[(model, path)][:, test_rows] = predict(x)
        for repeat in range(args.repeats):
            cohort_inputs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for size in COHORT_SIZES:
                parts = chunks(test_rows, size, rng)
                rows = np.concatenate(parts)
                cohort_inputs[f"cohort_{size}"] = (rows, np.vstack([scale_cohort(rna[p]) for p in parts]))
                if size == 25:
                    cohort_inputs["microarray_cohort_25"] = (
                        rows,
                        np.vstack([scale_cohort(microarray[p]) for p in parts]),
                    )
            one_type = [
                test_rows[lineage[test_rows] == name]
                for name in np.unique(lineage[test_rows])
                if (lineage[test_rows] == name).sum() >= LINEAGE_COHORT_MIN
            ]
            if one_type:
                rows = np.concatenate(one_type)
                cohort_inputs["cohort_one_type"] = (rows, np.vstack([scale_cohort(rna[p]) for p in one_type]))
            for model, predict in predictors.items():
                for path, (rows, x) in cohort_inputs.items():
                    predictions[(model, path)][repeat, rows] = predict(x)
            if repeat == 0:
                positions = {r: k for k, r in enumerate(test_rows)}
                for name in ("cohort_25", "cohort_50"):
                    rows, x = cohort_inputs[name]
                    ordered = np.empty_like(x)
                    ordered[[positions[r] for r in rows]] = x
                    inputs[name] = ordered
        for path in closest:
            distance = ((inputs[path][:, None, :] - inputs["microarray"][None, :, :]) ** 2).sum(axis=2)
            closest[path].extend((distance.argmin(axis=1) == np.arange(len(test_rows))).tolist())
        print(f"fold {fold + 1}/{N_FOLDS} done ({time.perf_counter() - start:.0f} s)")

    one_type_rows = np.isfinite(predictions[("ridge", "cohort_one_type")][0, :, 0])
    results: dict = {"n_cell_lines": int(n_lines), "n_genes": len(genes), "n_drugs": int(n_drugs)}
    for model in models:
        for path in paths:
            rhos = [
                float(per_drug_table(data, predictions[(model, path)][r], folds)["rho"].mean())
                for r in range(args.repeats)
            ]
            results[f"{model}:{path}"] = round(float(np.mean(rhos)), 4)
        subset = np.where(one_type_rows[None, :, None], predictions[(model, "microarray")], np.nan)
        results[f"{model}:microarray_on_one_type_lines"] = round(
            float(per_drug_table(data, subset[0], folds)["rho"].mean()), 4
        )
    results["n_lines_one_type_cohorts"] = int(one_type_rows.sum())
    results["closest_own_microarray"] = {p: round(float(np.mean(v)), 3) for p, v in closest.items()}
    threshold = None
    loss = results["ridge:microarray"] - results["ridge:sample"]
    for size in COHORT_SIZES:
        ridge_ok = results[f"ridge:cohort_{size}"] >= results["ridge:sample"] + 0.5 * loss
        mlp_ok = results[f"mlp:cohort_{size}"] > results["mlp:sample"]
        if ridge_ok and mlp_ok:
            threshold = size
            break
    results["min_cohort_samples"] = threshold
    results["seconds"] = round(time.perf_counter() - start, 1)

    labels = {
        "microarray": "microarray (reference)",
        "sample": "RNA-seq, today's single-sample path (z within sample, microarray gene mean/sd)",
        "reference": "RNA-seq, per-gene mean/sd from the RNA-seq of the training lines (`reference`)",
        **{
            f"cohort_{n}": f"RNA-seq, cohort-centred on ≥{n} uploaded samples (`cohort`)"
            for n in COHORT_SIZES
        },
        "cohort_one_type": (
            f"RNA-seq, cohort-centred on single-tumour-type cohorts ({results['n_lines_one_type_cohorts']} lines; "
            f"microarray on the same lines: ridge {results['ridge:microarray_on_one_type_lines']:.3f}, "
            f"NN {results['mlp:microarray_on_one_type_lines']:.3f})"
        ),
        "microarray_cohort_25": "microarray, cohort-centred on ≥25 samples (cost of centring without a shift)",
        "tissue_only": "tissue-of-origin lookup, no expression",
    }
    order = ["microarray", "sample", "reference", *[f"cohort_{n}" for n in COHORT_SIZES]]
    order += ["cohort_one_type", "microarray_cohort_25", "tissue_only"]
    lines = [
        f"Platform transfer on {n_lines} paired cell lines, {len(genes)} shared genes, {n_drugs} drugs; models "
        f"trained on microarray, {N_FOLDS}-fold by cell line; cohort rows averaged over {args.repeats} draws.",
        "",
        "| test input | ridge mean per-drug ρ | small NN mean per-drug ρ | closest to own microarray |",
        "|---|---|---|---|",
    ]
    for path in order:
        near = results["closest_own_microarray"].get(path)
        lines.append(
            f"| {labels[path]} | {results[f'ridge:{path}']:.3f} | {results[f'mlp:{path}']:.3f} | "
            f"{'–' if near is None else f'{near:.0%}'} |"
        )
    lines += ["", f"Cohort threshold (MIN_COHORT_SAMPLES): {threshold}; {results['seconds']:.0f} s."]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "platform_transfer.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (RESULTS / "platform_transfer.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
