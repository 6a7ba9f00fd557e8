"""How fast does the dashboard answer? Targets: upload → bars < 2 s and the Explain page < 3 s for one sample.

Two views of the same work:

1. the ``neurix_core`` calls each page makes, timed one by one (parse, prepare + predict, figures,
   explanation, drug map, report), on a realistic upload: one tumour, ~20,000 Ensembl-id rows in TPM (plus
   a 10-sample file);
2. whole page runs through Streamlit's AppTest (script execution, widgets and figure serialisation; no browser
   rendering): the Predict page run that processes a fresh upload, and the first Explain page run for the
   default top-5 drugs (nothing cached in the session yet).

    PYTHONPATH=. python benchmarks/dashboard_speed.py [--repeats 5] [--bundle DIR]

The bundle is ``--bundle``, else ``$NEURIX_BUNDLE``, else the shipped default. Timings are medians after one
warm-up (the server loads the model and warms the explainer once per process, at start-up). Results go to
benchmarks/results/dashboard_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "dashboard_speed.json"
TARGETS = {"upload_to_bars": 2.0, "explain_page": 3.0}


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def realistic_upload(neurix, n_samples: int, seed: int = 0) -> bytes:  # noqa: ANN001
    """~20k genes × samples TPM with Ensembl ids (what a clinical pipeline exports): the model's genes plus
    other HGNC genes, as genes × samples CSV."""
    from neurix_core.io.gene_ids import gene_table

    table = gene_table()
    rng = np.random.default_rng(seed)
    if table is not None:
        by_symbol = {}
        for ensembl, symbol in table.ensembl.items():
            by_symbol.setdefault(symbol, ensembl)
        model = [by_symbol[g] for g in neurix.bundle.genes if g in by_symbol]
        others = [e for s, e in by_symbol.items() if s not in set(neurix.bundle.genes)]
        ids = model + others[: max(0, 20_000 - len(model))]
    else:  # without the HGNC table, symbols of the model genes only
        ids = list(neurix.bundle.genes)
    values = np.round(rng.gamma(0.5, 60.0, size=(len(ids), n_samples)), 3)
    frame = pd.DataFrame(
        values, index=pd.Index(ids, name="gene_id"), columns=[f"T{i + 1}" for i in range(n_samples)]
    )
    return frame.to_csv().encode()


def core_timings(neurix, repeats: int) -> dict[str, float]:  # noqa: ANN001
    """The neurix_core calls behind each page, one by one."""
    from neurix_core.report import build_report
    from neurix_core.report.figures import drug_map_scatter, gene_bars, prediction_bars, relevance_heatmap

    one = realistic_upload(neurix, 1)
    ten = realistic_upload(neurix, 10, seed=1)
    out: dict[str, float] = {
        "upload_bytes_1_sample": float(len(one)),
        "upload_bytes_10_samples": float(len(ten)),
    }
    out["parse_1_sample"] = timed(lambda: neurix.read_profile(one, "tumour.csv"), repeats)
    parsed = neurix.read_profile(one, "tumour.csv")
    out["prepare_predict_1_sample"] = timed(lambda: neurix.predict(neurix.prepare(parsed)), repeats)
    model_input = neurix.prepare(parsed)
    predictions = neurix.predict(model_input)
    sample = model_input.samples[0]
    rows = predictions.head(25)
    out["bars_figure_json"] = timed(lambda: prediction_bars(rows).to_json(), repeats)
    out["upload_to_bars_core"] = (
        out["parse_1_sample"] + out["prepare_predict_1_sample"] + out["bars_figure_json"]
    )
    out["parse_predict_10_samples"] = timed(
        lambda: neurix.predict(neurix.prepare(neurix.read_profile(ten, "cohort.csv"))), repeats
    )

    drugs = predictions["drug_key"].head(5).tolist()
    out["explain_5_drugs_all_genes"] = timed(
        lambda: neurix.explain(model_input, drugs=drugs, top=None, samples=[sample]), repeats
    )
    frame = neurix.explain(model_input, drugs=drugs, top=None, samples=[sample])

    def explain_figures() -> None:
        matrix = frame.pivot_table(index="gene", columns="drug_key", values="relevance", aggfunc="first")
        top = matrix.loc[matrix.abs().max(axis=1).sort_values(ascending=False).index[:25]]
        relevance_heatmap(top, frame.drop_duplicates("gene").set_index("gene")["expression_z"]).to_json()
        for key in drugs:
            gene_bars(frame[frame["drug_key"] == key], 8).to_json()

    out["explain_figures_json"] = timed(explain_figures, repeats)
    out["explain_page_core"] = out["explain_5_drugs_all_genes"] + out["explain_figures_json"]

    table = neurix.drug_map()
    out["drug_map_and_candidates"] = timed(
        lambda: drug_map_scatter(
            table, "drug_class", dict(zip(rows["drug_key"], rows["z_log_auc"], strict=True)),
            neurix.repurposing_candidates(predictions, sample, tumour_type="Lung")["drug_key"].tolist(),
        ).to_json(),
        repeats,
    )  # fmt: skip
    out["report_html_tables"] = timed(
        lambda: build_report(sample, predictions, frame, fingerprint=parsed.fingerprint,
                             manifest=neurix.bundle.manifest),
        repeats,
    )  # fmt: skip
    out["report_html_interactive"] = timed(
        lambda: build_report(sample, predictions, frame, fingerprint=parsed.fingerprint,
                             manifest=neurix.bundle.manifest, interactive=True),
        max(1, repeats // 2),
    )  # fmt: skip
    return out


def apptest_timings(neurix, repeats: int) -> dict[str, float]:  # noqa: ANN001
    """Whole page runs in AppTest: script + widgets + figure serialisation (no browser)."""
    from streamlit.testing.v1 import AppTest

    from dashboard import widgets

    app = str(ROOT / "dashboard" / "app.py")
    one = realistic_upload(neurix, 1, seed=2)

    def predict_page_with_upload() -> float:
        at = AppTest.from_file(app, default_timeout=60).run()
        at.switch_page("views/predict.py").run()
        at.file_uploader[0].set_value(("tumour.csv", one, "text/csv"))
        start = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - start
        assert not at.exception and not at.error, "the upload failed"
        assert at.get("plotly_chart"), "no bars"
        return seconds

    def explain_page_first_run() -> float:
        at = AppTest.from_file(app, default_timeout=60).run()
        at.switch_page("views/predict.py").run()
        at.file_uploader[0].set_value(("tumour.csv", one, "text/csv"))
        at.run()
        at.switch_page("views/explain.py")
        start = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - start
        assert not at.exception and not at.error and len(at.get("plotly_chart")) == 6
        assert len(at.session_state[widgets.EXPLAIN_KEY]) == 5
        return seconds

    def page(name: str) -> float:
        at = AppTest.from_file(app, default_timeout=60).run()
        at.button(key="example_button").click().run()
        at.switch_page(f"views/{name}.py")
        start = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - start
        assert not at.exception and not at.error
        return seconds

    out = {}
    for name, fn in (
        ("apptest_upload_to_bars", predict_page_with_upload),
        ("apptest_explain_page_first_run", explain_page_first_run),
        ("apptest_drug_map_page", lambda: page("drug_map")),
        ("apptest_report_page", lambda: page("report")),
        ("apptest_model_page", lambda: page("model")),
    ):
        fn()  # warm-up
        out[name] = statistics.median(fn() for _ in range(repeats))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bundle", default=None, help="model bundle (default: $NEURIX_BUNDLE or the shipped one)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.bundle:
        os.environ["NEURIX_BUNDLE"] = args.bundle
    torch.set_num_threads(args.threads)

    from dashboard import widgets

    start = time.perf_counter()
    neurix = widgets._load_neurix(widgets.bundle_dir())  # the app's own loader (bundle + warm-up)
    load_seconds = time.perf_counter() - start
    results = {"model_load_and_warm_up": load_seconds}
    results.update(core_timings(neurix, args.repeats))
    results.update(apptest_timings(neurix, args.repeats))

    checks = {
        "upload_to_bars": max(results["upload_to_bars_core"], results["apptest_upload_to_bars"]),
        "explain_page": max(results["explain_page_core"], results["apptest_explain_page_first_run"]),
    }
    print(
        f"bundle: {neurix.bundle.path} (model {neurix.bundle.version}, {len(neurix.bundle.genes)} genes, "
        f"{len(neurix.bundle.drugs)} drugs); {args.threads} torch threads, {os.cpu_count()} CPUs"
    )
    for name, value in results.items():
        unit = "bytes" if name.startswith("upload_bytes") else "s"
        print(f"  {name:34s} {value:12,.0f} {unit}" if unit == "bytes" else f"  {name:34s} {value:12.3f} s")
    ok = True
    for name, seconds in checks.items():
        passed = seconds < TARGETS[name]
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'} {name}: {seconds:.2f} s (target < {TARGETS[name]:.0f} s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "bundle": str(neurix.bundle.path),
                "model_version": neurix.bundle.version,
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "torch_threads": args.threads,
                },
                "seconds": results,
                "targets": TARGETS,
                "checks": checks,
                "passed": ok,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
