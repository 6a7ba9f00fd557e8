"""Small inline SVG charts for the printed report.

Why hand-written SVG and not plotly: a PDF renderer needs static vector graphics, and plotly's static export
needs a browser (kaleido/Chrome) on the server. These charts are a few rectangles and lines, so they stay sharp
at any zoom, print in colour or greyscale, and add no dependency.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

AXIS_COLOUR = "#4a5568"
GRID_COLOUR = "#e2e8f0"
WHISKER_COLOUR = "#1a202c"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def diverging_bars(
    labels: Sequence[str],
    values: Sequence[float],
    colours: Sequence[str],
    *,
    low: Sequence[float] | None = None,
    high: Sequence[float] | None = None,
    axis_title: str = "",
    width: int = 680,
    row_height: int = 15,
    label_width: int = 230,
    font_size: int = 10,
) -> str:
    """Horizontal bars around a zero line, one row per label, with optional interval whiskers.

    Values left of zero are drawn to the left (e.g. more sensitive); the scale is symmetric so that the zero line
    sits in the middle of the plot area and bars of opposite sign compare by length.
    """
    n = len(labels)
    reach = [abs(v) for v in map(_finite, values) if v is not None]
    for bounds in (low, high):
        reach += [abs(v) for v in map(_finite, bounds or ()) if v is not None]
    scale = max(reach) if reach and max(reach) > 0 else 1.0
    plot_left = label_width + 8
    plot_width = width - plot_left - 12
    centre = plot_left + plot_width / 2
    top = 6
    height = top + n * row_height + 34

    def x(value: float) -> float:
        return centre + value / scale * (plot_width / 2)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        f'font-size="{font_size}">'
    ]
    ticks = _ticks(scale)
    for tick in ticks:
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{top + n * row_height}" '
            f'stroke="{GRID_COLOUR}" stroke-width="0.8"/>'
            f'<text x="{x(tick):.1f}" y="{top + n * row_height + 12}" text-anchor="middle" '
            f'fill="{AXIS_COLOUR}">{tick:g}</text>'
        )
    for i, (label, value, colour) in enumerate(zip(labels, values, colours, strict=True)):
        y = top + i * row_height
        middle = y + row_height / 2
        parts.append(
            f'<text x="{label_width}" y="{middle + font_size * 0.35:.1f}" text-anchor="end" fill="#1a202c">'
            f"{_e(_short(str(label), 38))}</text>"
        )
        number = _finite(value)
        if number is not None:
            left, right = sorted((x(0.0), x(number)))
            parts.append(
                f'<rect x="{left:.1f}" y="{y + 2.5:.1f}" width="{max(right - left, 0.6):.1f}" '
                f'height="{row_height - 5}" fill="{_e(colour)}"/>'
            )
        lo = _finite(low[i]) if low is not None else None
        hi = _finite(high[i]) if high is not None else None
        if lo is not None and hi is not None:
            parts.append(
                f'<line x1="{x(lo):.1f}" y1="{middle:.1f}" x2="{x(hi):.1f}" y2="{middle:.1f}" '
                f'stroke="{WHISKER_COLOUR}" stroke-width="1"/>'
                f'<line x1="{x(lo):.1f}" y1="{middle - 3:.1f}" x2="{x(lo):.1f}" y2="{middle + 3:.1f}" '
                f'stroke="{WHISKER_COLOUR}" stroke-width="1"/>'
                f'<line x1="{x(hi):.1f}" y1="{middle - 3:.1f}" x2="{x(hi):.1f}" y2="{middle + 3:.1f}" '
                f'stroke="{WHISKER_COLOUR}" stroke-width="1"/>'
            )
    parts.append(
        f'<line x1="{centre:.1f}" y1="{top - 2}" x2="{centre:.1f}" y2="{top + n * row_height + 2}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1.2"/>'
    )
    if axis_title:
        parts.append(
            f'<text x="{centre:.1f}" y="{height - 4}" text-anchor="middle" fill="{AXIS_COLOUR}">'
            f"{_e(axis_title)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(scale: float) -> list[float]:
    """Symmetric 'nice' ticks (…, −1, 0, 1, …) within ±scale."""
    raw = scale / 2
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(s * magnitude for s in (1, 2, 2.5, 5, 10) if s * magnitude >= raw)
    count = int(scale // step)
    return [round(k * step, 10) for k in range(-count, count + 1)]
