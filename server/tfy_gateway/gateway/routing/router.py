"""`Router`: the routing engine's entry point (plan, execute, explain)."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from tfy_gateway.gateway.routing.backend import MemoryBackend, RoutingBackend
from tfy_gateway.gateway.routing.types import Attempt, Outcome, PlanResult, RetryPolicy, RoutePlan, RouteRequest
from tfy_gateway.gateway.snapshot import ConfigSnapshot

Sleep = Callable[[float], Awaitable[Any]]


class Router:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        backend: RoutingBackend | None = None,
    ) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._backend = backend or MemoryBackend()

    def compile(self, snapshot: ConfigSnapshot) -> None:
        """Compile the snapshot's routing rules (pass-through for now)."""

    def plan(self, request: RouteRequest) -> RoutePlan:
        return RoutePlan(request.model, None, None, None, (Attempt(request.model),), False)

    async def execute(
        self,
        plan: RoutePlan,
        call: Callable[[Attempt], Awaitable[Outcome]],
        *,
        retry_override: RetryPolicy | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> PlanResult:
        attempt = plan.attempts[0]
        outcome = await call(attempt)
        return PlanResult(outcome, attempt, [(attempt.target, outcome.status)], 0, 0)

    def explain(self, request: RouteRequest) -> dict[str, Any]:
        return {"requested_model": request.model, "matched_rule": None, "rules": [], "attempts": [request.model]}
