"""`Journal`: the outbox's durable state transitions, synchronous (the outbox runs them in a thread).

Adding an alert writes it and one pending delivery per destination in one transaction, unless its
dedupe key is already there. A delivery attempt's outcome is written in one transaction too: the
delivery becomes `delivered`, `failed` (no attempts left) or stays `pending` with its next due time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tfy_gateway.gateway.alerts.alert import Alert, destinations


@dataclass(frozen=True)
class Delivery:
    """One destination of one target of one alert, due for an attempt."""

    alert: Alert
    target_index: int
    destination: str
    attempts: int

    @property
    def target(self) -> Mapping[str, Any]:
        return self.alert.targets[self.target_index]

    @property
    def ident(self) -> tuple[str, int, str]:
        return (self.alert.id, self.target_index, self.destination)

    def describe(self) -> str:
        """Where this delivery goes, for logs and errors (names only, never a URL or key)."""
        target = self.target
        where = f"{target['type']} channel {target['notification_channel']!r}"
        shown = repr(self.destination)[1:-1]  # escapes line breaks: one log line per event
        return f"{where} ({shown})" if self.destination else where


@dataclass(frozen=True)
class Outcome:
    """What one attempt did: `status` is delivered, failed, or pending with `next_attempt_at`."""

    ident: tuple[str, int, str]
    status: str
    attempted_at: float
    error: str | None = None
    next_attempt_at: float | None = None


class Journal:
    """The alert tables of one connection; every method is one transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def add(self, alerts: Iterable[Alert], now: float) -> list[Alert]:
        """Store the alerts whose key is new (with their pending deliveries); return those."""
        added: list[Alert] = []
        with self._transaction():
            for alert in alerts:
                cursor = self.connection.execute(
                    "INSERT OR IGNORE INTO alerts (id, dedupe_key, kind, config, rule_id, entity, period, threshold, "
                    "used, limit_value, unit, occurred_at, created_at, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        alert.id,
                        alert.key_text,
                        alert.kind,
                        alert.config,
                        alert.rule_id,
                        alert.entity,
                        alert.period,
                        alert.threshold,
                        alert.used,
                        alert.limit,
                        alert.unit,
                        alert.occurred_at,
                        now,
                        orjson.dumps(alert.to_json()).decode(),
                    ),
                )
                if cursor.rowcount != 1:
                    continue
                rows = [
                    (alert.id, index, destination, target["type"], target["notification_channel"], now)
                    for index, target in enumerate(alert.targets)
                    for destination in destinations(target)
                ]
                self.connection.executemany(
                    "INSERT INTO deliveries (alert_id, target_index, destination, type, channel, status, "
                    "next_attempt_at) VALUES (?,?,?,?,?,'pending',?)",
                    rows,
                )
                added.append(alert)
        return added

    def due(self, now: float, limit: int) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest first."""
        rows = self.connection.execute(
            "SELECT d.target_index, d.destination, d.attempts, a.body FROM deliveries d "
            "JOIN alerts a ON a.id = d.alert_id WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
            "ORDER BY d.next_attempt_at, a.occurred_at LIMIT ?",
            (now, limit),
        ).fetchall()
        return [
            Delivery(Alert.from_json(orjson.loads(body)), index, destination, attempts)
            for index, destination, attempts, body in rows
        ]

    def next_due(self) -> float | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        row = self.connection.execute("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def record(self, outcomes: Sequence[Outcome]) -> None:
        with self._transaction():
            self.connection.executemany(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_attempt_at = ?, last_error = ?, "
                "next_attempt_at = ?, delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END "
                "WHERE alert_id = ? AND target_index = ? AND destination = ? AND status = 'pending'",
                [
                    (o.status, o.attempted_at, o.error, o.next_attempt_at, o.status, o.attempted_at, *o.ident)
                    for o in outcomes
                ],
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self.connection)


class _Transaction:
    """`BEGIN IMMEDIATE ... COMMIT`, rolled back on any error (the connection is in autocommit mode)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.connection.execute("COMMIT" if exc_type is None else "ROLLBACK")
