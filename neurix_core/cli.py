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
    print(
        f"{len(table)} gene relevances written to {args.out} (relevance = the gene's share of the predicted z log "
        "AUC; over all genes plus bias_share they add up to prediction)",
        file=sys.stderr,
    )
    from neurix_core.explain.readable import missing_targets_message

    info = neurix.bundle.drugs.set_index("drug_key").loc[table["drug_key"].unique()].reset_index()
    message = missing_targets_message(info, neurix.bundle.genes)
    if message:
        print(message, file=sys.stderr)


def cmd_discover(args: argparse.Namespace) -> None:
    import pandas as pd

    from neurix_core.api import Neurix

    neurix = Neurix.load(args.bundle)
    table = neurix.discover(args.drug, top=args.top)
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"{len(table)} genes written to {args.out}", file=sys.stderr)
    shown = table.assign(
        consistency=table["consistency"].map("{:.0%}".format),
        mean_relevance=table["mean_relevance"].map("{:+.4f}".format),
    )[
        [
            "drug_key",
            "discovery_rank",
            "gene",
            "consistency",
            "mean_relevance",
            "association",
            "fold_top",
            "known",
        ]
    ]
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_colwidth", 40):
        print(shown.to_string(index=False))
    print(
        "consistency: share of held-out cell lines in which the gene is among the top 1% of genes by |relevance| "
        "(CV fold models, lines they never saw); fold_top: fold models with the gene in their top 1%; known: "
        "annotated target or curated marker (sources in the CSV); anything else is a candidate, not a finding.",
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

    discover = commands.add_parser(
        "discover", help="genes that consistently drive a drug's predictions on held-out cell lines"
    )
    discover.add_argument("--drug", required=True, help="drug name, id or key (e.g. Cisplatin, GDSC2:1005)")
    discover.add_argument("--top", type=int, default=30, help="genes per drug; 0 = all stored")
    discover.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    discover.add_argument(
        "--bundle", type=Path, default=None, help="model bundle (default: the shipped model)"
    )
    discover.set_defaults(func=cmd_discover)

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
