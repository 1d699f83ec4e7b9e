"""Rate-limit test helpers: rules compiled the way the gateway compiles them, a hand-driven clock."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.gateway.data_plane.conftest import dp
from tests.gateway.routing.conftest import Clock, snapshot_of
from tfy_gateway.gateway.limits import (
    CompiledLimits,
    Limiter,
    LimitPolicies,
    LimitRequest,
    MemoryLimitState,
    Reservation,
    ThresholdCrossed,
    compile_limits,
)
from tfy_gateway.gateway.limits.state import Probe

__all__ = ["Clock", "caller", "dp", "limiter", "rules"]

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine that never suspends (the in-memory store's) to its result, without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AssertionError("the in-memory limit store suspended")


class SyncLimits:
    """A `Limiter` over a `MemoryLimitState`, called synchronously; alerts are collected in `alerts`."""

    def __init__(self, clock: Clock) -> None:
        self.state = MemoryLimitState(clock)
        self.alerts: list[ThresholdCrossed] = []
        self.limiter = Limiter(self.state, clock=clock, notify=self.alerts.append)
        self.at_once = 0  # reservations made with `reserve_now`

    def reserve(self, policies: CompiledLimits | LimitPolicies, request: LimitRequest) -> Reservation | None:
        """As the data plane reserves: a request of a shape planned before goes through `reserve_now`."""
        if isinstance(policies, CompiledLimits):
            policies = LimitPolicies(rate_limits=policies)
        limiter = self.limiter
        plan = limiter.planned(policies, request.model, request.caller, request.subjects, request.metadata)
        if plan is None:
            return run(limiter.reserve(policies, request))
        self.at_once += 1
        return limiter.reserve_now(
            plan, request.body, generates=request.generates, sends=request.sends, pricing=request.pricing
        )

    def settle(self, reservation: Reservation, *, release: bool, tokens: int | None, cost: float | None = None) -> None:
        run(self.limiter.settle(reservation, release=release, tokens=tokens, cost=cost))

    def used(self, reservation: Reservation | None, hold: int = 0) -> int:
        """What the window of the reservation's `hold`-th counter holds now."""
        assert reservation is not None
        held = reservation.holds[hold]
        return self.state.read_now([Probe(held.key, held.bucket, held.span)])[0]


"""`dp`: the data-plane tests' gateway (in this event loop, with the fake provider), for end-to-end tests."""

# 2023-11-14 22:13:20 UTC: a multiple of 14,400 s (4 h), so every sub-bucket of every period starts here.
T0 = 1_700_000_000.0 - 1_700_000_000.0 % 14_400


def rules(*specs: dict[str, Any]) -> CompiledLimits:
    manifest = {"name": "limits", "type": "gateway-rate-limiting-config", "rules": list(specs)}
    return compile_limits(snapshot_of([manifest]))


def rule(rule_id: str, limit: int, unit: str = "requests_per_minute", **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "when": extra.pop("when", {}), "limit_to": limit, "unit": unit, **extra}


def limiter(start: float = T0) -> tuple[SyncLimits, Clock]:
    clock = Clock(start)
    return SyncLimits(clock), clock


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
