"""Request-log records for tests: every field a query filters, sorts or sums, with plain defaults."""

from __future__ import annotations

from typing import Any

from tfy_gateway.gateway.request_logs import LogRecord

NOW = 1_800_000_000.0


def record(
    n: int, *, at: float = NOW, subject: str = "user:a@x", status: int = 200, cost: float = 0.5, **extra: Any
) -> LogRecord:
    """Record `r<n>`: 10 prompt and 5 completion tokens on `acct/m`, metadata {"k": "v"} (unless given)."""
    extra.setdefault("metadata", {"k": "v"})
    extra.setdefault("requested_model", "acct/m")
    extra.setdefault("resolved_model", "acct/m")
    return LogRecord(
        id=f"r{n}",
        created_at=at,
        subject=subject,
        endpoint="chat",
        status=status,
        latency_ms=1.25,
        prompt_tokens=10,
        completion_tokens=5,
        cost=cost,
        tries=[["acct/m", status]],
        **extra,
    )
