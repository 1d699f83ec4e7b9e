"""Reading request logs: filtered pages and usage summaries (control-plane paths, not the hot path).

The SQL is the same for SQLite and PostgreSQL: `connection` is anything whose `execute(sql, params)`
takes `?` placeholders (a `sqlite3.Connection`, or the PostgreSQL backend's adapter).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Protocol

import orjson

from tfy_gateway.gateway.errors import RequestError
from tfy_gateway.gateway.request_logs.record import COLUMNS, row_to_dict
from tfy_gateway.gateway.request_logs.schema import RESOLVED_DIFFERS

_RELATIVE = re.compile(r"^(\d{1,9}(?:\.\d{1,6})?)\s*(s|m|h|d|w)$", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.ASCII)
_STATUS_CODE = re.compile(r"^[1-5][0-9][0-9]$", re.ASCII)
_EPOCH = re.compile(r"^\d{1,12}(?:\.\d{1,9})?$", re.ASCII)
LATEST_TIME = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last moment a date can show


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Executes(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any], /) -> Rows: ...


class QueryError(RequestError, ValueError):
    """A filter value that cannot be understood; the message says what is accepted."""


def parse_since(value: str, *, now: float | None = None, name: str = "since") -> float:
    """Epoch seconds from `15m`/`2h`/`7d`/`1w` (ago), an ISO-8601 time, or epoch seconds; a moment
    before 1970 or after 9999 (or not a number: inf, nan) is a `QueryError` naming the parameter."""
    text = value.strip()
    now = time.time() if now is None else now
    relative = _RELATIVE.match(text)
    if relative:
        moment = now - float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    elif _EPOCH.match(text):
        moment = float(text)
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(
                f"{name}={value[:40]!r} is not understood: use a duration ago (30s, 15m, 2h, 7d, 1w), an "
                "ISO-8601 time (2025-01-31T12:00:00Z) or epoch seconds"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        moment = parsed.timestamp()
    if not 0 <= moment <= LATEST_TIME:
        raise QueryError(f"{name}={value[:40]!r} is out of range: it must fall between 1970 and 9999 (UTC)")
    return moment


@dataclass(frozen=True)
class Dialect:
    """The few SQL fragments the engines spell differently: JSON columns expanded into rows (aliased
    with the given name, columns `key`/`value` for an object, `value` for an array) and floor()."""

    name: str
    object_rows: str
    array_rows: str
    model_equals: str  # the requested or the resolved model is ? (two parameters)
    metadata_equals: str  # a record's metadata has key ? with value ? (two parameters, in that order)
    metadata_value: str | None  # the value of metadata key ? (one parameter); None: group through object_rows
    budget_rows: str  # the budget rule ids of a record's `limits`
    rate_limit: str  # the rate-limit rule id of a record's `limits`
    floor: str

    def each(self, template: str, column: str, alias: str) -> str:
        return template.format(column=column, alias=alias)


SQLITE = Dialect(
    "sqlite",
    object_rows="json_each({column}) AS {alias}",
    array_rows="json_each({column}) AS {alias}",
    # Said so the partial index of resolved models (schema.RESOLVED_DIFFERS) serves its half.
    model_equals=f"(requested_model = ? OR (resolved_model = ? AND {RESOLVED_DIFFERS}))",
    metadata_equals="EXISTS (SELECT 1 FROM json_each(metadata) AS fm WHERE fm.key = ? AND fm.value = ?)",
    metadata_value=None,  # json_extract takes a path, and a key may hold any character
    budget_rows="json_each(limits, '$.budgets') AS {alias}",
    rate_limit="json_extract(limits, '$.rate_limit')",
    floor="CAST({value} AS INTEGER)",  # truncation: the floor of the non-negative values it is given
)
POSTGRES = Dialect(
    "postgres",
    object_rows="jsonb_each_text(CAST({column} AS jsonb)) AS {alias}(key, value)",
    array_rows="jsonb_array_elements_text(CAST({column} AS jsonb)) AS {alias}(value)",
    model_equals="(requested_model = ? OR resolved_model = ?)",
    metadata_equals="(CAST(metadata AS jsonb) ->> ?) = ?",  # one lookup, no set-returning function per row
    metadata_value="(CAST(metadata AS jsonb) ->> ?)",
    budget_rows="jsonb_array_elements_text(COALESCE(CAST(limits AS jsonb) -> 'budgets', '[]')) AS {alias}(value)",
    rate_limit="(CAST(limits AS jsonb) ->> 'rate_limit')",
    floor="FLOOR({value})",
)


@dataclass(frozen=True)
class LogFilter:
    """Filters of the logs API; None (or empty) means "any"; all of them must hold."""

    model: str | None = None  # requested or resolved model
    subject: str | None = None
    status: str | None = None  # "200", "4xx", "error" (>= 400) or "success" (< 400)
    since: float | None = None
    until: float | None = None
    blocked: bool = False  # only requests a guardrail blocked
    guardrail: str | None = None  # only requests this guardrail (`<group>/<integration>`) checked
    trace_id: str | None = None  # the W3C trace id (32 hex digits)
    id: str | None = None  # one record
    team: str | None = None  # the caller was in this team when the request was made
    metadata: tuple[tuple[str, str], ...] = ()  # (key, value) pairs the request's metadata carries
    rule: str | None = None  # the routing, rate-limit or budget rule that applied

    def __post_init__(self) -> None:
        if self.status:
            _status_clause(self.status)  # a status the query cannot use is refused before it runs

    def conditions(self, dialect: Dialect = SQLITE) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.id:
            clauses.append("id = ?")
            params.append(self.id)
        if self.model:
            clauses.append(dialect.model_equals)
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
        if self.team:
            clauses.append(
                f"EXISTS (SELECT 1 FROM {dialect.each(dialect.array_rows, 'teams', 'ft')} WHERE ft.value = ?)"
            )
            params.append(self.team)
        for key, value in self.metadata:
            clauses.append(dialect.metadata_equals)
            params += [key, value]
        if self.rule:
            routing = dialect.each(dialect.array_rows, "rule_ids", "fr")
            budgets = dialect.each(dialect.budget_rows, "", "fb")
            clauses.append(
                f"(EXISTS (SELECT 1 FROM {routing} WHERE fr.value = ?) OR {dialect.rate_limit} = ?"
                f" OR EXISTS (SELECT 1 FROM {budgets} WHERE fb.value = ?))"
            )
            params += [self.rule, self.rule, self.rule]
        return clauses, params

    def where(self, dialect: Dialect = SQLITE) -> tuple[str, list[Any]]:
        clauses, params = self.conditions(dialect)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _status_clause(status: str) -> tuple[str, list[Any]]:
    text = status.strip().lower()
    if _STATUS_CODE.match(text):
        return "status = ?", [int(text)]
    match = _STATUS_CLASS.match(text)
    if match:
        low = int(match.group(1)) * 100
        return "status >= ? AND status < ?", [low, low + 100]
    if text in ("error", "errors", "failure"):
        return "status >= ?", [400]
    if text in ("success", "ok"):
        return "status < ?", [400]
    raise QueryError(
        f"status={status[:40]!r} is not understood: use a code (100-599, e.g. 429), a class (5xx), 'error' or 'success'"
    )


def query_logs(
    connection: Executes, where: LogFilter, *, limit: int, offset: int, dialect: Dialect = SQLITE
) -> tuple[list[dict[str, Any]], int]:
    """Newest first: (one page of records, total matching)."""
    clause, params = where.where(dialect)
    total = connection.execute(f"SELECT COUNT(*) FROM request_logs{clause}", params).fetchone()[0]
    rows = connection.execute(
        f"SELECT {', '.join(COLUMNS)} FROM request_logs{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [row_to_dict(row) for row in rows], int(total)


_SUMS = (
    "COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), SUM(completion_tokens), "
    "SUM(COALESCE(cost, 0))"
)


def _sums(row: Sequence[Any]) -> dict[str, Any]:
    """The figures of one grouped row (`_SUMS`, in order)."""
    return {
        "requests": row[0],
        "errors": row[1] or 0,
        "prompt_tokens": row[2] or 0,
        "completion_tokens": row[3] or 0,
        "total_tokens": (row[2] or 0) + (row[3] or 0),
        "cost": round(row[4] or 0.0, 10),
    }


def _grouped(
    connection: Executes, key: str, clause: str, params: list[Any], join: str = "", key_params: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """Sums per value of the SQL expression `key` (one row over everything when empty); `join`: more
    FROM items (a JSON column's rows) the key and the clause may use; `key_params`: the key's own."""
    group = " GROUP BY 1" if key else ""  # by position: a key with a parameter is the same expression
    rows = connection.execute(
        f"SELECT {key or 'NULL'}, {_SUMS} FROM request_logs{join}{clause}{group} ORDER BY COUNT(*) DESC",
        [*key_params, *params],
    ).fetchall()
    return [{"key": row[0], **_sums(row[1:])} for row in rows]


def usage_summary(connection: Executes, where: LogFilter, dialect: Dialect = SQLITE) -> dict[str, Any]:
    """Requests, errors, tokens and cost in total, per model (the one that answered, else the one
    requested) and per subject."""
    clause, params = where.where(dialect)
    by_model = _grouped(connection, "COALESCE(resolved_model, requested_model)", clause, params)
    by_subject = _grouped(connection, "subject", clause, params)
    # The total is the sum of the per-model rows (every record is in exactly one): one scan fewer.
    total: dict[str, Any] = {name: sum(row[name] for row in by_model) for name in _FIGURES}
    total["cost"] = round(float(total["cost"]), 10)
    return {
        "total": total,
        "by_model": [{"model": item.pop("key"), **item} for item in by_model],
        "by_subject": [{"subject": item.pop("key"), **item} for item in by_subject],
    }


_FIGURES = ("requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost")


def usage_by(connection: Executes, where: LogFilter, by: str, dialect: Dialect = SQLITE) -> list[dict[str, Any]]:
    """Sums per model, subject, team (of the caller then: a request of a user in two teams counts for
    both) or value of one metadata key (`metadata:<key>`; requests without it are left out), busiest
    first, each row's value under `key`."""
    kind, _, metadata_key = by.partition(":")
    clauses, params = where.conditions(dialect)
    if kind == "model":
        return _grouped(connection, "COALESCE(resolved_model, requested_model)", _joined(clauses), params)
    if kind == "subject":
        return _grouped(connection, "subject", _joined(clauses), params)
    if kind == "team":
        join = ", " + dialect.each(dialect.array_rows, "request_logs.teams", "g")
        return _grouped(connection, "g.value", _joined(clauses), params, join)
    if kind == "metadata" and metadata_key and dialect.metadata_value:
        value = dialect.metadata_value
        where_value = _joined([*clauses, f"{value} IS NOT NULL"])
        return _grouped(connection, value, where_value, [*params, metadata_key], key_params=(metadata_key,))
    if kind == "metadata" and metadata_key:
        join = ", " + dialect.each(dialect.object_rows, "request_logs.metadata", "g")
        return _grouped(connection, "g.value", _joined([*clauses, "g.key = ?"]), [*params, metadata_key], join)
    raise QueryError(f"group_by={by!r} is not understood: use model, subject, team or metadata:<key>")


def _joined(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def usage_series(
    connection: Executes, where: LogFilter, *, start: float, end: float, bucket_s: float, dialect: Dialect = SQLITE
) -> list[dict[str, Any]]:
    """Sums per `bucket_s`-second bucket from `start` to `end` (the filter's own window is narrowed to
    it), every bucket listed, empty ones with zeros, each with its `start` (epoch seconds)."""
    if bucket_s <= 0 or end <= start:
        raise QueryError("a series needs a positive bucket and an end after its start")
    since = max(start, where.since) if where.since is not None else start
    until = min(end, where.until) if where.until is not None else end
    clauses, params = replace(where, since=since, until=until).conditions(dialect)
    bucket = dialect.floor.format(value="(created_at - ?) / ?")
    rows = connection.execute(
        f"SELECT {bucket} AS bucket, {_SUMS} FROM request_logs{_joined(clauses)} GROUP BY bucket",
        [start, bucket_s, *params],
    ).fetchall()
    found = {int(row[0]): _sums(row[1:]) for row in rows}
    empty = _sums((0, 0, 0, 0, 0.0))
    count = max(1, int(-(-(end - start) // bucket_s)))
    return [{"start": start + i * bucket_s, **found.get(i, empty)} for i in range(count)]
