"""The limits page: every rate-limit and budget counter in its current window, nearest its limit
first, and (for admins) the budget alerts with each delivery's status.

Counters come from the same report as `GET .../config/{rate-limit,budget}/usage` (limits/report.py);
alerts from the alerts API's query (alerts/query.py). An admin sees every counter; anyone else the
counters kept for them: their own user or virtual account, or one of their teams (a counter shared by
everyone, or kept per model or per metadata value, counts other callers' traffic too, so it is not
shown to them).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request

from tfy_gateway.gateway.alerts import ALERTS_FILE, AlertFilter, read_alerts
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.dashboard.render import Page
from tfy_gateway.gateway.data_plane.runtime import data_plane_of
from tfy_gateway.gateway.limits.report import Visible, usage
from tfy_gateway.gateway.limits.scope import EVERYONE, Entity

ALERTS_SHOWN = 50


def visible_to(viewer: Principal) -> Visible | None:
    """None (everything) for an admin; else counters naming the viewer or one of its teams."""
    if viewer.is_admin:
        return None
    own = frozenset(subject for subject in viewer.subjects if subject != EVERYONE)

    def visible(entity: Entity) -> bool:
        return any(value in own for _, value in entity)

    return visible


async def limits_page(request: Request, viewer: Principal) -> Page:
    plane = data_plane_of(request)
    rows: list[dict[str, Any]] = []
    available = plane.limiter is not None
    if plane.limiter is not None:
        policies = plane.config.current.limits
        visible = visible_to(viewer)
        for kind in ("rate_limit", "budget"):
            for rule in await usage(plane.limiter, policies, kind=kind, visible=visible):
                rows += _rows(rule)
    rows.sort(key=lambda row: (-row["percentage"], row["rule"], row["entity"] or ""))
    alerts: list[dict[str, Any]] = []
    alert_total = 0
    if viewer.is_admin:
        path = plane.settings.data_dir / ALERTS_FILE
        alerts, alert_total = await anyio.to_thread.run_sync(
            lambda: read_alerts(path, AlertFilter(), limit=ALERTS_SHOWN, offset=0)
        )
    return Page(
        "limits.html.j2",
        {"rows": rows, "available": available, "alerts": alerts, "alert_total": alert_total},
    )


def _rows(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per entity and window of a usage entry (`report.usage`'s shape)."""
    out = []
    for entity in rule["entities"]:
        for period in entity["periods"].values():
            out.append(
                {
                    "rule": rule["name"],
                    "config": rule["config"],
                    "type": rule["type"],
                    "mode": rule["mode"],
                    "applies_to": rule["applies_to"],
                    "entity": entity["entity"],
                    **period,
                }
            )
    return out
