"""The ``neurix`` command: data summary, training, prediction and explanation from the shell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from neurix_core.errors import NeurixError

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _progress_bar(total_label: str):
    from tqdm import tqdm

    bar: dict[str, tqdm] = {}

    def update(epoch: int, epochs: int, loss: float) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=epochs, desc=total_label, unit="epoch", file=sys.stderr)
        bar["bar"].update(1)
        bar["bar"].set_postfix(loss=f"{loss:.3f}")
        if epoch == epochs:
            bar["bar"].close()
            bar.clear()

    return update


def cmd_data_summary(args: argparse.Namespace) -> None:
    import pandas as pd

    from neurix_core.data.summary import data_summary

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(data_summary(args.data_dir).to_string(index=False))


def cmd_train(args: argparse.Namespace) -> None:
    from neurix_core.model.towers import TrainingConfig
    from neurix_core.train.pipeline import train_bundle

    training = TrainingConfig(**({"epochs": args.epochs} if args.epochs else {}), seed=args.seed)
    out = train_bundle(
        args.data_dir,
        args.out,
        screens=[s.strip() for s in args.screens.split(",") if s.strip()],
        cv_folds=args.cv,
        training=training,
        baseline=args.baseline,
        external=args.external,
        log=lambda message: print(message, file=sys.stderr),
        progress=_progress_bar("final model"),
    )
    print(f"bundle written to {out}")


def _load(args: argparse.Namespace):
    from neurix_core.api import Neurix

    neurix = Neurix.load(args.bundle)
    profile = neurix.read_profile(args.input, values=args.values)
    model_input = neurix.prepare(profile)
    print(
        f"{args.input}: {len(model_input.samples)} sample(s), {profile.id_type} ids, values {profile.value_scale}, "
        f"{profile.orientation}; model genes covered: "
        + ", ".join(f"{s} {c:.0%}" for s, c in zip(model_input.samples, model_input.coverage, strict=True)),
        file=sys.stderr,
    )
    for warning in profile.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return neurix, model_input


def cmd_predict(args: argparse.Namespace) -> None:
    neurix, model_input = _load(args)
    table = neurix.predict(model_input)
    columns = ["sample", "screen", "drug_id", "drug_name", "drug_class", "z_log_auc", "cv_rho"]
    table[columns].to_csv(args.out, index=False)
    print(f"{len(table)} predictions written to {args.out}", file=sys.stderr)


def cmd_explain(args: argparse.Namespace) -> None:
    neurix, model_input = _load(args)
    drugs = [d.strip() for d in args.drugs.split(",")] if args.drugs else None
    table = neurix.explain(model_input, drugs=drugs, top=args.top)
    table.to_csv(args.out, index=False)
    print(f"{len(table)} gene relevances written to {args.out}", file=sys.stderr)


def cmd_cohort(args: argparse.Namespace) -> None:
    from neurix_core.cohort import run_cohort

    result = run_cohort(
        args.input,
        args.out,
        bundle_dir=args.bundle,
        scheduler=args.scheduler,
        n_workers=args.workers,
        explain_top=args.explain_top,
        level=args.level,
        values=args.values,
        layer=args.layer,
        partition_size=args.partition_size,
        group_by=args.group_by,
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    skipped = f", {result.n_skipped} partition(s) already done" if result.n_skipped else ""
    print(
        f"{result.n_predicted:,} of {result.n_samples:,} samples predicted ({result.n_failed:,} refused, see "
        f"quality/), values {result.value_scale}, {result.n_partitions} partition(s){skipped}, "
        f"{result.seconds:.1f} s → {result.h5ad or result.out}",
        file=sys.stderr,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurix", description="Explainable drug-response prediction (NeurixAI)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="inspect a data directory").add_subparsers(
        dest="data_command", required=True
    )
    summary = data.add_parser("summary", help="counts per screen")
    summary.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    summary.set_defaults(func=cmd_data_summary)

    train = commands.add_parser("train", help="cross-validate and train a model bundle")
    train.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    train.add_argument("--screens", default="GDSC1,GDSC2", help="comma-separated: GDSC1,GDSC2,PRISM")
    train.add_argument("--cv", type=int, default=5, help="folds of cell-line cross-validation (0 = none)")
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--baseline", action="store_true", help="also score per-drug ridge on the same folds")
    train.add_argument("--external", action="store_true", help="also run GDSC↔PRISM external validation")
    train.set_defaults(func=cmd_train)

    for name, func, help_text in (
        ("predict", cmd_predict, "predict drug response for expression profiles"),
        ("explain", cmd_explain, "gene relevances (LRP) for profiles and drugs"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "--bundle", type=Path, default=None, help="model bundle (default: the shipped model)"
        )
        sub.add_argument("--input", type=Path, required=True, help="expression matrix (csv/tsv/txt/xlsx)")
        sub.add_argument("--values", default="auto", choices=["auto", "zscore", "log2tpm", "tpm", "counts"])
        sub.add_argument("--out", type=Path, required=True)
        if name == "explain":
            sub.add_argument(
                "--drugs", default=None, help="comma-separated drug names/ids/keys (default: all)"
            )
            sub.add_argument("--top", type=int, default=20, help="genes per (sample, drug); 0 = all")
        sub.set_defaults(func=func)

    cohort = commands.add_parser(
        "cohort", help="predict (and explain) a whole cohort on Dask, resumable, into partitioned Parquet"
    )
    cohort.add_argument(
        "--input", type=Path, required=True, help=".h5ad (read lazily), .parquet, or a csv/tsv/txt/xlsx table"
    )
    cohort.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output directory (partitioned Parquet; rerun to resume), or FILE.h5ad for an in-memory AnnData",
    )
    cohort.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped model)")
    cohort.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address (tcp://host:8786); default: a local cluster on all cores; 'inline': no Dask",
    )
    cohort.add_argument(
        "--workers", type=int, default=None, help="local cluster worker processes (default: cores)"
    )
    cohort.add_argument(
        "--explain-top",
        type=int,
        default=0,
        help="also write the top K genes (LRP) per (sample, drug); 0 = none",
    )
    cohort.add_argument(
        "--level",
        default=None,
        choices=["compound", "screen"],
        help="one row per compound or per screen entry (default: as `neurix predict`)",
    )
    cohort.add_argument("--values", default="auto", choices=["auto", "zscore", "log2tpm", "tpm", "counts"])
    cohort.add_argument("--layer", default=None, help=".h5ad layer to read instead of X (e.g. counts)")
    cohort.add_argument(
        "--partition-size", type=int, default=None, help="samples per task (default: by memory)"
    )
    cohort.add_argument(
        "--group-by", default=None, help="sample annotation (e.g. an obs column) for per-group drug summaries"
    )
    cohort.set_defaults(func=cmd_cohort)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "top", None) == 0:
        args.top = None
    try:
        args.func(args)
    except NeurixError as exc:
        print(f"neurix: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
