"""Reading request logs: filtered pages and usage summaries (control-plane paths, not the hot path).

The SQL is the same for SQLite and PostgreSQL: `connection` is anything whose `execute(sql, params)`
takes `?` placeholders (a `sqlite3.Connection`, or the PostgreSQL backend's adapter).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import orjson

from tfy_gateway.gateway.errors import RequestError
from tfy_gateway.gateway.request_logs.record import COLUMNS, row_to_dict

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STATUS_CLASS = re.compile(r"^([1-5])xx$")


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Executes(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any], /) -> Rows: ...


class QueryError(RequestError, ValueError):
    """A filter value that cannot be understood; the message says what is accepted."""


def parse_since(value: str, *, now: float | None = None) -> float:
    """Epoch seconds from `15m`/`2h`/`7d`/`1w` (ago), an ISO-8601 time, or epoch seconds."""
    text = value.strip()
    now = time.time() if now is None else now
    relative = _RELATIVE.match(text)
    if relative:
        return now - float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"since={value!r} is not understood: use a duration ago (30s, 15m, 2h, 7d, 1w), an ISO-8601 "
            "time (2025-01-31T12:00:00Z) or epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class LogFilter:
    """Filters of the logs API; None means "any"."""

    model: str | None = None  # requested or resolved model
    subject: str | None = None
    status: str | None = None  # "200", "4xx", "error" (>= 400) or "success" (< 400)
    since: float | None = None
    until: float | None = None
    blocked: bool = False  # only requests a guardrail blocked
    guardrail: str | None = None  # only requests this guardrail (`<group>/<integration>`) checked
    trace_id: str | None = None  # the W3C trace id (32 hex digits)

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.model:
            clauses.append("(requested_model = ? OR resolved_model = ?)")
            params += [self.model, self.model]
        if self.subject:
            clauses.append("subject = ?")
            params.append(self.subject)
        if self.status:
            clause, values = _status_clause(self.status)
            clauses.append(clause)
            params += values
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("created_at < ?")
            params.append(self.until)
        if self.blocked:
            clauses.append("error_origin IN (?, ?)")
            params += ["guardrails_input", "guardrails_output"]
        if self.guardrail:
            clauses.append("guardrails LIKE ?")
            params.append('%"guardrail":' + orjson.dumps(self.guardrail).decode().replace("%", "\\%") + "%")
        if self.trace_id:
            clauses.append("trace_id = ?")
            params.append(self.trace_id.strip().lower())
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _status_clause(status: str) -> tuple[str, list[Any]]:
    text = status.strip().lower()
    if text.isdigit():
        return "status = ?", [int(text)]
    match = _STATUS_CLASS.match(text)
    if match:
        low = int(match.group(1)) * 100
        return "status >= ? AND status < ?", [low, low + 100]
    if text in ("error", "errors", "failure"):
        return "status >= ?", [400]
    if text in ("success", "ok"):
        return "status < ?", [400]
    raise QueryError(f"status={status!r} is not understood: use a code (429), a class (5xx), 'error' or 'success'")


def query_logs(connection: Executes, where: LogFilter, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Newest first: (one page of records, total matching)."""
    clause, params = where.where()
    total = connection.execute(f"SELECT COUNT(*) FROM request_logs{clause}", params).fetchone()[0]
    rows = connection.execute(
        f"SELECT {', '.join(COLUMNS)} FROM request_logs{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [row_to_dict(row) for row in rows], int(total)


def _grouped(connection: Executes, key: str, clause: str, params: list[Any]) -> list[dict[str, Any]]:
    """Sums per value of the SQL expression `key` (one row over everything when empty)."""
    group = f" GROUP BY {key}" if key else ""
    rows = connection.execute(
        f"SELECT {key or 'NULL'}, COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), "
        f"SUM(completion_tokens), SUM(COALESCE(cost, 0)) FROM request_logs{clause}{group} ORDER BY COUNT(*) DESC",
        params,
    ).fetchall()
    return [
        {
            "key": row[0],
            "requests": row[1],
            "errors": row[2] or 0,
            "prompt_tokens": row[3] or 0,
            "completion_tokens": row[4] or 0,
            "total_tokens": (row[3] or 0) + (row[4] or 0),
            "cost": round(row[5] or 0.0, 10),
        }
        for row in rows
    ]


def usage_summary(connection: Executes, where: LogFilter) -> dict[str, Any]:
    """Requests, errors, tokens and cost in total, per model (the one that answered, else the one
    requested) and per subject."""
    clause, params = where.where()
    totals = [row for row in _grouped(connection, "", clause, params) if row["requests"]]
    by_model = _grouped(connection, "COALESCE(resolved_model, requested_model)", clause, params)
    by_subject = _grouped(connection, "subject", clause, params)
    empty = {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.0}
    total = {k: v for k, v in (totals[0] if totals else {"key": None, **empty}).items() if k != "key"}
    return {
        "total": total,
        "by_model": [{"model": item.pop("key"), **item} for item in by_model],
        "by_subject": [{"subject": item.pop("key"), **item} for item in by_subject],
    }
