"""Upload limits and the running check that enforces them row by row while a table is read."""

from __future__ import annotations

from dataclasses import dataclass

from neurix_core.errors import LimitExceededError

# Rows/columns beyond genes and samples that a real file may hold: header, label and annotation columns
# (RSEM/featureCounts have up to ~15), HTSeq/STAR counter rows.
SLACK = 64


@dataclass(frozen=True)
class ProfileLimits:
    """Deployment limits on one upload; exceeding any raises LimitExceededError.

    ``max_cells`` bounds the parser's working memory (about 150 bytes per cell while strings become numbers),
    whatever the shape: 5,000,000 cells is 200 samples × 25,000 genes or 80 samples × 60,000 genes.
    ``max_unpacked_bytes`` and ``max_ratio`` stop decompression bombs (size and compression ratio).
    """

    max_bytes: int = 50 * 2**20
    max_samples: int = 200
    max_genes: int = 100_000
    max_cells: int = 5_000_000
    max_ratio: float = 20.0  # gzip text tables compress 3-8×; 1000× is a bomb
    max_xlsx_ratio: float = 100.0  # spreadsheet XML is verbose: 10-40× is normal

    @property
    def max_unpacked_bytes(self) -> int:
        return 4 * self.max_bytes

    @property
    def max_xlsx_unpacked_bytes(self) -> int:
        return 5 * self.max_bytes


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


class RowBounds:
    """Counts rows, width and cells as rows arrive; raises as soon as no valid table could result."""

    def __init__(self, limits: ProfileLimits) -> None:
        self.limits = limits
        self.rows = 0
        self.width = 0
        self.cells = 0
        self.max_axis = max(limits.max_genes, limits.max_samples) + SLACK

    def add(self, n_fields: int, line: int) -> None:
        limits = self.limits
        self.rows += 1
        self.cells += n_fields
        self.width = max(self.width, n_fields)
        if n_fields > self.max_axis:
            raise LimitExceededError(
                f"Line {line} has more than {self.max_axis:,} fields; at most {limits.max_genes:,} genes are "
                "allowed: keep one column per gene or sample."
            )
        if self.rows > self.max_axis:
            raise LimitExceededError(
                f"The file has more than {self.max_axis:,} rows; at most {limits.max_genes:,} genes are "
                "allowed: keep one row per gene."
            )
        if self.cells > limits.max_cells:
            raise LimitExceededError(
                f"The file has more than {limits.max_cells:,} values; split it into files of fewer samples "
                f"(for example {max(1, limits.max_cells // 60_000)} samples of 60,000 genes each)."
            )
        small = limits.max_samples + SLACK
        if self.rows > small and self.width > small:
            raise LimitExceededError(
                f"The file has more than {limits.max_samples:,} samples (both its rows and columns exceed "
                f"{small:,}); at most {limits.max_samples:,} can be scored at once: split it into smaller files."
            )
