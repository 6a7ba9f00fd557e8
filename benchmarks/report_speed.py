"""How long does a tumour-board report take, and how many pages does it print to?

Times, for every example cell line of the bundle: building the HTML (from predictions and the all-gene
explanation of the top 5 drugs, which are computed once beforehand and not timed here) and rendering the PDF with
WeasyPrint, on A4 and US Letter; records the page counts and whether page 1 holds the whole summary.

    PYTHONPATH=. python benchmarks/report_speed.py [--bundle DIR] [--repeats 3]

Results go to benchmarks/results/report_speed.json. Needs poppler-utils (pdftotext) for the page checks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from neurix_core.api import Neurix
from neurix_core.report.case import CaseDetails
from neurix_core.report.html import build_report
from neurix_core.report.pdf import render_pdf

RESULTS = Path(__file__).resolve().parent / "results" / "report_speed.json"


def _pages(pdf: bytes) -> list[str]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        text = subprocess.run(
            ["pdftotext", handle.name, "-"], check=True, capture_output=True, text=True
        ).stdout
    return text.split("\f")[:-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    neurix = Neurix.load(args.bundle)
    model_input = neurix.prepare(neurix.example_profiles())
    predictions = neurix.predict(model_input)
    case = CaseDetails(specimen="BENCH-1", tumour_type="benchmark", requester="benchmark")
    rows = []
    for index, sample in enumerate(model_input.samples):
        top = predictions[predictions["sample"] == sample].sort_values("rank")["drug_key"].head(5).tolist()
        explanations = neurix.explain(model_input, drugs=top, top=None, samples=[sample])
        for paper in ("a4", "letter"):
            options = {
                "fingerprint": "0" * 64,
                "manifest": neurix.bundle.manifest,
                "validation": neurix.bundle.validation,
                "case": case,
                "coverage": float(model_input.coverage[index]),
                "drugs": neurix.bundle.drugs,
                "paper": paper,
            }
            html_times, pdf_times = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                report_html = build_report(sample, predictions, explanations, **options)
                html_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                pdf = render_pdf(report_html)
                pdf_times.append(time.perf_counter() - start)
            pages = _pages(pdf)
            rows.append(
                {
                    "sample": sample,
                    "paper": paper,
                    "html_s": statistics.median(html_times),
                    "pdf_s": statistics.median(pdf_times),
                    "pages": len(pages),
                    "pdf_kib": round(len(pdf) / 1024, 1),
                    "summary_on_page_1": all(
                        heading in pages[0]
                        for heading in ("Key genes", "Input, data quality and domain", "Training data")
                    )
                    and "predicted drugs: details" not in pages[0],
                }
            )
            print(
                f"{sample} {paper:6s} html {rows[-1]['html_s']:.3f} s  pdf {rows[-1]['pdf_s']:.2f} s  "
                f"{len(pages)} pages  {rows[-1]['pdf_kib']} KiB  summary on page 1: {rows[-1]['summary_on_page_1']}"
            )
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_1min": os.getloadavg()[0],
        },
        "model_version": neurix.bundle.version,
        "median_pdf_s": statistics.median(r["pdf_s"] for r in rows),
        "max_pages": max(r["pages"] for r in rows),
        "all_summaries_on_page_1": all(r["summary_on_page_1"] for r in rows),
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(
        f"median PDF render {result['median_pdf_s']:.2f} s; at most {result['max_pages']} pages; "
        f"summary always on page 1: {result['all_summaries_on_page_1']} → {args.out}"
    )


if __name__ == "__main__":
    main()
