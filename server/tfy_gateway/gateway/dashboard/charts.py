"""Bar charts over time as plain geometry, drawn as inline SVG by the templates.

Server-rendered SVG rather than a charting library: no script on the page (the CSP allows none), no
asset to vendor and keep patched, a chart that prints and screenshots exactly as served, and a page
that is complete in its first response. A bucket's figures are in its bar's `<title>` (the browser's
tooltip) and in the table beside each chart, so nothing is only visual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 720.0
HEIGHT = 150.0
GAP = 1.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    overlay_y: float  # the overlay series (errors over requests) as a second bar inside this one
    overlay_height: float


@dataclass(frozen=True)
class Chart:
    title: str
    total: str
    peak: str
    bars: tuple[Bar, ...]
    first: str  # the first bucket's start, the last one's, for the axis
    last: str
    width: float = WIDTH
    height: float = HEIGHT


def bar_chart(
    points: Sequence[dict[str, Any]],
    value: Callable[[dict[str, Any]], float],
    *,
    title: str,
    shown: Callable[[float], str],
    when: Callable[[float], str],
    overlay: Callable[[dict[str, Any]], float] | None = None,
    overlay_name: str = "",
) -> Chart:
    """One bar per point (scaled to the tallest), labelled `when(point["start"])`: `shown(value)`."""
    values = [float(value(point)) for point in points]
    peak = max(values, default=0.0)
    slot = WIDTH / max(len(points), 1)
    bars: list[Bar] = []
    for point, amount in zip(points, values, strict=True):
        height = HEIGHT * amount / peak if peak > 0 else 0.0
        extra = float(overlay(point)) if overlay is not None else 0.0
        extra_height = min(height, HEIGHT * extra / peak) if peak > 0 else 0.0
        label = f"{when(point['start'])}: {shown(amount)}"
        if overlay is not None and extra:
            label += f" ({shown(extra)} {overlay_name})"
        bars.append(
            Bar(
                x=round(len(bars) * slot, 2),
                y=round(HEIGHT - height, 2),
                width=round(max(slot - GAP, 0.5), 2),
                height=round(height, 2),
                title=label,
                overlay_y=round(HEIGHT - extra_height, 2),
                overlay_height=round(extra_height, 2),
            )
        )
    return Chart(
        title=title,
        total=shown(sum(values)),
        peak=shown(peak),
        bars=tuple(bars),
        first=when(points[0]["start"]) if points else "",
        last=when(points[-1]["start"]) if points else "",
    )
