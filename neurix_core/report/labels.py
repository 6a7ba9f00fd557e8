"""Non-overlapping text labels for points on a scatter plot (the drug map's candidates and searched drugs).

Plotly does not avoid label collisions, so labels are placed here: each label tries offsets around its point,
nearest first, and takes the first whose box overlaps no label already placed and stays inside the plot. Positions
are computed in pixels for the figure's size (the dashboard draws the map at a fixed height and about this width);
the result is offsets for plotly annotations with a leader line to the point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CHAR_WIDTH = 0.58  # average glyph width relative to the font size
DIRECTIONS = ((0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1))
DISTANCES = (28, 48, 72, 100, 135)


@dataclass(frozen=True)
class Placement:
    """Offset (pixels, y down) of a label's centre from its point, and the label's box in plot pixels."""

    dx: float
    dy: float
    box: tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float], pad: float) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1] or b[3] + pad <= a[1])


def place_labels(
    x: Sequence[float],
    y: Sequence[float],
    labels: Sequence[str],
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    width: float = 1000,
    height: float = 560,
    font_size: float = 13,
    pad: float = 3,
) -> list[Placement]:
    """Place ``labels`` (in priority order) near their points without overlapping each other or the points.

    ``x_range``/``y_range`` are the axis ranges the figure shows; ``width``/``height`` the plot area in pixels.
    """
    span_x = (x_range[1] - x_range[0]) or 1.0
    span_y = (y_range[1] - y_range[0]) or 1.0
    px = (np.asarray(x, dtype=float) - x_range[0]) / span_x * width
    py = (y_range[1] - np.asarray(y, dtype=float)) / span_y * height  # screen y grows downwards
    points = [(a - 7, b - 7, a + 7, b + 7) for a, b in zip(px, py, strict=True)]
    placed: list[tuple[float, float, float, float]] = []
    result = []
    for i, label in enumerate(labels):
        half_w = len(label) * font_size * CHAR_WIDTH / 2 + 3
        half_h = font_size * 0.7 + 2
        best: Placement | None = None
        for distance in DISTANCES:
            for ux, uy in DIRECTIONS:
                norm = (ux * ux + uy * uy) ** 0.5
                dx = ux / norm * (distance + (half_w - 10 if ux else 0))
                dy = uy / norm * (distance * 0.8)
                cx, cy = px[i] + dx, py[i] + dy
                box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
                inside = box[0] >= 0 and box[2] <= width and box[1] >= 0 and box[3] <= height
                if not inside:
                    continue
                if any(_overlaps(box, other, pad) for other in placed):
                    continue
                if any(_overlaps(box, point, 0) for point in points):
                    continue
                best = Placement(dx, dy, box)
                break
            if best is not None:
                break
        if best is None:  # crowded: the farthest spot that stays inside, even if it touches another label
            cx = min(max(px[i], half_w), width - half_w)
            cy = min(max(py[i] - DISTANCES[-1], half_h), height - half_h)
            best = Placement(cx - px[i], cy - py[i], (cx - half_w, cy - half_h, cx + half_w, cy + half_h))
        placed.append(best.box)
        result.append(best)
    return result
