"""`Router`: plan each request against compiled rules, run the retry loop, learn from outcomes.

The router owns the state that outlives a configuration (latency samples, failure counts, sticky
pins, health marks), keyed by target and rule id so that re-applying a config keeps it. The rules
themselves are a `CompiledRouting` the caller passes in: the one of the configuration version the
request started with; what the router remembers about it (rules per model, static rankings) is
kept beside it, per compiled value, never written into it. Thread model: one event loop; `plan`
and the bookkeeping in `execute` are synchronous, so no locks are needed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import anyio

from tfy_gateway.gateway.routing.backend import MemoryBackend, RoutingBackend
from tfy_gateway.gateway.routing.compiled import (
    LATENCY,
    CompiledRouting,
    CompiledRule,
    CompiledTarget,
    ModelRules,
)
from tfy_gateway.gateway.routing.execute import Sleep, run_plan
from tfy_gateway.gateway.routing.health import Health
from tfy_gateway.gateway.routing.matching import metadata_matches
from tfy_gateway.gateway.routing.memo import ConfigMemo, ModelMemo
from tfy_gateway.gateway.routing.settings import RoutingSettings
from tfy_gateway.gateway.routing.stats import LatencyStats, LatencyView
from tfy_gateway.gateway.routing.sticky import sticky_key
from tfy_gateway.gateway.routing.strategies import Ranking, draw, rank
from tfy_gateway.gateway.routing.types import Attempt, Outcome, PlanResult, RetryPolicy, RoutePlan, RouteRequest

_HEALTHY: frozenset[int] = frozenset()


class _Memo:
    """What the router remembers about one `CompiledRouting` (see `routing.memo`)."""

    __slots__ = ("rankings", "rules")

    def __init__(self, routing: CompiledRouting, model_cache_size: int) -> None:
        self.rules: ModelMemo[CompiledRule, ModelRules] = ModelMemo(routing.index, ModelRules, model_cache_size)
        # Rankings that depend on neither request nor health: a rule with every target eligible and healthy.
        self.rankings: dict[str, Ranking] = {}


class Router:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        backend: RoutingBackend | None = None,
        *,
        settings: RoutingSettings | None = None,
    ) -> None:
        self.clock = clock
        self.settings = settings or RoutingSettings()
        self.backend: RoutingBackend = backend or MemoryBackend()
        self.health = Health(self.backend, self.settings)
        self.latency = LatencyStats(
            max_calls=self.settings.latency_window_calls, max_age_s=self.settings.latency_window_s
        )
        self._rng = rng or random.Random()
        size = self.settings.model_cache_size
        self._memos: ConfigMemo[CompiledRouting, _Memo] = ConfigMemo(lambda routing: _Memo(routing, size))

    # --- planning ---------------------------------------------------------------------------

    def match(
        self, routing: CompiledRouting, request: RouteRequest
    ) -> tuple[CompiledRule, Sequence[CompiledTarget]] | None:
        """The rule routing `request` and its targets that pass `metadata_match`, or None.

        A virtual model's own routing config comes first; then the first gateway rule whose `when`
        matches and that has at least one target whose `metadata_match` fits the request.
        """
        return self._match(routing, self._memos.of(routing), request)

    def _match(
        self, routing: CompiledRouting, memo: _Memo, request: RouteRequest
    ) -> tuple[CompiledRule, Sequence[CompiledTarget]] | None:
        virtual = routing.virtual_models.get(request.model)
        if virtual is not None:
            return virtual, eligible_targets(virtual, request)
        for rule in memo.rules.get(request.model).candidates(request.subjects):
            if rule.when.matches(request):
                eligible = eligible_targets(rule, request)
                if eligible:
                    return rule, eligible
        return None

    def rank(
        self, routing: CompiledRouting, rule: CompiledRule, eligible: Sequence[CompiledTarget], now: float
    ) -> Ranking:
        return self._rank(self._memos.of(routing), rule, eligible, now)

    def _rank(self, memo: _Memo, rule: CompiledRule, eligible: Sequence[CompiledTarget], now: float) -> Ranking:
        health = self.health
        marked = [t.index for t in eligible if health.unhealthy_until(t.target, t.sla_mark, now) is not None]
        unhealthy = frozenset(marked) if marked else _HEALTHY
        if unhealthy or rule.strategy == LATENCY or len(eligible) != len(rule.targets):
            return rank(rule.strategy, eligible, unhealthy, self.latency_view(now), self.settings)
        # Weight/priority with every target eligible and healthy: the same ranking every time.
        static = memo.rankings
        ranking = static.get(rule.key)
        if ranking is None:
            ranking = static[rule.key] = rank(rule.strategy, eligible, unhealthy, self.latency_view(now), self.settings)
        return ranking

    def latency_view(self, now: float) -> Callable[[str], LatencyView]:
        return lambda target: self.latency.view(target, now)

    def unrouted(self, routing: CompiledRouting, model: str) -> RoutePlan | None:
        """`model`'s pass-through plan when no virtual model and no rule can route it, whoever asks
        (what `plan` returns then): a caller need not describe its request. None when a rule might."""
        if model in routing.virtual_models:
            return None
        rules = self._memos.of(routing).rules.get(model)
        return None if rules.rules else rules.passthrough

    def plan(self, routing: CompiledRouting, request: RouteRequest) -> RoutePlan:
        """Chosen target first, then the fallback candidates in order. Pins sticky sessions."""
        return self.build_plan(routing, request, self._rng, pin=True)

    def build_plan(
        self, routing: CompiledRouting, request: RouteRequest, rng: random.Random, *, pin: bool
    ) -> RoutePlan:
        memo = self._memos.of(routing)
        found = self._match(routing, memo, request)
        if found is None or not found[1]:
            return memo.rules.get(request.model).passthrough
        rule, eligible = found
        now = self.clock()
        ranking = self._rank(memo, rule, eligible, now)
        chosen: CompiledTarget | None = None
        key: str | None = None
        if rule.sticky is not None:
            key = sticky_key(rule.key, rule.sticky, request)
            if key is not None:
                chosen = self._pinned(key, ranking, now)
                if chosen is None:
                    chosen = draw(ranking, rng)
                    if pin:
                        self.backend.sticky_set(key, chosen.target, rule.sticky.ttl_s, now)
        if chosen is None:
            chosen = draw(ranking, rng)
        plan = ranking.plan(rule, request.model, chosen)
        if key is None:
            return plan
        # A sticky session's plan: the shared one with the session's key.
        return replace(plan, sticky_key=key, sticky_ttl_s=rule.sticky.ttl_s if rule.sticky is not None else None)

    def _pinned(self, key: str, ranking: Ranking, now: float) -> CompiledTarget | None:
        """The pinned target if it is still a healthy member of the draw, else None (re-pick)."""
        pinned = self.backend.sticky_get(key, now)
        if pinned is None:
            return None
        return next((t for t in ranking.pool if t.target == pinned and t.index not in ranking.unhealthy), None)

    # --- executing --------------------------------------------------------------------------

    def record(self, attempt: Attempt, outcome: Outcome) -> None:
        """Feed one upstream outcome into health and latency stats.

        `execute` records every try as it ends. A stream succeeds with its first chunk; the caller
        reports how the rest went (its final status and timings) with one more `record` once it ended.
        """
        now = self.clock()
        self.health.record(attempt, outcome, now)
        if outcome.status < 400 and outcome.tpot_ms is not None:
            self.latency.record(attempt.target, now, outcome.tpot_ms)

    async def execute(
        self,
        plan: RoutePlan,
        call: Callable[[Attempt], Awaitable[Outcome]],
        *,
        retry_override: RetryPolicy | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> PlanResult:
        """Run `plan` through `call` with retries and fallback (see `execute.run_plan`)."""
        result = await run_plan(
            plan,
            call,
            record=self.record,
            sleep=sleep,
            retry_override=retry_override,
            max_total_attempts=self.settings.max_total_attempts,
            retry_after_cap_s=self.settings.retry_after_cap_s,
        )
        served = result.served_by
        if (
            plan.sticky_key is not None
            and plan.sticky_ttl_s is not None
            and served is not None
            and result.outcome.status < 400
            and served.target != plan.attempts[0].target
        ):
            # The pinned target failed over: keep the session where it was served.
            self.backend.sticky_set(plan.sticky_key, served.target, plan.sticky_ttl_s, self.clock())
        return result


def eligible_targets(rule: CompiledRule, request: RouteRequest) -> Sequence[CompiledTarget]:
    """The targets whose `metadata_match` fits the request (all of them when none has one)."""
    if not rule.matches_metadata:
        return rule.targets
    return [t for t in rule.targets if not t.metadata_match or metadata_matches(t.metadata_match, request.metadata)]
