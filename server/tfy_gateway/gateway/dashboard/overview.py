"""The overview page: requests, errors, tokens and cost over the last hour, day or month, charted
per bucket and broken down per model, team, user and (on request) the values of one metadata key.

Every figure comes from the request-log queries the usage API answers with (`usage/summary`,
`usage/series`), over the same filter: the caller's own records unless it is an admin.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.control_plane.logs import log_filter, read_logs
from tfy_gateway.gateway.dashboard.charts import bar_chart
from tfy_gateway.gateway.dashboard.render import Page, money, number
from tfy_gateway.gateway.data_plane.runtime import data_plane_of


@dataclass(frozen=True)
class Window:
    name: str
    span_s: int
    bucket_s: int
    label: str  # strftime of a bucket's start


WINDOWS = {
    "hour": Window("hour", 3600, 60, "%H:%M"),
    "day": Window("day", 86400, 3600, "%m-%d %H:00"),
    "month": Window("month", 30 * 86400, 86400, "%Y-%m-%d"),
}
BREAKDOWN_ROWS = 20
Rows = list[dict[str, Any]]


async def overview(request: Request, viewer: Principal) -> Page:
    plane = data_plane_of(request)
    window = WINDOWS.get(request.query_params.get("window", ""), WINDOWS["day"])
    metadata_key = (request.query_params.get("key") or "").strip()
    # Whole buckets, the last one ending at the next boundary after now.
    end = math.ceil(time.time() / window.bucket_s) * window.bucket_s
    start = end - window.span_s
    where = replace(log_filter(request.query_params, viewer), since=start, until=end)
    backend = plane.logs.backend

    def read() -> tuple[dict[str, Any], Rows, Rows, Rows]:
        summary = backend.summary(where)
        teams = backend.breakdown(where, "team")
        by_key = backend.breakdown(where, f"metadata:{metadata_key}") if metadata_key else []
        series = backend.series(where, start=start, end=end, bucket_s=window.bucket_s)
        return summary, teams, by_key, series

    summary, teams, by_key, series = await read_logs(plane, read)

    def when(epoch: float) -> str:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime(window.label)

    charts = [
        bar_chart(
            series,
            lambda p: p["requests"],
            title="Requests",
            shown=number,
            when=when,
            overlay=lambda p: p["errors"],
            overlay_name="errors",
        ),
        bar_chart(series, lambda p: p["total_tokens"], title="Tokens", shown=number, when=when),
        bar_chart(series, lambda p: p["cost"], title="Cost", shown=money, when=when),
    ]
    return Page(
        "overview.html.j2",
        {
            "window": window,
            "windows": list(WINDOWS),
            "start": start,
            "end": end,
            "metadata_key": metadata_key,
            "total": summary["total"],
            "charts": charts,
            "breakdowns": [
                ("Model", "model", summary["by_model"][:BREAKDOWN_ROWS]),
                ("Team", "team", [{"team": r.pop("key"), **r} for r in teams[:BREAKDOWN_ROWS]]),
                ("User", "subject", summary["by_subject"][:BREAKDOWN_ROWS]),
            ],
            "by_key": by_key[:BREAKDOWN_ROWS],
        },
    )
