"""`RateLimiter`: admits a request against the first matching rule, or refuses it with when to retry.

Check-and-reserve is one synchronous step (no `await` between reading the counters and adding to
them), so on the event loop it is atomic: a requests-unit limit never admits more than its limit,
whatever the concurrency. A request charged in several counters (one per team) is admitted only if
it fits in every one of them, and then held in all of them.

Token units hold an estimate at admission (`tokens.reserved_tokens`), capped at the limit: a request
whose estimate alone exceeds the limit is admitted only into an empty window, rather than never.
Settling replaces the estimate with the real usage; a request the gateway failed before a provider
answered releases everything it held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tfy_gateway.gateway.limits.counters import WindowCounters
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.reservation import Hold, Reservation
from tfy_gateway.gateway.limits.rules import CompiledLimits, LimitRule
from tfy_gateway.gateway.limits.scope import Entity, describe, entities
from tfy_gateway.gateway.limits.tokens import reserved_tokens


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: the rule, the counter that is full, and when it has room again."""

    rule: LimitRule
    entity: Entity
    used: int
    need: int
    retry_after_s: float | None  # None: the limit is 0, retrying never helps

    @property
    def message(self) -> str:
        rule, unit = self.rule, self.rule.unit
        what = f"{rule.limit} {unit.kind} per {unit.period.name}"
        scope = describe(self.entity)
        head = f"Rate limit '{rule.id}' exceeded: it allows {what}" + (f" for {scope}" if scope else "")
        if self.retry_after_s is None:
            return f"{head}, so every request it matches is refused. Raise limit_to or change the rule."
        held = "this request" if unit.kind == "requests" else f"this request's estimated {self.need} tokens"
        return (
            f"{head}; {self.used} already counted in the sliding {unit.period.name} window, "
            f"no room for {held}. Capacity frees up in {math.ceil(self.retry_after_s)} s."
        )


class RateLimited(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class RateLimiter:
    """Rate-limit admission and settlement over one `WindowCounters` store."""

    def __init__(self, counters: WindowCounters) -> None:
        self.counters = counters

    def reserve(self, rules: CompiledLimits, request: LimitRequest) -> Reservation | None:
        """Hold 1 request or the estimated tokens in the first matching rule's counters; None when no
        rule matches. Raises `RateLimited` (holding nothing) when a counter has no room."""
        rule = rules.first_match(request)
        if rule is None:
            return None
        unit, counters = rule.unit, self.counters
        period = unit.period
        keys = [((rule.id, unit.name, entity), entity) for entity in entities(rule.applies_per, request)]
        if rule.limit <= 0:
            raise RateLimited(Refusal(rule, keys[0][1], 0, 1, None))
        need = (
            1
            if unit.kind == "requests"
            else min(reserved_tokens(request.body, generates=request.generates), rule.limit)
        )
        now = counters.clock()
        current = counters.current(period, now)
        refusal: Refusal | None = None
        for key, entity in keys:
            used = counters.used(period, key, current)
            if used + need > rule.limit:
                frees_at = counters.frees_at(period, key, current, used + need - rule.limit)
                wait = max(0.0, frees_at - now) if frees_at is not None else float(period.seconds)
                if refusal is None or (refusal.retry_after_s or 0.0) < wait:
                    refusal = Refusal(rule, entity, used, need, wait)
        if refusal is not None:
            raise RateLimited(refusal)
        for key, _ in keys:
            counters.add(period, key, current, need)
        holds = tuple(Hold(period, key, current, need, unit.kind == "tokens") for key, _ in keys)
        return Reservation(holds, rule_id=rule.id, config_name=rule.config_name)

    def settle(self, reservation: Reservation, *, release: bool, tokens: int | None) -> None:
        """`release`: give back everything held. Else token holds become `tokens` (None keeps the
        estimate, when the real usage is unknown) and request holds stay counted."""
        for hold in reservation.holds:
            if not isinstance(hold, Hold):
                continue
            if release:
                delta = -hold.amount
            elif hold.tokens and tokens is not None:
                delta = tokens - hold.amount
            else:
                continue
            if delta:
                self.counters.adjust(hold.period, hold.key, hold.bucket, delta)
