"""How each strategy ranks a rule's eligible targets.

A `Ranking` says which targets the first attempt is drawn from (with relative shares) and the
order of every eligible target for fallback. Unhealthy targets are left out of the draw unless no
healthy target is left (a request is never refused because everything is marked unhealthy), and
always come last in the fallback order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tfy_gateway.gateway.routing.compiled import LATENCY, PRIORITY, WEIGHT, CompiledRule, CompiledTarget
from tfy_gateway.gateway.routing.settings import RoutingSettings
from tfy_gateway.gateway.routing.stats import LatencyView
from tfy_gateway.gateway.routing.types import Attempt, RoutePlan

MAX_PLANS = 1024
"""Plans a ranking remembers (per requested model and choice) before it starts afresh: the models
come from callers, so the memo is bounded."""


@dataclass(frozen=True)
class Ranking:
    pool: tuple[CompiledTarget, ...]
    shares: tuple[float, ...]
    order: tuple[CompiledTarget, ...]
    unhealthy: frozenset[int] = frozenset()
    _attempts: dict[int, tuple[Attempt, ...]] = field(default_factory=dict, compare=False, repr=False)
    _plans: dict[tuple[str, int], RoutePlan] = field(default_factory=dict, compare=False, repr=False)
    total: float = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", sum(self.shares))

    def attempts(self, chosen: CompiledTarget) -> tuple[Attempt, ...]:
        """`chosen` first, then the other fallback candidates in order (memoised per choice)."""
        found = self._attempts.get(chosen.index)
        if found is None:
            rest = (t.attempt for t in self.order if t is not chosen and t.fallback_candidate)
            found = self._attempts[chosen.index] = (chosen.attempt, *rest)
        return found

    def plan(self, rule: CompiledRule, model: str, chosen: CompiledTarget) -> RoutePlan:
        """The plan of a request for `model` that `rule` routes to `chosen` first, without a sticky
        session: the same immutable value for every such request, built once per ranking."""
        key = (model, chosen.index)
        found = self._plans.get(key)
        if found is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            found = self._plans[key] = RoutePlan(
                requested_model=model,
                rule_id=rule.rule_id,
                config_name=rule.config_name,
                strategy=rule.strategy,
                attempts=self.attempts(chosen),
                virtual_model=rule.virtual_model,
            )
        return found

    def probabilities(self) -> dict[int, float]:
        """Chance of each pool member (by target index) to be drawn first."""
        total = self.total
        return {t.index: share / total for t, share in zip(self.pool, self.shares, strict=True)}


def draw(ranking: Ranking, rng: random.Random) -> CompiledTarget:
    pool = ranking.pool
    if len(pool) == 1:
        return pool[0]
    point = rng.random() * ranking.total
    for target, share in zip(pool, ranking.shares, strict=True):
        point -= share
        if point < 0:
            return target
    return pool[-1]


def rank(
    strategy: str,
    eligible: Sequence[CompiledTarget],
    unhealthy: frozenset[int],
    latency: Callable[[str], LatencyView],
    settings: RoutingSettings,
) -> Ranking:
    if strategy == WEIGHT:
        ranking = _weighted(eligible, unhealthy)
    elif strategy == LATENCY:
        ranking = _latency(eligible, unhealthy, latency, settings)
    elif strategy == PRIORITY:
        order = tuple(sorted(eligible, key=lambda t: (t.index in unhealthy, t.priority or 0, t.index)))
        ranking = Ranking((order[0],), (1.0,), order)
    else:  # complexity-based (virtual models): no prompt classification locally; listed order.
        order = tuple(sorted(eligible, key=lambda t: (t.index in unhealthy, t.index)))
        ranking = Ranking((order[0],), (1.0,), order)
    return Ranking(ranking.pool, ranking.shares, ranking.order, unhealthy)


def _weighted(eligible: Sequence[CompiledTarget], unhealthy: frozenset[int]) -> Ranking:
    weighted = [t for t in eligible if (t.weight or 0) > 0]
    pool = [t for t in weighted if t.index not in unhealthy] or weighted
    order = tuple(sorted(eligible, key=lambda t: (t.index in unhealthy, t.index)))
    if not pool:  # every weight is 0: the first listed target serves
        return Ranking((order[0],), (1.0,), order)
    return Ranking(tuple(pool), tuple(float(t.weight or 0) for t in pool), order)


def _latency(
    eligible: Sequence[CompiledTarget],
    unhealthy: frozenset[int],
    latency: Callable[[str], LatencyView],
    settings: RoutingSettings,
) -> Ranking:
    healthy = [t for t in eligible if t.index not in unhealthy] or list(eligible)
    views = {t.index: latency(t.target) for t in eligible}
    judged = [t for t in healthy if views[t.index].samples >= settings.latency_min_samples]
    if judged:
        fastest = min(views[t.index].mean_tpot_ms or 0.0 for t in judged)
        cutoff = fastest * settings.latency_fast_ratio
        # Unjudged targets stay in the pool so they collect the samples they need to be judged.
        pool = [
            t
            for t in healthy
            if views[t.index].samples < settings.latency_min_samples or (views[t.index].mean_tpot_ms or 0.0) <= cutoff
        ]
    else:
        pool = healthy
    members = {t.index for t in pool}

    def fallback_key(t: CompiledTarget) -> tuple[bool, bool, float, int]:
        view = views[t.index]
        slow_mean = (view.mean_tpot_ms or 0.0) if t.index not in members else 0.0
        return (t.index in unhealthy, t.index not in members, slow_mean, t.index)

    return Ranking(tuple(pool), tuple(1.0 for _ in pool), tuple(sorted(eligible, key=fallback_key)))
