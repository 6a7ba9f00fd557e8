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
DIRECTIONS = tuple(
    (float(np.sin(a)), -float(np.cos(a))) for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)
)
DISTANCES = (28, 48, 72, 100, 135, 175)
GRID = 8  # pixels between the spots tried when every spot around a point is taken


@dataclass(frozen=True)
class Placement:
    """Offset (pixels, y down) of a label's centre from its point, and the label's box in plot pixels."""

    dx: float
    dy: float
    box: tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float], pad: float) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1] or b[3] + pad <= a[1])


def _spot(
    point: tuple[float, float],
    offset: tuple[float, float],
    half: tuple[float, float],
    area: tuple[float, float],
    taken: list[tuple[float, float, float, float]],
    points: list[tuple[float, float, float, float]],
    pad: float,
) -> Placement | None:
    """The placement at ``offset`` from ``point`` if its box stays inside ``area`` and touches nothing taken."""
    cx, cy = point[0] + offset[0], point[1] + offset[1]
    box = (cx - half[0], cy - half[1], cx + half[0], cy + half[1])
    if box[0] < 0 or box[2] > area[0] or box[1] < 0 or box[3] > area[1]:
        return None
    if any(_overlaps(box, other, pad) for other in taken) or any(_overlaps(box, p, 0) for p in points):
        return None
    return Placement(offset[0], offset[1], box)


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
    area = (width, height)
    placed: list[tuple[float, float, float, float]] = []
    result = []
    for i, label in enumerate(labels):
        point = (float(px[i]), float(py[i]))
        half = (len(label) * font_size * CHAR_WIDTH / 2 + 3, font_size * 0.7 + 2)
        offsets = [
            (ux * (distance + abs(ux) * (half[0] - 10)), uy * distance * 0.8)
            for distance in DISTANCES
            for ux, uy in DIRECTIONS
        ]
        best = next((p for o in offsets if (p := _spot(point, o, half, area, placed, points, pad))), None)
        if best is None:  # crowded: the nearest free spot anywhere on the plot
            grid = [
                (gx - point[0], gy - point[1])
                for gx in np.arange(half[0], width - half[0] + 1, GRID)
                for gy in np.arange(half[1], height - half[1] + 1, GRID)
            ]
            grid.sort(key=lambda d: d[0] ** 2 + d[1] ** 2)
            best = next((p for o in grid if (p := _spot(point, o, half, area, placed, points, pad))), None)
        if best is None:  # no free spot at all (only with very many labels): on the point itself
            best = Placement(
                0.0, 0.0, (point[0] - half[0], point[1] - half[1], point[0] + half[0], point[1] + half[1])
            )
        placed.append(best.box)
        result.append(best)
    return result
