"""One command from data directory to a validated, shippable model bundle.

Steps: build the dataset → hold out a few example cell lines (shown in the dashboard beside their measured
responses) → 5-fold cell-line cross-validation of the hybrid model on the evaluation lines (per-drug ρ = the
reliability badge; the selection lines that chose its settings stay out), optionally its ridge/network parts and the
tissue lookup on the same folds and the external validation across labs → fit on all non-example lines → drug map →
bundle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from neurix_core.data.dataset import ResponseData, build_dataset, file_fingerprint
from neurix_core.data.drug_table import complete_drug_table
from neurix_core.data.layout import DataLayout
from neurix_core.explain.artifacts import explanation_artifacts
from neurix_core.model.bundle import save_bundle
from neurix_core.model.towers import TrainingConfig
from neurix_core.repurpose.drug_map import compute_drug_map
from neurix_core.train.cv import interaction_predictor
from neurix_core.train.evaluation import cross_validate_methods, summarise_methods
from neurix_core.train.external import external_validation
from neurix_core.train.fit import FittedModel, drug_fingerprints, fit
from neurix_core.train.linear import float16_storage_error
from neurix_core.train.platform_reference import build_rnaseq_reference
from neurix_core.train.protocol import choose_examples, selection_mask
from neurix_core.train.repeated_cv import read_repeated_cv, repeated_cv_block
from neurix_core.trust.artifacts import trust_from_cv, trust_summary

Log = Callable[[str], None]


class PhaseClock:
    """Wall and CPU seconds of each training phase, logged as they end and stored in the manifest, so the time
    budget of ``neurix train`` is measured where it is spent (``benchmarks/train_time.py`` prints it)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._start = self._wall

    def lap(self, phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[phase] = round(wall - self._wall, 2)
        self.cpu[phase] = round(cpu - self._cpu, 2)
        self._wall, self._cpu = wall, cpu
        self.log(f"[{phase}: {self.wall[phase]:.0f} s; {wall - self._start:.0f} s since start]")

    def record(self) -> dict:
        return {
            "wall_seconds": self.wall,
            "cpu_seconds": self.cpu,
            "total_wall_seconds": round(sum(self.wall.values()), 2),
            "total_cpu_seconds": round(sum(self.cpu.values()), 2),
            "threads": torch.get_num_threads(),
        }


DEFAULT_ARCHITECTURE: dict = {}


def example_tables(
    data: ResponseData, examples: list[str], fitted: FittedModel
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Example profiles (samples × genes) and their measured responses on the model's z scale."""
    rows = [data.cell_lines.index(c) for c in examples]
    profiles = pd.DataFrame(
        data.expression[rows], index=pd.Index(examples, name="sample"), columns=data.genes
    )
    measured = fitted.target_scaler.transform(data.log_auc[rows])
    info = data.cell_info.reindex(examples)
    records = []
    for i, sample in enumerate(examples):
        for j in np.flatnonzero(np.isfinite(measured[i])):
            records.append(
                {
                    "sample": sample,
                    "cell_line_name": info.iloc[i]["cell_line_name"],
                    "lineage": info.iloc[i]["lineage"],
                    "primary_disease": info.iloc[i]["primary_disease"],
                    "drug_key": data.drugs.iloc[j]["drug_key"],
                    "measured_z_log_auc": float(measured[i, j]),
                }
            )
    return profiles.astype(np.float32), pd.DataFrame(records)


def run_validation(
    data: ResponseData,
    full: ResponseData | None,
    cv_folds: int,
    training: TrainingConfig,
    architecture: dict,
    baseline: bool,
    external: bool,
    log: Log = print,
    keep: dict | None = None,
    clock: PhaseClock | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Cell-line CV of the shipped model type on the evaluation lines (the selection lines stay out: they chose the
    shares of the hybrid's parts and epochs), with its network and ridge parts and the tissue lookup on the same
    folds, and optionally GDSC↔PRISM external validation.

    Returns the model-card dictionary and the drug table with per-drug ``cv_rho`` (pooled out-of-fold ρ; with
    ``baseline`` also ``ridge_rho``, ``network_rho`` and ``tissue_rho``). ``full`` must hold GDSC1/GDSC2 and PRISM
    when ``external`` is set (and no example line). ``keep`` (optional)
    receives the CV's CrossValidationResult as ``cv`` (out-of-fold predictions, for the trust calibration), its
    ``folds``, fold ``models`` (for discovery and explanation stability) and the evaluation ``data`` they index.
    """
    chosen = selection_mask(data.cell_lines)
    evaluation = data.select(cells=~chosen)
    validation: dict = {
        "screens": sorted(set(data.drugs["screen"])),
        "n_cell_lines": len(data.cell_lines),
        "n_pairs": data.n_pairs,
        "n_selection_cell_lines": int(chosen.sum()),
        "n_evaluation_cell_lines": len(evaluation.cell_lines),
    }
    drugs = data.drugs.copy()
    drugs["n_cell_lines"] = np.isfinite(data.log_auc).sum(axis=0)
    drugs["cv_rho"] = np.nan
    if cv_folds >= 2:
        runs = cross_validate_methods(
            evaluation,
            training,
            architecture,
            n_folds=cv_folds,
            on_fold=lambda fold, seconds: log(
                f"cross-validation fold {fold + 1}/{cv_folds} done ({seconds:.0f} s)"
            ),
        )
        result = runs.result  # out-of-fold predictions of the shipped model type (cells × drugs)
        protocol = summarise_methods(evaluation, [runs])
        rho = protocol.pop("per_drug_rho")
        if keep is not None:
            keep.update(cv=result, folds=result.folds, models=result.fold_models, data=evaluation)
        validation["cross_validation"] = {
            "n_folds": cv_folds,
            "seconds": result.seconds,
            "summary": protocol["model"]["summary"],
            "rho": "pooled out-of-fold per-drug Spearman ρ",
        }
        validation["protocol"] = protocol
        drugs["cv_rho"] = rho["model"]
        log(
            f"cross-validation: mean per-drug ρ {protocol['model']['summary']['all']['mean_rho']:.3f}, "
            f"{protocol['model']['summary']['all']['n_rho_gt_0.2']} of "
            f"{protocol['model']['summary']['all']['n_drugs']} drugs with ρ > 0.2"
        )
        if baseline and "ridge" in rho:
            paired = protocol["paired"]["model_vs_ridge"]
            validation["ridge_baseline"] = {
                "summary": protocol["ridge"]["summary"],
                "model_wins": paired["wins"],
                "n_compared": paired["n_drugs"],
                "alpha": "per drug, closed-form leave-one-out on the training folds",
            }
            for name in ("ridge", "network", "tissue"):
                drugs[f"{name}_rho"] = rho[name]
            log(
                f"ridge baseline: mean per-drug ρ {protocol['ridge']['summary']['all']['mean_rho']:.3f}; "
                f"model wins on {paired['wins']} of {paired['n_drugs']} drugs; tissue lookup "
                f"{protocol['tissue']['summary']['all']['mean_rho']:.3f}"
            )
    if clock is not None:
        clock.lap("cross-validation and baselines")
    if external and full is not None:
        predictor = interaction_predictor(training, architecture)
        validation["external"] = {}
        for name, (table, summary) in external_validation(full, predictor).items():
            validation["external"][name] = {"summary": summary, "per_drug": table.to_dict(orient="records")}
            log(
                f"external {name}: {summary.get('all', {}).get('n_drugs', 0)} shared drug pairs, "
                f"mean ρ {summary.get('all', {}).get('mean_rho', float('nan')):.3f}"
            )
    if clock is not None and external and full is not None:
        clock.lap("external validation")
    return validation, drugs


def training_platform(data_dir: str | Path, expression: str = "auto") -> str:
    """The expression platform a model trained from ``data_dir`` sees: DepMap RNA-seq or GDSC microarray."""
    kind, _ = DataLayout(Path(data_dir)).expression_source(expression)
    return "rnaseq" if kind == "depmap_expression" else "microarray"


def train_bundle(
    data_dir: str | Path,
    out: str | Path,
    screens: Sequence[str] = ("GDSC1", "GDSC2"),
    cv_folds: int = 5,
    training: TrainingConfig | None = None,
    architecture: dict | None = None,
    baseline: bool = False,
    external: bool = False,
    log: Log = print,
    progress: Callable[[int, int, float], None] | None = None,
    expression: str = "auto",
    repeated_cv: str | Path | None = None,
) -> Path:
    """``expression``: auto (GDSC microarray if present, else DepMap RNA-seq), gdsc or depmap. ``repeated_cv``: a
    ``benchmarks/cross_validation.py`` results file of this model and data, copied into the model card (checked
    before training starts)."""
    training = training or TrainingConfig()
    clock = PhaseClock(log)
    repeated_results = read_repeated_cv(repeated_cv, training) if repeated_cv else None
    architecture = architecture if architecture is not None else DEFAULT_ARCHITECTURE
    screens = [s.upper() for s in screens]
    load_screens = sorted(set(screens) | ({"GDSC1", "GDSC2", "PRISM"} if external else set()))
    platform = training_platform(data_dir, expression)
    full = build_dataset(data_dir, load_screens, expression_source=expression)
    data = full.select(drugs=full.screen_mask(screens))
    data = data.select(cells=np.isfinite(data.log_auc).any(axis=1))
    log(
        f"dataset: {len(data.cell_lines)} cell lines × {len(data.drugs)} drugs, {data.n_pairs:,} pairs, "
        f"{len(data.genes)} genes"
    )
    examples = choose_examples(data)
    is_example = np.isin(data.cell_lines, examples)
    model_data = data.select(cells=~is_example)
    repeated = (
        repeated_cv_block(repeated_results, model_data.source_fingerprint) if repeated_results else None
    )
    fingerprints = drug_fingerprints(model_data)
    full = full.select(cells=~np.isin(full.cell_lines, examples))  # out of external training too
    clock.lap("data")
    cv_keep: dict = {}
    validation, drugs = run_validation(
        model_data, full, cv_folds, training, architecture, baseline, external, log, keep=cv_keep, clock=clock
    )
    if repeated is not None:
        validation["repeated_cv"] = repeated
    cv_data = cv_keep.get("data", model_data)  # the evaluation lines the CV ran on (selection lines excluded)
    writers, biology = explanation_artifacts(cv_data, cv_keep, drugs, log)
    if biology is not None:
        validation["biology_check"] = biology
    clock.lap("discovery and stability members")
    log("fitting the final model on all non-example cell lines")
    fitted = fit(model_data, training, architecture, fingerprints=fingerprints, progress=progress)
    profiles, responses = example_tables(data, examples, fitted)
    drugs = complete_drug_table(drugs, fitted.target_scaler.mean, fitted.target_scaler.std)
    clock.lap("final model")
    # the UMAP (≈ 20 s, mostly numba compiling its kernels on one core) runs beside the single-threaded steps below
    log("computing the drug map (UMAP of drug latent vectors) in the background")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drug-map") as background:
        drug_map_job = background.submit(compute_drug_map, fitted.model, drugs)
        reference, reference_path = build_rnaseq_reference(
            data_dir, platform, model_data.genes, model_data.cell_lines, log
        )
        clock.lap("RNA-seq reference")
        fingerprint = dict(model_data.source_fingerprint)
        if reference_path is not None:
            fingerprint.update(file_fingerprint([reference_path]))
        trust = None
        if "cv" in cv_keep:
            log(
                "calibrating intervals, hit rates and the applicability domain on the out-of-fold predictions"
            )
            trust = trust_from_cv(cv_data, cv_keep["cv"], fitted, drugs)
            log(trust_summary(trust))
        clock.lap("trust calibration")
        extra = {"example_cell_lines": examples, "expression_platform": platform}
        if fitted.linear is not None:
            error = float16_storage_error(
                fitted.linear, fitted.linear_weight, fitted.gene_scaler.transform(model_data.expression)
            )
            extra["linear_float16_max_abs_change"] = error
            log(
                f"linear part stored as float16: predictions change by at most {error:.2e} on the training lines"
            )
        clock.lap("float16 check")
        drug_map = drug_map_job.result()
    clock.lap("drug map (what remained of it)")
    extra["training_time"] = clock.record()  # the write itself (a few seconds) is not included
    return save_bundle(
        out,
        fitted,
        model_data.genes,
        drugs,
        validation,
        fingerprint,
        screens,
        examples=profiles,
        example_responses=responses,
        drug_map=drug_map,
        extra_manifest=extra,
        rnaseq_reference=reference,
        trust=trust,
        writers=writers,
    )
