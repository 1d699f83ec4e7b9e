"""Reading alerts back with their per-target delivery status (`GET .../llm-gateway/alerts`).

An alert's `status` sums up its deliveries: `pending` while any is pending, else `failed` if any
failed, else `delivered` (`recorded` for an alert without notification targets). Targets are shown
as the manifest names them (type, channel, recipients), never with a resolved URL or key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from tfy_gateway.gateway.alerts.schema import connect
from tfy_gateway.gateway.errors import RequestError
from tfy_gateway.gateway.store.base import Execute

ALERT_STATUSES = ("pending", "delivered", "failed", "recorded")

_SUMMARY = """
SELECT a.id, a.body, a.created_at,
       CASE WHEN SUM(CASE WHEN d.status = 'pending' THEN 1 ELSE 0 END) > 0 THEN 'pending'
            WHEN SUM(CASE WHEN d.status = 'failed' THEN 1 ELSE 0 END) > 0 THEN 'failed'
            WHEN COUNT(d.alert_id) = 0 THEN 'recorded'
            ELSE 'delivered' END AS status,
       a.occurred_at, a.config, a.rule_id
FROM alerts a LEFT JOIN alert_deliveries d ON d.alert_id = a.id
GROUP BY a.id, a.body, a.created_at, a.occurred_at, a.config, a.rule_id
"""


class AlertQueryError(RequestError, ValueError):
    """A filter value the listing cannot use; the message names the allowed values."""


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None
    config: str | None = None
    rule_id: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in ALERT_STATUSES:
            allowed = ", ".join(ALERT_STATUSES)
            raise AlertQueryError(f"status={self.status!r} is not an alert status; allowed: {allowed}")


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_alerts(path: Path, where: AlertFilter, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """`alerts.db` at `path`, newest first; an absent file is an empty history (nothing is created)."""
    if not path.exists():
        return [], 0
    connection = connect(path)
    try:
        return list_alerts(connection.execute, where, limit=limit, offset=offset)
    finally:
        connection.close()


def list_alerts(execute: Execute, where: AlertFilter, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of alerts, newest first, and how many match (in one read transaction of `execute`)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("status", where.status), ("config", where.config), ("rule_id", where.rule_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    condition = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    total = execute(f"SELECT COUNT(*) FROM ({_SUMMARY}) summary {condition}", tuple(params)).fetchone()[0]
    rows = execute(
        f"SELECT id, body, created_at, status FROM ({_SUMMARY}) summary {condition} "
        "ORDER BY occurred_at DESC, id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ).fetchall()
    deliveries = _deliveries(execute, [row[0] for row in rows])
    items = [_item(ident, body, created, status, deliveries.get(ident, [])) for ident, body, created, status in rows]
    return items, int(total)


def _deliveries(execute: Execute, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    found: dict[str, list[tuple[Any, ...]]] = {}
    for row in execute(
        "SELECT alert_id, target_index, destination, status, attempts, next_attempt_at, last_attempt_at, "
        f"delivered_at, last_error FROM alert_deliveries WHERE alert_id IN ({marks}) "
        "ORDER BY target_index, destination",
        tuple(ids),
    ).fetchall():
        found.setdefault(row[0], []).append(row[1:])
    return found


def _item(ident: str, body: str, created: float, status: str, deliveries: list[tuple[Any, ...]]) -> dict[str, Any]:
    alert = orjson.loads(body)
    targets = alert.pop("targets")
    shown = []
    for index, destination, state, attempts, next_at, last_at, delivered_at, error in deliveries:
        target = targets[index]
        shown.append(
            {
                "type": target["type"],
                "notification_channel": target["notification_channel"],
                "destination": destination or None,
                "status": state,
                "attempts": attempts,
                "last_error": error,
                "last_attempt_at": iso(last_at),
                "next_attempt_at": iso(next_at) if state == "pending" else None,
                "delivered_at": iso(delivered_at),
            }
        )
    occurred = alert.pop("occurred_at")
    times = {"occurred_at": iso(occurred), "created_at": iso(created)}
    return {"id": ident, "status": status, **alert, **times, "targets": shown}
