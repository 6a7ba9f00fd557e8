"""Write assets/examples/tumour.tsv: one held-out example cell line of the shipped bundle as a genes × sample table.

Why: the README's commands need a small real input. The profile is a cell line that was held out of training and
cross-validation (see the bundle's ``example_cell_lines``), written as the within-sample z-scores the bundle ships,
rounded to 3 decimals. Rerun after retraining: ``python scripts/make_example.py``.
"""

from __future__ import annotations

from pathlib import Path

from neurix_core.api import Neurix

OUT = Path(__file__).resolve().parents[1] / "assets" / "examples" / "tumour.tsv"


def main() -> None:
    neurix = Neurix.load()
    profile = neurix.example_profiles().iloc[:1]
    sample = str(profile.index[0])
    table = profile.T.rename(columns={sample: "tumour"}).rename_axis("gene")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT, sep="\t", float_format="%.3f")
    print(f"wrote {OUT} ({len(table):,} genes, held-out cell line {sample})")


if __name__ == "__main__":
    main()
