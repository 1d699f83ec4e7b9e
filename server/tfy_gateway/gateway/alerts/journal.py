"""`Journal`: the outbox's durable state transitions, synchronous (the outbox runs them in a thread).

Adding an alert writes it and one pending delivery per destination in one transaction, unless its
dedupe key is already there (from this process, another worker or another replica). Attempting a
delivery starts with a claim: due, unclaimed (or expired) deliveries are marked `claimed_by` this
outbox until `claimed_until`, in one transaction, so that two workers or replicas never attempt the
same delivery at once. An attempt's outcome is written in one transaction too, only while the claim
is still this outbox's: the delivery becomes `delivered`, `failed` (no attempts left) or stays
`pending` with its next due time. An attempt that got no answer in time keeps its claim until its
retry is due, so its late answer can still mark it delivered (`answered_late`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tfy_gateway.gateway.alerts.alert import Alert, destinations
from tfy_gateway.gateway.alerts.database import AlertDatabase
from tfy_gateway.gateway.store.base import Execute


@dataclass(frozen=True)
class Delivery:
    """One destination of one target of one alert, claimed for an attempt."""

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

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this delivery, from any worker or replica: what a receiver
        may drop repeats by (the `Idempotency-Key` header, an email's Message-ID)."""
        where = hashlib.sha256(self.destination.encode()).hexdigest()[:8]
        return f"tfy-alert-{self.alert.id}-{self.target_index}-{where}"

    def describe(self) -> str:
        """Where this delivery goes, for logs and errors (names only, never a URL or key)."""
        target = self.target
        where = f"{target['type']} channel {target['notification_channel']!r}"
        shown = repr(self.destination)[1:-1]  # escapes line breaks: one log line per event
        return f"{where} ({shown})" if self.destination else where


@dataclass(frozen=True)
class Outcome:
    """What one attempt did: `status` is delivered, failed, or pending with `next_attempt_at`.

    `held_until`: the claim is kept until then (an attempt still waiting for a late answer)."""

    ident: tuple[str, int, str]
    status: str
    attempted_at: float
    error: str | None = None
    next_attempt_at: float | None = None
    held_until: float | None = None


_INSERT_ALERT = (
    "INSERT INTO alerts (id, dedupe_key, kind, config, rule_id, entity, period, threshold, used, limit_value, "
    "unit, occurred_at, created_at, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
)
_INSERT_DELIVERY = (
    "INSERT INTO alert_deliveries (alert_id, target_index, destination, type, channel, status, next_attempt_at) "
    "VALUES (?,?,?,?,?,'pending',?)"
)
_DUE = (
    "SELECT d.target_index, d.destination, d.attempts, a.body FROM alert_deliveries d "
    "JOIN alerts a ON a.id = d.alert_id WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
    "AND (d.claimed_until IS NULL OR d.claimed_until <= ?) ORDER BY d.next_attempt_at, a.occurred_at LIMIT ?"
)
_CLAIM = (
    "UPDATE alert_deliveries SET claimed_by = ?, claimed_until = ? "
    "WHERE alert_id = ? AND target_index = ? AND destination = ?"
)
_RECORD = (
    "UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, last_attempt_at = ?, last_error = ?, "
    "next_attempt_at = ?, delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, "
    "claimed_by = ?, claimed_until = ? "
    "WHERE alert_id = ? AND target_index = ? AND destination = ? AND status = 'pending' AND claimed_by = ?"
)
_LATE = (
    "UPDATE alert_deliveries SET status = 'delivered', delivered_at = ?, last_error = NULL, next_attempt_at = NULL, "
    "claimed_by = NULL, claimed_until = NULL "
    "WHERE alert_id = ? AND target_index = ? AND destination = ? AND status IN ('pending', 'failed') "
    "AND claimed_by = ?"
)
_NEXT_DUE = (
    "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > next_attempt_at "
    "THEN claimed_until ELSE next_attempt_at END) FROM alert_deliveries WHERE status = 'pending'"
)


class Journal:
    """The alert tables of one database; every method is one transaction."""

    def __init__(self, database: AlertDatabase, owner: str) -> None:
        self.database = database
        self.owner = owner  # this outbox's claims carry it

    def add(self, alerts: Iterable[Alert], now: float) -> list[Alert]:
        """Store the alerts whose key is new (with their pending deliveries); return those."""
        batch = list(alerts)

        def add(execute: Execute) -> list[Alert]:
            added: list[Alert] = []
            for alert in batch:
                cursor = execute(_INSERT_ALERT, _alert_row(alert, now))
                if cursor.rowcount != 1:
                    continue
                for index, target in enumerate(alert.targets):
                    for destination in destinations(target):
                        row = (alert.id, index, destination, target["type"], target["notification_channel"], now)
                        execute(_INSERT_DELIVERY, row)
                added.append(alert)
            return added

        return self.database.transaction(add)

    def claim(self, now: float, limit: int, until: float) -> list[Delivery]:
        """Claim up to `limit` due deliveries no one else holds, oldest first, until `until`."""
        due = _DUE + (" FOR UPDATE OF d SKIP LOCKED" if self.database.dialect == "postgres" else "")

        def claim(execute: Execute) -> list[Delivery]:
            rows = execute(due, (now, now, limit)).fetchall()
            claimed = [
                Delivery(Alert.from_json(orjson.loads(body)), int(index), str(destination), int(attempts))
                for index, destination, attempts, body in rows
            ]
            for delivery in claimed:
                execute(_CLAIM, (self.owner, until, *delivery.ident))
            return claimed

        return self.database.transaction(claim)

    def next_due(self) -> float | None:
        """When the earliest pending delivery may be attempted (None: nothing pending)."""
        row = self.database.transaction(lambda execute: execute(_NEXT_DUE, ()).fetchone())
        return None if row is None or row[0] is None else float(row[0])

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Each outcome, where this outbox still holds the claim (an expired claim taken over by
        another worker is that worker's to record)."""

        def record(execute: Execute) -> None:
            for o in outcomes:
                holder = self.owner if o.held_until is not None else None
                values = (o.status, o.attempted_at, o.error, o.next_attempt_at, o.status, o.attempted_at)
                execute(_RECORD, (*values, holder, o.held_until, *o.ident, self.owner))

        self.database.transaction(record)

    def answered_late(self, ident: tuple[str, int, str], at: float) -> bool:
        """A timed-out attempt's receiver accepted after all: delivered, if the claim is still ours."""
        return self.database.transaction(lambda execute: execute(_LATE, (at, *ident, self.owner)).rowcount == 1)


def _alert_row(alert: Alert, now: float) -> tuple[Any, ...]:
    return (
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
    )
