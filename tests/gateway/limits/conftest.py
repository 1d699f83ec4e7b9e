"""Rate-limit test helpers: rules compiled the way the gateway compiles them, a hand-driven clock."""

from __future__ import annotations

from typing import Any

from tests.gateway.data_plane.conftest import dp, provider
from tests.gateway.routing.conftest import Clock, snapshot_of
from tfy_gateway.gateway.limits import CompiledLimits, LimitRequest, RateLimiter, WindowCounters, compile_limits

__all__ = ["Clock", "caller", "dp", "limiter", "provider", "rules"]
"""`dp` and `provider`: the data-plane tests' gateway subprocess and fake provider, for end-to-end tests."""

# 2023-11-14 22:13:20 UTC: a multiple of 14,400 s (4 h), so every sub-bucket of every period starts here.
T0 = 1_700_000_000.0 - 1_700_000_000.0 % 14_400


def rules(*specs: dict[str, Any]) -> CompiledLimits:
    manifest = {"name": "limits", "type": "gateway-rate-limiting-config", "rules": list(specs)}
    return compile_limits(snapshot_of([manifest]))


def rule(rule_id: str, limit: int, unit: str = "requests_per_minute", **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "when": extra.pop("when", {}), "limit_to": limit, "unit": unit, **extra}


def limiter(start: float = T0) -> tuple[RateLimiter, Clock]:
    clock = Clock(start)
    return RateLimiter(WindowCounters(clock)), clock


def caller(
    user: str = "a@x",
    *,
    teams: tuple[str, ...] = (),
    model: str = "fake/gpt-4o",
    metadata: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    generates: bool = True,
) -> LimitRequest:
    subject = user if ":" in user else f"user:{user}"
    subjects = (subject, *(f"team:{t}" for t in teams), *(("team:everyone",) if subject.startswith("user:") else ()))
    return LimitRequest(
        model=model,
        caller=subject,
        subjects=subjects,
        metadata=metadata or {},
        body=body if body is not None else {"model": model, "messages": [{"role": "user", "content": "hi"}]},
        generates=generates,
    )
