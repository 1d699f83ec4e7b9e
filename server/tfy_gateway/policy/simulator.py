"""`Simulator`: a request through the gateway's admission and accounting, on simulated time.

What the data-plane pipeline does to a request, with the gateway's own parts and no I/O: the
caller's principal, `Router.plan` and the pipeline's access check (`authorized_plan`: 403), the
limits hook (`PolicyLimits.reserve`: 429), `Router.execute` with providers that answer at once (or
fail as a test scripts them), and `PolicyLimits.settle` with the answer's usage and cost at the
served model's price. Limiter, limit store and router all run on the simulator's `SimClock`.
Nothing here decides a policy question itself, so a simulation can only disagree with the live
gateway where the live one sees what a simulation does not (real latencies, real provider errors).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS, EndpointSpec
from tfy_gateway.gateway.data_plane.failures import DataPlaneError
from tfy_gateway.gateway.data_plane.headers import RequestOptions
from tfy_gateway.gateway.data_plane.limiting import LimitExceeded, PolicyLimits
from tfy_gateway.gateway.data_plane.pipeline import authorized_plan
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.limits import Limiter, MemoryLimitState
from tfy_gateway.gateway.providers import Usage
from tfy_gateway.gateway.routing import Attempt, Outcome, Router, RouteRequest
from tfy_gateway.policy.clock import SimClock
from tfy_gateway.policy.config import PolicyConfig
from tfy_gateway.policy.traffic import SimOutcome, SimRequest

_BY_NAME: dict[str, EndpointSpec] = {spec.name: spec for spec in ENDPOINTS.values()}


class Simulator:
    """One gateway's limit counters and routing state over one `PolicyConfig`; `send` in time order."""

    def __init__(
        self,
        config: PolicyConfig,
        clock: SimClock | None = None,
        *,
        seed: int = 0,
        failing: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SimClock()
        self.limiter = Limiter(MemoryLimitState(self.clock), clock=self.clock)
        self.limits = PolicyLimits(self.limiter)
        self.router = Router(clock=self.clock, rng=random.Random(seed))
        self.failing = dict(failing or {})  # target -> the status its provider answers with

    async def send(self, request: SimRequest) -> SimOutcome:
        """Admit, route and settle `request` at `request.at` (or now, if that has passed)."""
        self.clock.move_to(request.at)
        compiled = self.config.compiled
        endpoint = _BY_NAME.get(request.endpoint) or _BY_NAME["chat"]
        principal = self.config.principal(request.caller, request.teams, admin=request.admin)
        route = RouteRequest(request.model, principal.subjects, request.metadata, request.headers)
        try:
            plan = authorized_plan(self.router.plan(compiled.routing, route), compiled.access, principal)
        except ApiError as exc:
            return SimOutcome(exc.status, message=exc.message)
        ctx = RequestContext(
            endpoint=endpoint,
            config=compiled,
            principal=principal,
            options=RequestOptions(metadata=request.metadata),
            body=dict(request.body),
            model=request.model,
            plan=plan,
            created_at=self.clock.now,
        )
        try:
            ctx.reservation = await self.limits.reserve(ctx)
        except LimitExceeded as refused:
            return SimOutcome.refused(refused.refusal, plan.rule_id, refused.applied)
        result = await self.router.execute(plan, self._answer, sleep=self.clock.sleep)
        served = result.served_by if result.outcome.status < 400 else None
        if served is not None:
            used = request.answered_usage()
            ctx.usage = Usage(prompt_tokens=used.prompt_tokens, completion_tokens=used.completion_tokens)
            ctx.entry = compiled.catalog.get(served.target)
            priced = ctx.entry.pricing.cost(ctx.usage) if ctx.entry is not None else None
            ctx.cost = priced if priced is not None else request.cost  # a recorded cost where the config has no price
            ctx.status = 200
        else:
            ctx.status = result.outcome.status
            ctx.error = DataPlaneError(ctx.status, "the provider failed (simulated)", origin="api_error")
        reservation = ctx.reservation
        if reservation is not None:
            pending = self.limits.settle(reservation, ctx)
            if pending is not None:
                await pending
        return SimOutcome(
            ctx.status,
            served_by=served.target if served is not None else None,
            route_rule=plan.rule_id if not plan.virtual_model else plan.config_name,
            applied=reservation.applied if reservation is not None else (),
            would_block=reservation.would_block if reservation is not None else (),
            tokens=ctx.usage.total_tokens if ctx.usage is not None else 0,
            cost=ctx.cost,
            tries=tuple(result.tries),
        )

    async def _answer(self, attempt: Attempt) -> Outcome:
        return Outcome(self.failing.get(attempt.target, 200))
