"""Biology check of the explanations (report, never tune): where do literature markers and drug targets rank on
*held-out* cell lines, and how much do the gene rankings depend on which lines trained the model?

Reads the bundle's discovery artefact, which ``neurix train`` computes from the cross-validation fold models of the
shipped architecture, each explaining only the cell lines it never saw (neurix_core/explain/discovery.py). The
marker list with one literature source per row is neurix_core/explain/markers.csv; scoring is
neurix_core/explain/biology.py (the same summary is stored in the bundle's validation.json as ``biology_check``).

    python benchmarks/biology_check.py [--bundle DIR]     # seconds; writes benchmarks/results/biology_check.{json,md}

A bundle trained before discovery existed has no artefact: the script says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurix_core.api import Neurix  # noqa: E402
from neurix_core.explain.biology import biology_check  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    rows = [list(map(str, frame.columns)), ["---"] * frame.shape[1]]
    rows += [[str(v).replace("|", "/") for v in row] for row in frame.itertuples(index=False)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default=None, help="bundle directory (default: the shipped one)")
    parser.add_argument("--results", default=str(RESULTS), help="where to write biology_check.{json,md}")
    args = parser.parse_args(argv)
    neurix = Neurix.load(args.bundle)
    if neurix.discovery is None:
        print(
            f"{neurix.bundle.path}: this bundle has no discovery artefact (trained before it existed); retrain it "
            "with `neurix train` to run the biology check",
            file=sys.stderr,
        )
        return 2
    table, summary = biology_check(neurix.discovery, neurix.bundle.drugs, neurix.bundle.genes)
    summary["bundle"] = str(neurix.bundle.path)
    summary["model_version"] = neurix.bundle.version
    summary["cv_mean_rho"] = (
        neurix.bundle.validation.get("cross_validation", {}).get("summary", {}).get("all", {}).get("mean_rho")
    )
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "biology_check.json").write_text(
        json.dumps({"summary": summary, "markers": table.to_dict(orient="records")}, indent=1, default=str)
    )
    shown = table.assign(
        rank=lambda t: t["abs_rank"].map(lambda r: "—" if pd.isna(r) else f"{int(r):,}"),
        discovery=lambda t: t["discovery_rank"].map(lambda r: "—" if pd.isna(r) else f"{int(r):,}"),
        agrees=lambda t: t["agrees"].map({True: "yes", False: "no"}).fillna("—"),
        cv_rho=lambda t: t["cv_rho"].map(lambda r: f"{r:.2f}"),
    )[
        [
            "gene",
            "drug",
            "drug_key",
            "expected",
            "rank",
            "discovery",
            "model_trend",
            "agrees",
            "fold_top",
            "cv_rho",
            "source",
        ]
    ]
    lines = [
        f"# Biology check ({summary['model_version']}; ranks of {len(neurix.bundle.genes):,} genes by mean |relevance|"
        " on held-out lines, CV fold models)",
        "",
        markdown_table(shown),
        "",
        f"- curated markers (measured by the model): {summary['markers_checked']}; in the top 1%: "
        f"{summary['markers_in_top_1pct']}, top 5%: {summary['markers_in_top_5pct']}; trend agrees with the "
        f"literature: {summary['markers_direction_agrees']}; median rank {summary['median_marker_rank']:.0f}; "
        f"{summary['markers_not_measured']} marker rows name genes the model does not measure",
        f"- targeted drugs with an annotated, measured target in the top 1% ({summary['top_1pct_genes']} genes): "
        f"{summary['with_target_in_top_1pct']} of {summary['targeted_drugs_with_measured_target']} "
        f"({summary['fraction']:.1%}; {summary['expected_by_chance']:.1f} expected by chance)",
        "- stability across fold models (median over drugs): Spearman ρ of gene rankings "
        f"{summary['median_fold_rank_agreement']:.2f}, top-20 overlap (Jaccard) "
        f"{summary['median_fold_top20_overlap']:.2f}",
    ]
    (results / "biology_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
