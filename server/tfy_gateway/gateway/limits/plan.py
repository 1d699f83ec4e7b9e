"""`CounterPlan`: the counters a request of one shape is charged in, described once per shape.

Requests of one caller, model and metadata meet the same rules, so the limiter plans their counters
once (`Limiter._plan`) and every such request reuses the plan: the counters' keys, spans, limits and
enforcement (the store's `state.Counters`), what each holds (`Measure`), the rule and entity behind
each (for refusals, alerts and reports), where the headroom headers come from, and which counters a
settlement corrects or watches. A request adds only its amounts, one list; its buckets are shared
too (`CounterPlan.window`: the same for every request until the next sub-bucket starts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT, NANO_USD, bounded
from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.limits.calendar import CalendarPeriod
from tfy_gateway.gateway.limits.rules import LimitRule
from tfy_gateway.gateway.limits.scope import Entity
from tfy_gateway.gateway.limits.state import Counters
from tfy_gateway.gateway.limits.window import Period

HoldKind = Literal["requests", "tokens", "cost"]
Measure = Literal["request", "tokens", "cost", "budget-tokens"]
"""What a counter holds for a request: 1, its token estimate (capped at the limit), its cost estimate,
or its token estimate under a token budget (checked for room: spend below the limit)."""

Window = tuple[float, float, tuple[int, ...], tuple[float, ...]]
"""(from, until, buckets, expiries): every counter's bucket and expiry for a time in [from, until)."""


class Slot(NamedTuple):
    """One counter of a plan, as the plan is being built."""

    key: str
    period: Period | CalendarPeriod
    span: int
    limit: int | None
    enforce: bool
    kind: HoldKind
    measure: Measure
    owner: LimitRule | BudgetRule
    entity: Entity
    cap: int = 1  # a token rate limit's own limit: the most one request holds in it (at least 1)
    budget: BudgetRule | None = None


class CounterPlan:
    """Per counter, in charge order: its static parts (see the module docstring)."""

    __slots__ = ("_fills", "_ones", "alerts", "applied", "budgets", "caps", "cost_positions", "counters", "entities",
                 "kinds", "measures", "ones", "owners", "periods", "prices", "rooms", "token_positions",
                 "uses_tokens", "watched", "whole", "window")  # fmt: skip

    def __init__(self, slots: Sequence[Slot], applied: Sequence[AppliedRule]) -> None:
        # Expiries are the periods' bucket ends (`Limiter._period_window`): fixed per bucket.
        self.counters = Counters([s.key for s in slots], [s.span for s in slots], [s.limit for s in slots],
                                 [s.enforce for s in slots], fixed_expiry=True)  # fmt: skip
        self.applied = tuple(applied)
        self.periods = tuple(s.period for s in slots)
        self.kinds = tuple(s.kind for s in slots)
        self.measures = tuple(s.measure for s in slots)
        self.caps = tuple(bounded(max(s.cap, 1)) for s in slots)
        self.owners = tuple(s.owner for s in slots)
        self.entities = tuple(s.entity for s in slots)
        self.budgets = tuple(s.budget for s in slots)
        # A rate limit needs room for what it holds; a budget admits while its spend is below its limit.
        self.whole = tuple(s.measure in ("request", "tokens") for s in slots)
        self.uses_tokens = any(s.measure in ("tokens", "budget-tokens") for s in slots)
        self.prices = any(s.measure == "cost" for s in slots)
        # Every counter holds 1 (request counts only): one shared list of amounts for every request.
        self.ones: tuple[int, ...] | None = None if self.uses_tokens or self.prices else (1,) * len(slots)
        self.token_positions = tuple(i for i, s in enumerate(slots) if s.kind == "tokens")
        self.cost_positions = tuple(i for i, s in enumerate(slots) if s.kind == "cost")
        # Budgets with alert thresholds: a settlement reports their totals.
        self.watched = tuple(i for i, s in enumerate(slots) if s.budget is not None and s.budget.alerting is not None)
        # Per watched budget, (its rule, the least total that reaches its lowest threshold); None for a
        # limit of 0 (no percentage, no alert): what a settlement compares a total with before asking the watch.
        self.alerts = tuple(_alert(slots[i].budget) for i in self.watched)
        self.rooms = _rooms(slots)
        self.window: Window | None = None
        # `holds` starts from 1 everywhere (a request's amount, every need but a token rate limit's)
        # and fills in the rest: (cost positions, (position, cap) of token rate limits, budget tokens).
        self._ones = [1] * len(slots)
        self._fills = (
            tuple(i for i, s in enumerate(slots) if s.measure == "cost"),
            tuple((i, self.caps[i]) for i, s in enumerate(slots) if s.measure == "tokens"),
            tuple(i for i, s in enumerate(slots) if s.measure == "budget-tokens"),
        )

    def __len__(self) -> int:
        return len(self.kinds)

    def amounts(self, tokens: int, cost: int) -> list[int]:
        """What each counter holds for a request estimated at `tokens` (at least 1) and `cost`."""
        return self.holds(tokens, cost)[0]

    def holds(self, tokens: int, cost: int) -> tuple[list[int], list[int]]:
        """`amounts(tokens, cost)` and their `needs`, built together."""
        bounded_tokens = bounded(tokens)
        costs, capped, budget_tokens = self._fills
        amounts, needs = self._ones.copy(), self._ones.copy()
        for position in costs:
            amounts[position] = cost
        for position, cap in capped:
            amounts[position] = needs[position] = bounded_tokens if bounded_tokens < cap else cap
        for position in budget_tokens:
            amounts[position] = bounded_tokens
        return amounts, needs

    def needs(self, amounts: Sequence[int]) -> list[int]:
        """The room each counter must have for `amounts`: all of it under a rate limit, 1 under a budget."""
        return [amount if whole else 1 for amount, whole in zip(amounts, self.whole, strict=True)]

    def window_at(
        self, now: float, window: Callable[[Period | CalendarPeriod, float], tuple[float, float, int, float]]
    ) -> Window:
        """The counters' buckets and expiries at `now`, remembered until one of them changes.
        `window(period, now)`: (from, until, bucket, expiry) of one period."""
        known = self.window
        if known is not None and known[0] <= now < known[1]:
            return known
        start, end = -math.inf, math.inf
        buckets, expiries = [], []
        for period in self.periods:
            since, until, bucket, expires_at = window(period, now)
            start, end = max(start, since), min(end, until)
            buckets.append(bucket)
            expiries.append(expires_at)
        self.window = known = (start, end, tuple(buckets), tuple(expiries))
        return known


Alert = tuple[BudgetRule, int]
"""(a budget with alert thresholds, the least total whose percentage of its limit reaches its lowest threshold)."""


def _alert(budget: BudgetRule | None) -> Alert | None:
    if budget is None or budget.alerting is None or budget.limit <= 0:
        return None
    return budget, least_reaching(budget.limit, budget.alerting.thresholds[0])


def least_reaching(limit: int, percent: float) -> int:
    """The least total `t` for which `t * 100 / limit >= percent` (as `ThresholdWatch.observe` computes
    it), MAX_AMOUNT + 1 if none: a settlement then compares two ints instead of dividing a large one.
    Bisection is exact here: the computed percentage never falls as the total grows."""
    low, high = 0, MAX_AMOUNT + 1  # the answer lies in [low, high]
    while low < high:
        middle = (low + high) // 2
        if middle * 100 / limit >= percent:
            high = middle
        else:
            low = middle + 1
    return low


Room = tuple[str, tuple[tuple[int, int, float], ...], bool, int]
"""(headroom name, (position, limit, limit as shown) of each deciding counter it is the tightest of, a rate
limit's, the scale of what is left as shown): a budget shows USD (nano-USD / NANO_USD) or tokens."""


def _rooms(slots: Sequence[Slot]) -> tuple[Room, ...]:
    """Per headroom name, the deciding counters (a limit is checked) whose tightest one names it."""
    rooms: dict[str, list[tuple[int, int]]] = {}
    for position, slot in enumerate(slots):
        if slot.limit is None:
            continue
        kind = slot.kind
        room = kind if kind == "cost" or isinstance(slot.owner, LimitRule) else "budget-tokens"
        rooms.setdefault(room, []).append((position, slot.limit))
    shaped: list[Room] = []
    for name, limited in rooms.items():
        rate = name in ("requests", "tokens")
        scale = NANO_USD if name == "cost" else 1
        # A rate limit's limit is shown as counted; a budget's in its manifest unit (a float).
        shown = tuple((position, limit, limit if rate else limit / scale) for position, limit in limited)
        shaped.append((name, shown, rate, scale))
    return tuple(shaped)
