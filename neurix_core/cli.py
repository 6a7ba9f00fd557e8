"""The ``neurix`` command: data summary, training, prediction and explanation from the shell.

Exit codes: 0 success; 2 a problem the user can fix (bad arguments, an unreadable or invalid input file, model
bundle or output path), with a one-line message; 1 an internal error (one line naming its type; set
``NEURIX_DEBUG=1`` for the traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from neurix_core.errors import NeurixError
from neurix_core.features.scaling_modes import MIN_COHORT_SAMPLES, PLATFORMS, SCALING_MODES

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
        expression=args.expression,
        repeated_cv=args.repeated_cv,
        log=lambda message: print(message, file=sys.stderr),
        progress=_progress_bar("final model"),
    )
    print(f"bundle written to {out}")


FLOAT_FORMAT = "%.4f"  # four decimals: z -1.2790, AUC 0.8116, ρ 0.4012 (the model is not more precise)
DEFAULT_EXPLAIN_TOP_DRUGS = 5


def _load(args: argparse.Namespace):
    """Read the input file, print what was detected and the data quality per sample, refuse low coverage."""
    from neurix_core.api import Neurix

    neurix = Neurix.load(args.bundle)
    profile = neurix.read_profile(args.input, values=args.values)
    quality = neurix.quality(profile)
    detection = profile.scale_detection
    print(
        f"{args.input}: {len(quality.samples)} sample(s), {profile.id_type} ids, {profile.orientation}; "
        f"{profile.n_mapped_genes:,} of {profile.n_input_genes:,} gene labels recognised",
        file=sys.stderr,
    )
    if detection is not None:
        print(f"values: {detection.summary()}", file=sys.stderr)
    for sample in quality.samples:
        print(f"  {sample.message()}", file=sys.stderr)
    for warning in profile.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if quality.unrecognised_labels:
        print(
            f"{len(quality.unrecognised_labels):,} unrecognised gene label(s) (first: "
            f"{', '.join(quality.unrecognised_labels[:5])}); `--unrecognised FILE` writes them all",
            file=sys.stderr,
        )
    if getattr(args, "unrecognised", None):
        args.unrecognised.write_bytes(quality.unrecognised_csv())
    refusal = quality.refusal_message()
    if refusal:
        from neurix_core.errors import ProfileError

        raise ProfileError(refusal)
    model_input = neurix.prepare(
        profile, scaling=getattr(args, "scaling", "auto"), platform=getattr(args, "platform", "auto")
    )
    if model_input.scaling is not None:
        print(model_input.scaling.describe(), file=sys.stderr)
    return neurix, model_input


def cmd_predict(args: argparse.Namespace) -> None:
    from neurix_core.predict_levels import COMPOUND_COLUMNS, SCREEN_COLUMNS

    neurix, model_input = _load(args)
    table = neurix.predict(model_input, level=args.level)
    documented = COMPOUND_COLUMNS if args.level == "compound" else SCREEN_COLUMNS
    extra = [c for c in (*TRUST_COLUMNS, *PLATFORM_COLUMNS) if c in table.columns and c not in documented]
    table[[*documented, *extra]].to_csv(args.out, index=False, float_format=FLOAT_FORMAT)
    unit = "compound" if args.level == "compound" else "screen entry"
    print(f"{len(table)} predictions (one per sample and {unit}) written to {args.out}", file=sys.stderr)
    _report_domain(neurix, model_input)


TRUST_COLUMNS = ("percentile", "interval_low", "interval_high", "in_domain", "domain_distance", "hit_rate")
PLATFORM_COLUMNS = ("platform", "scaling", "scaling_benchmark_rho", "platform_flag")


def _report_matches(neurix, drugs: list[str]) -> None:
    """Say what each --drugs query matched, so a typo or a surprise synonym is visible."""
    matches = neurix.resolve_drugs(drugs)
    for query, rows in matches.groupby("query", sort=False):
        entries = ", ".join(f"{s} #{i}" for s, i in zip(rows["screen"], rows["drug_id"], strict=True))
        print(
            f"--drugs {query!r} → {rows['compound_name'].iloc[0]} ({rows['compound_id'].iloc[0]}): {entries}",
            file=sys.stderr,
        )


def _report_domain(neurix, model_input) -> None:
    """Say on stderr which samples are outside the training domain (or that the bundle cannot tell)."""
    from neurix_core.trust.artifacts import NOT_AVAILABLE

    if not neurix.has_trust:
        print(f"note: {NOT_AVAILABLE}", file=sys.stderr)
        return
    for row in neurix.domain(model_input).itertuples():
        if not row.in_domain:
            print(
                f"warning: sample {row.sample} is outside the training domain (distance {row.domain_distance:.3f} "
                f"> {row.threshold:.3f}); its predictions are extrapolations",
                file=sys.stderr,
            )


def cmd_neighbours(args: argparse.Namespace) -> None:
    neurix, model_input = _load(args)
    table = neurix.neighbours(model_input, drug=args.drug, k=args.k, tumour_type=args.tumour_type)
    for sample, warning in table.drop_duplicates("sample")[["sample", "lineage_warning"]].itertuples(
        index=False
    ):
        if isinstance(warning, str):
            print(f"warning: {sample}: {warning}", file=sys.stderr)
    if args.out is None:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.drop(columns=["lineage_warning"]).to_string(index=False))
    else:
        table.to_csv(args.out, index=False)
        print(f"{len(table)} neighbour rows written to {args.out}", file=sys.stderr)
    _report_domain(neurix, model_input)


def cmd_explain(args: argparse.Namespace) -> None:
    neurix, model_input = _load(args)
    samples = [s.strip() for s in args.samples.split(",")] if args.samples else None
    if args.drugs:
        drugs = [d.strip() for d in args.drugs.split(",") if d.strip()]
        _report_matches(neurix, drugs)
        table = neurix.explain(model_input, drugs=drugs, top=args.top, samples=samples, level=args.level)
    else:  # each sample's own top predicted compounds: works for any number of samples
        table = _explain_top(neurix, model_input, samples, args.top_drugs, args.top)
    table.to_csv(args.out, index=False, float_format=FLOAT_FORMAT)
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
        table.to_csv(args.out, index=False, float_format=FLOAT_FORMAT)
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


def _explain_top(neurix, model_input, samples: list[str] | None, n_drugs: int, top: int | None):
    """Explain, for every sample, its ``n_drugs`` most sensitive compound-level predictions."""
    import pandas as pd

    predictions = neurix.predict(model_input)
    if samples:
        predictions = predictions[predictions["sample"].isin(samples)]
    chosen = predictions[predictions["rank"] <= n_drugs]
    print(
        f"explaining each sample's {n_drugs} most sensitive compounds ({len(chosen)} pairs; "
        "choose others with --drugs)",
        file=sys.stderr,
    )
    parts = [
        neurix.explain(
            model_input, drugs=rows["drug_key"].tolist(), top=top, samples=[sample], level="screen"
        )
        for sample, rows in chosen.groupby("sample", sort=False)
    ]
    table = pd.concat(parts, ignore_index=True)
    names = neurix.bundle.drugs.set_index("drug_key")["compound_name"]
    table["drug_name"] = table["drug_key"].map(names)
    return table


def cmd_drugs(args: argparse.Namespace) -> None:
    from neurix_core.api import Neurix

    table = Neurix.load(args.bundle).drugs()
    if args.drug_class:
        table = table[table["drug_class"] == args.drug_class]
    if args.search:
        text = table[["compound_id", "drug_name", "targets", "entries"]].astype(str).agg(" ".join, axis=1)
        table = table[text.str.contains(args.search, case=False, regex=False)]
    if args.out:
        table.to_csv(args.out, index=False, float_format=FLOAT_FORMAT)
        print(f"{len(table)} compounds written to {args.out}", file=sys.stderr)
        return
    import pandas as pd

    shown = table.drop(columns=["best_entry"]).rename(columns={"cv_rho": "rho"})
    with pd.option_context("display.width", 160, "display.max_rows", None, "display.max_colwidth", 40):
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


def file_speak(message: str) -> str:
    """Shared messages are written for the dashboard's uploads; on the command line they speak of files."""
    message = re.sub(r"\bre-upload\b", "run again", message)
    message = re.sub(r"\b(the|an?) upload\b", lambda m: f"{m.group(1)} input file", message, flags=re.I)
    message = re.sub(r"\buploaded\b", "input", message)
    message = re.sub(r"\bupload\b", "use", message)
    message = re.sub(r"\bUpload\b", "Use", message)
    return message


def cmd_report(args: argparse.Namespace) -> None:
    """Case fields go into the file only: never printed, never logged."""
    import datetime as dt

    from neurix_core.api import Neurix
    from neurix_core.report.case import CaseDetails

    suffix = args.out.suffix.lower()
    fmt = {".pdf": "pdf", ".html": "html", ".htm": "html"}.get(suffix)
    if fmt is None:
        raise NeurixError(f"--out must end in .pdf or .html (got {suffix or 'no extension'})")
    try:
        date = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(dt.UTC).date()
    except ValueError as exc:
        raise NeurixError("--date must be a date like 2025-03-31") from exc
    case = CaseDetails(
        specimen=args.specimen or "",
        tumour_type=args.tumour_type or "",
        requester=args.requester or "",
        date=date,
    )
    neurix = Neurix.load(args.bundle)
    profile = neurix.read_profile(args.input, values=args.values)
    for warning in profile.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    drugs = [d.strip() for d in args.drugs.split(",") if d.strip()] if args.drugs else None
    data = neurix.report(
        profile,
        args.sample,
        fmt,
        case=case,
        drugs=drugs,
        top_n=args.top,
        genes_per_drug=args.genes,
        paper=args.paper,
    )
    args.out.write_bytes(data)
    print(f"{fmt.upper()} report ({len(data) / 1024:.0f} KiB) written to {args.out}", file=sys.stderr)


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
        prog="neurix",
        description="Explainable drug-response prediction (NeurixAI) from tumour gene expression. Research use "
        "only: trained on cancer cell lines (GDSC microarray expression), not validated on patients.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="inspect a data directory").add_subparsers(
        dest="data_command", required=True
    )
    summary = data.add_parser("summary", help="counts per screen")
    summary.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with the official data files"
    )
    summary.set_defaults(func=cmd_data_summary)

    train = commands.add_parser("train", help="cross-validate and train a model bundle")
    train.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with the official data files"
    )
    train.add_argument("--screens", default="GDSC1,GDSC2", help="comma-separated: GDSC1,GDSC2,PRISM")
    train.add_argument("--cv", type=int, default=5, help="folds of cell-line cross-validation (0 = none)")
    train.add_argument("--out", type=Path, required=True, help="folder to write the bundle to")
    train.add_argument("--epochs", type=int, default=None, help="training epochs (default: the model's)")
    train.add_argument("--seed", type=int, default=0, help="random seed (folds, initialisation)")
    train.add_argument("--baseline", action="store_true", help="also score per-drug ridge on the same folds")
    train.add_argument("--external", action="store_true", help="also run GDSC↔PRISM external validation")
    train.add_argument(
        "--expression",
        default="auto",
        choices=["auto", "gdsc", "depmap"],
        help="expression to train on: GDSC microarray (auto, if present) or DepMap RNA-seq (OmicsExpression…)",
    )
    train.add_argument(
        "--repeated-cv",
        type=Path,
        default=None,
        help="benchmarks/results/cross_validation.json of this model's settings and data: shown on the model card",
    )
    train.set_defaults(func=cmd_train)

    drugs = commands.add_parser("drugs", help="list the compounds the model scores, with ids and reliability")
    drugs.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped model)")
    drugs.add_argument(
        "--class",
        dest="drug_class",
        default=None,
        choices=["targeted", "chemotherapy", "non-oncology", "uncharacterised"],
        help="only this drug class",
    )
    drugs.add_argument("--search", default=None, help="only compounds whose name, id or target contains this")
    drugs.add_argument("--out", type=Path, default=None, help="write a CSV instead of printing a table")
    drugs.set_defaults(func=cmd_drugs)

    from neurix_core.io.units import VALUE_SCALES

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
        sub.add_argument(
            "--input",
            type=Path,
            required=True,
            help="expression file (csv/tsv/txt/xlsx, optionally .gz): genes × samples or samples × genes",
        )
        sub.add_argument(
            "--values",
            default="auto",
            choices=["auto", *VALUE_SCALES],
            help="value scale of the file (default: detected and explained; a contradicting choice is warned)",
        )
        sub.add_argument("--out", type=Path, required=True, help="CSV file to write")
        sub.add_argument(
            "--level",
            default="compound",
            choices=["compound", "screen"],
            help="one row per compound (consensus of its GDSC1/GDSC2 entries, default) or per screen entry",
        )
        sub.add_argument(
            "--unrecognised",
            type=Path,
            default=None,
            help="also write the unrecognised gene labels to this CSV",
        )
        sub.add_argument(
            "--scaling",
            default="auto",
            choices=list(SCALING_MODES),
            help="sample: within-sample z + training gene scaler; cohort: per-gene centring on this file's "
            f"samples (≥{MIN_COHORT_SAMPLES}); reference: the bundle's RNA-seq reference; auto: best available",
        )
        sub.add_argument(
            "--platform",
            default="auto",
            choices=list(PLATFORMS),
            help="platform of the file (default: detected from the values; shown beside the predictions)",
        )
        if name == "explain":
            sub.add_argument(
                "--drugs",
                default=None,
                help="comma-separated drug names, synonyms, compound ids or keys (default: each sample's "
                "top compounds, see --top-drugs); what each matched is printed",
            )
            sub.add_argument(
                "--top-drugs",
                type=int,
                default=DEFAULT_EXPLAIN_TOP_DRUGS,
                help="without --drugs: explain this many most sensitive compounds per sample",
            )
            sub.add_argument("--samples", default=None, help="comma-separated sample names (default: all)")
            sub.add_argument("--top", type=int, default=20, help="genes per (sample, drug); 0 = all")
        sub.set_defaults(func=func)

    near = commands.add_parser("neighbours", help="the most similar training cell lines for each sample")
    near.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped model)")
    near.add_argument("--input", type=Path, required=True, help="expression matrix (csv/tsv/txt/xlsx)")
    near.add_argument(
        "--values",
        default="auto",
        choices=["auto", *VALUE_SCALES],
        help="value scale of the file (default: detected)",
    )
    near.add_argument("--drug", default=None, help="show the neighbours' measured response to this drug")
    near.add_argument("--k", type=int, default=5, help="neighbours per sample")
    near.add_argument("--tumour-type", default=None, help="warn when the neighbours' lineage disagrees")
    near.add_argument("--out", type=Path, default=None, help="CSV file (default: print a table)")
    near.set_defaults(func=cmd_neighbours)
    report = commands.add_parser(
        "report", help="a tumour-board report of one sample (PDF or HTML, chosen by --out's extension)"
    )
    report.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped model)")
    report.add_argument("--input", type=Path, required=True, help="expression matrix (csv/tsv/txt/xlsx)")
    report.add_argument(
        "--values",
        default="auto",
        choices=["auto", *VALUE_SCALES],
        help="value scale of the file (default: detected and explained)",
    )
    report.add_argument("--sample", default=None, help="sample id (needed when the file has several samples)")
    report.add_argument("--out", type=Path, required=True, help="report.pdf or report.html")
    report.add_argument(
        "--specimen", default=None, help="specimen / case id printed on the report (not logged)"
    )
    report.add_argument("--tumour-type", default=None, help="tumour type printed on the report")
    report.add_argument("--requester", default=None, help="who requested the report")
    report.add_argument("--date", default=None, help="case date, YYYY-MM-DD (default: today)")
    report.add_argument("--drugs", default=None, help="comma-separated drugs to explain (default: the top 5)")
    report.add_argument("--top", type=int, default=25, help="drugs in the detailed table")
    report.add_argument("--genes", type=int, default=8, help="genes per drug and direction")
    report.add_argument("--paper", default="a4", choices=["a4", "letter"], help="page size of the PDF")
    report.set_defaults(func=cmd_report)
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
        help="Dask scheduler address (tcp://host:8786); default: a local Dask cluster on all cores; 'inline': "
        "no Dask (partitions on threads of this process)",
    )
    cohort.add_argument(
        "--workers",
        type=int,
        default=None,
        help="partitions at once on this machine (threads of the local Dask worker, or of --scheduler inline; "
        "default: cores)",
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
    cohort.add_argument(
        "--values", default="auto", choices=["auto", *VALUE_SCALES], help="value scale (default: detected)"
    )
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
        print(f"neurix: error: {file_speak(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output path that cannot be written, a disk that is full, ...
        where = f" ({Path(exc.filename).name})" if getattr(exc, "filename", None) else ""
        print(f"neurix: error: {exc.strerror or str(exc) or type(exc).__name__}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurix: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("NEURIX_DEBUG"):
            raise
        print(
            f"neurix: internal error ({type(exc).__name__}); rerun with NEURIX_DEBUG=1 and report the traceback",
            file=sys.stderr,
        )
        return 1
    return 0


def entry_point() -> None:
    """The ``neurix`` command: ``main``, then exit without the interpreter's teardown.

    Why: unloading torch and its CUDA libraries took ~0.7 s after every command (measured on the reference
    machine), longer than a small ``predict``. Everything is written and closed by then (files in ``with`` blocks,
    clusters and thread pools shut down in ``finally``); the streams and logging are flushed here.
    """
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
