"""`LogRecord`: what one data-plane request leaves behind (never a token, a key or an auth header)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

COLUMNS = (
    "id",
    "created_at",
    "subject",
    "token_name",
    "endpoint",
    "requested_model",
    "resolved_model",
    "status",
    "error",
    "error_origin",
    "latency_ms",
    "ttft_ms",
    "provider_ms",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost",
    "stream",
    "metadata",
    "rule_ids",
    "retries",
    "fallbacks",
    "tries",
    "request_body",
    "response_body",
    "usage_estimated",
    "limits",
    "trace_id",
    "teams",
    "guardrails",
)
Row = tuple[Any, ...]
"""A record as stored: one value per column of `COLUMNS`, in order (`LogRecord.to_row`)."""
_JSON_COLUMNS = frozenset({"metadata", "rule_ids", "tries", "limits", "teams", "guardrails"})


@dataclass(slots=True)
class LogRecord:
    id: str
    created_at: float  # epoch seconds when the request arrived
    subject: str | None = None
    token_name: str | None = None
    endpoint: str = ""
    requested_model: str | None = None
    resolved_model: str | None = None
    status: int = 0
    error: str | None = None
    error_origin: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    provider_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: float | None = None
    stream: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    rule_ids: list[str] = field(default_factory=list)
    retries: int = 0
    fallbacks: int = 0
    tries: list[Any] = field(default_factory=list)  # [[target, status], ...]
    request_body: str | None = None  # only with x-tfy-logging-config {"enabled": true}
    response_body: str | None = None
    # The provider never reported usage (a stream cut short): the tokens are the gateway's estimate.
    usage_estimated: bool = False
    # Rate-limit and budget rules applied: {"rate_limit": id, "budgets": [ids], "would_have_blocked":
    # [{"kind", "config", "rule_id"}]} (audit-mode rules that would have refused the request).
    limits: dict[str, Any] = field(default_factory=dict)
    # The W3C trace id of the request's trace (32 hex digits): the gateway's own when it exports traces,
    # else the one of the client's traceparent; None when neither.
    trace_id: str | None = None
    # The caller's teams when the request was made (team:everyone left out): per-team usage counts a
    # request for the teams its user was in then, whatever the membership is now.
    teams: list[str] = field(default_factory=list)
    # Each guardrail that ran: {"guardrail", "stage", "operation", "mode", "result", "latency_ms",
    # "message"?, "blocked"?} (the message says what was found, never the text that matched).
    guardrails: list[dict[str, Any]] = field(default_factory=list)

    def to_row(self) -> Row:
        return (
            self.id,
            self.created_at,
            self.subject,
            self.token_name,
            self.endpoint,
            self.requested_model,
            self.resolved_model,
            self.status,
            self.error,
            self.error_origin,
            stored_ms(self.latency_ms),
            None if self.ttft_ms is None else stored_ms(self.ttft_ms),
            None if self.provider_ms is None else stored_ms(self.provider_ms),
            self.prompt_tokens,
            self.completion_tokens,
            self.cached_tokens,
            self.cost,
            int(self.stream),
            json_text(self.metadata, "{}"),
            json_text(self.rule_ids, "[]"),
            self.retries,
            self.fallbacks,
            json_text(self.tries, "[]"),
            self.request_body,
            self.response_body,
            int(self.usage_estimated),
            json_text(self.limits, "{}"),
            self.trace_id,
            json_text(self.teams, "[]"),
            json_text(self.guardrails, "[]"),
        )


def json_text(value: Any, empty: str) -> str:
    """A JSON column's text; most records leave most of them empty, written without encoding."""
    return orjson.dumps(value).decode() if value else empty


def stored_ms(milliseconds: float) -> float:
    """Milliseconds as stored, to the microsecond: what `round(milliseconds, 3)` gives (but for a tie
    at the fourth decimal) at a quarter of its cost; a request's row has up to three of them."""
    return round(milliseconds * 1000) / 1000


def row_to_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row as the query API returns it (JSON columns decoded, ISO time added)."""
    item = dict(zip(COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        raw = item.get(name)
        item[name] = orjson.loads(raw) if raw else ({} if name in ("metadata", "limits") else [])
    item["stream"] = bool(item["stream"])
    item["usage_estimated"] = bool(item["usage_estimated"])
    item["time"] = datetime.fromtimestamp(item["created_at"], tz=timezone.utc).isoformat()
    item["total_tokens"] = (item["prompt_tokens"] or 0) + (item["completion_tokens"] or 0)
    if item["request_body"] is None:
        del item["request_body"]
    if item["response_body"] is None:
        del item["response_body"]
    if item["trace_id"] is None:
        del item["trace_id"]
    return item
