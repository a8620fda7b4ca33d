"""Server-rendered inline SVG charts (no JavaScript, nothing fetched): daily bars and uptime strips."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup


def _colour(fraction: float | None) -> str:
    if fraction is None:
        return "#e3e6ea"
    if fraction >= 0.95:
        return "#2e8b57"
    if fraction >= 0.75:
        return "#9acd32"
    if fraction >= 0.4:
        return "#f0b429"
    return "#d64545"


def bar_chart(
    points: Sequence[tuple[date, float]],
    *,
    label: str,
    unit: str = "",
    maximum: float | None = None,
    width: int = 640,
    height: int = 180,
    colour: str = "#2b6cb0",
) -> Markup:
    """Vertical bars, one per day, day/month under every few bars; each bar's value in its tooltip."""
    left, right, top, bottom = 44, 8, 10, 24
    inner_w, inner_h = width - left - right, height - top - bottom
    top_value = maximum if maximum is not None else max([value for _, value in points] + [1])
    top_value = top_value or 1
    if maximum is None:  # counts: an even top keeps the middle line whole (a top of 1 read "1, 0, 0" down the axis)
        top_value = 2 * math.ceil(top_value / 2)
    step = inner_w / max(len(points), 1)
    bar_w = max(step * 0.75, 1)
    every = max(1, round(len(points) / 8))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for fraction in (0, 0.5, 1):
        y = top + inner_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_short(top_value * fraction)}{unit}</text>')
    for index, (day, value) in enumerate(points):
        x = left + index * step + (step - bar_w) / 2
        bar_h = inner_h * min(value / top_value, 1)
        tip = f"{day:%d/%m/%Y}: {_short(value)}{unit}"
        parts.append(
            f'<rect x="{x:.1f}" y="{top + inner_h - bar_h:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" fill="{colour}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if (len(points) - 1 - index) % every == 0:  # counted from the newest day, so labels never crowd the end
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" class="axis" text-anchor="middle">{day:%d/%m}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def uptime_strip(days: Sequence[tuple[date, float | None]], *, cell: int = 9, gap: int = 2) -> Markup:
    """One small square per day, coloured by the share of the day the board was heard from."""
    width = len(days) * (cell + gap)
    parts = [f'<svg class="strip" width="{width}" height="{cell}" viewBox="0 0 {width} {cell}" xmlns="http://www.w3.org/2000/svg">']
    for index, (day, fraction) in enumerate(days):
        tip = f"{day:%d/%m/%Y}: " + ("không có dữ liệu" if fraction is None else f"{fraction * 100:.0f}%")
        parts.append(
            f'<rect x="{index * (cell + gap)}" y="0" width="{cell}" height="{cell}" rx="2" fill="{_colour(fraction)}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: float) -> str:
    """An axis label as Vietnamese writes it short: a decimal comma, k for nghìn, tr for triệu (1,4k; 2,9tr)."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}".removesuffix(".0").replace(".", ",") + "tr"
    if value >= 10000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}".replace(".", ",") + "k"
    return f"{value:.0f}"
