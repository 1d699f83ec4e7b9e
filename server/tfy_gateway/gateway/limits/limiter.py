"""`Limiter`: admits a request against every rate-limit and budget rule that applies, or refuses it.

Admission turns the request into charges (one per counter: a rate-limit rule's entities, every
matching budget rule's entities) and hands them to the state store in one atomic call, so a
requests-unit limit never admits more than its limit and a budget never lets more requests in than
it has room for, whatever the concurrency or the number of replicas sharing the store.

- Rate limits (V1): the first matching rule only; it holds 1 request, or the estimated tokens
  (`tokens.reserved_tokens`, capped at the limit: a request whose estimate alone exceeds the limit is
  admitted into an empty window rather than never). A request is admitted when what it holds fits.
- Budgets (V1): every matching rule is charged the estimated cost (or tokens); the first one decides,
  and admits while its spend, in-flight holds included, is below its limit. So a budget is overspent
  by at most the requests admitted while the last of its room was being used, i.e. one request's cost
  when estimates are accurate. `audit_mode` rules never refuse; the reservation names them.

Settling replaces the estimates with the real usage; a request the gateway failed before a provider
answered releases everything it held. Budget counters report their thresholds once settled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import orjson

from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.limits.memory import Clock
from tfy_gateway.gateway.limits.policies import LimitPolicies
from tfy_gateway.gateway.limits.refusal import Refusal
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.reservation import AppliedRule, Headroom, Hold, HoldKind, PolicyKind, Reservation
from tfy_gateway.gateway.limits.rules import LimitRule
from tfy_gateway.gateway.limits.scope import Entity, entities
from tfy_gateway.gateway.limits.state import NANO_USD, Adjustment, Admission, Charge, LimitState
from tfy_gateway.gateway.limits.thresholds import Notify, ThresholdWatch
from tfy_gateway.gateway.limits.tokens import estimated_usage
from tfy_gateway.gateway.providers import Usage


@dataclass(frozen=True)
class Verdict:
    """One counter's answer to a simulated request: what it holds, and whether it would refuse."""

    owner: LimitRule | BudgetRule
    entity: Entity
    window: str
    deciding: bool  # checked (the rate-limit rule, the first budget rule); else only charged
    used: int  # in the counter's integer unit
    need: int
    refused: bool
    retry_after_s: float | None
    resets_in_s: float | None  # when what the window holds next frees up / the period ends


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


RateLimited = Refused  # the name earlier callers used


def counter_key(kind: str, rule_id: str, unit: str, entity: Entity) -> str:
    """One counter per (rule, unit, entity): a rule keeps its counts while its id and unit stay."""
    return orjson.dumps([kind, rule_id, unit, *(part for pair in entity for part in pair)]).decode()


@dataclass
class _Draft:
    """The charges of one admission and, beside each, how to describe and settle it."""

    now: float
    charges: list[Charge] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    owners: list[LimitRule | BudgetRule] = field(default_factory=list)
    applied: list[AppliedRule] = field(default_factory=list)

    def add(self, charge: Charge, hold: Hold, owner: LimitRule | BudgetRule) -> None:
        self.charges.append(charge)
        self.holds.append(hold)
        self.owners.append(owner)


class Limiter:
    """Rate-limit and budget admission and settlement over one `LimitState`."""

    def __init__(self, state: LimitState, *, clock: Clock = time.time, notify: Notify | None = None) -> None:
        self.state = state
        self.clock = clock
        self._watch = ThresholdWatch(notify) if notify is not None else None

    async def reserve(self, policies: LimitPolicies, request: LimitRequest) -> Reservation | None:
        """Hold what the request may use in every counter that applies; None when no rule applies.
        Raises `Refused` (holding nothing) when an enforced counter has no room."""
        draft = self._draft(policies, request)
        if not draft.charges:
            return None
        admission = await self.state.reserve(draft.charges)
        if not admission.admitted:
            raise Refused(self._refusal(draft, admission))
        return self._reservation(draft, admission)

    async def simulate(self, policies: LimitPolicies, request: LimitRequest) -> list[Verdict]:
        """What `reserve` would decide for `request` now, per counter, holding nothing."""
        draft = self._draft(policies, request)
        if not draft.charges:
            return []
        dry = [replace(charge, amount=0, enforce=False) for charge in draft.charges]
        admission = await self.state.reserve(dry)
        refused = dict(zip(admission.refused, admission.frees, strict=True))
        verdicts = []
        for position, charge in enumerate(draft.charges):
            owner, hold = draft.owners[position], draft.holds[position]
            window = owner.unit.period
            oldest = admission.oldest[position]
            if isinstance(owner, LimitRule):
                resets = window.expires_at(oldest) - draft.now if oldest is not None else None
                wait = _wait(owner, refused[position], draft.now) if position in refused else None
            else:
                ends = window.expires_at(charge.bucket)
                resets = None if math.isinf(ends) else ends - draft.now
                wait = resets if position in refused else None
            verdicts.append(
                Verdict(
                    owner=owner,
                    entity=hold.entity,
                    window=window.label(charge.bucket),
                    deciding=charge.limit is not None,
                    used=admission.used[position],
                    need=charge.need if isinstance(owner, LimitRule) else hold.amount,
                    refused=position in refused,
                    retry_after_s=wait,
                    resets_in_s=resets,
                )
            )
        return verdicts

    def _draft(self, policies: LimitPolicies, request: LimitRequest) -> _Draft:
        draft = _Draft(self.clock())
        rate_rule = policies.rate_limits.first_match(request)
        if rate_rule is not None:
            self._rate_limit(draft, rate_rule, request)
        budget_rules = policies.budgets.matching(request)
        if budget_rules:
            self._budgets(draft, budget_rules, request)
        return draft

    async def settle(self, reservation: Reservation, *, release: bool, tokens: int | None, cost: float | None) -> None:
        """`release`: give back everything held. Else token and cost holds become the real `tokens`
        and `cost` (None keeps the estimate, when the real figure is unknown); requests stay counted."""
        adjustments: list[Adjustment] = []
        watched: list[Hold] = []
        for hold in reservation.holds:
            delta = -hold.amount if release else _correction(hold, tokens, cost)
            alerting = self._watch is not None and hold.budget is not None and hold.budget.alerting is not None
            if delta or alerting:
                adjustments.append(Adjustment(hold.key, hold.bucket, hold.span, delta))
                watched.append(hold)
        if not adjustments:
            return
        totals = await self.state.adjust(adjustments)
        if self._watch is not None:
            now = self.clock()
            for hold, total in zip(watched, totals, strict=True):
                if hold.budget is not None:
                    self._watch.observe(hold.budget, hold.entity, hold.bucket, total, now)

    # --- building charges ----------------------------------------------------------------------

    def _rate_limit(self, draft: _Draft, rule: LimitRule, request: LimitRequest) -> None:
        unit = rule.unit
        need = 1 if unit.kind == "requests" else min(_tokens(request), max(rule.limit, 1))
        period = unit.period
        bucket = period.index(draft.now)
        for entity in entities(rule.applies_per, request):
            key = counter_key("rl", rule.id, unit.name, entity)
            charge = Charge(key, bucket, period.span, need, need, rule.limit, True, period.expires_at(bucket))
            draft.add(charge, Hold(key, bucket, period.span, need, unit.kind, entity=entity), rule)
        draft.applied.append(AppliedRule("rate_limit", rule.config_name, rule.id))

    def _budgets(self, draft: _Draft, rules: Sequence[BudgetRule], request: LimitRequest) -> None:
        prompt, completion = estimated_usage(request.body, generates=request.generates)
        cost = request.pricing.cost(Usage(prompt_tokens=prompt, completion_tokens=completion))
        estimates: dict[HoldKind, int] = {
            "cost": round((cost or 0.0) * NANO_USD),
            "tokens": max(prompt + completion, 1),
        }
        for position, rule in enumerate(rules):
            unit = rule.unit
            kind: HoldKind = "cost" if unit.kind == "cost" else "tokens"
            amount = estimates[kind]
            deciding = position == 0
            bucket = unit.period.index(draft.now)
            for entity in entities(rule.applies_per, request):
                key = counter_key("budget", rule.id, unit.name, entity)
                charge = Charge(
                    key,
                    bucket,
                    1,
                    amount,
                    1,
                    rule.limit if deciding else None,
                    not rule.audit,
                    unit.period.expires_at(bucket),
                )
                draft.add(charge, Hold(key, bucket, 1, amount, kind, budget=rule, entity=entity), rule)
            draft.applied.append(AppliedRule("budget", rule.config_name, rule.id))

    # --- answers --------------------------------------------------------------------------------

    def _refusal(self, draft: _Draft, admission: Admission) -> Refusal:
        """The first enforced refusal in charge order; among one rule's counters, the longest wait."""
        chosen: Refusal | None = None
        for position, frees in zip(admission.refused, admission.frees, strict=True):
            charge, owner, hold = draft.charges[position], draft.owners[position], draft.holds[position]
            if not charge.enforce:
                continue
            if chosen is not None and chosen.rule_id != owner.id:
                break
            used = admission.used[position]
            if isinstance(owner, LimitRule):
                refusal = Refusal.rate_limit(
                    owner, hold.entity, used=used, need=charge.need, retry_after_s=_wait(owner, frees, draft.now)
                )
            else:
                refusal = Refusal.budget(owner, hold.entity, used=used, bucket=charge.bucket, now=draft.now)
            if chosen is None or (refusal.retry_after_s or 0.0) > (chosen.retry_after_s or 0.0):
                chosen = refusal
        assert chosen is not None, "an admission that was refused names an enforced charge"
        return chosen

    def _reservation(self, draft: _Draft, admission: Admission) -> Reservation:
        would_block = []
        for position in admission.refused:
            owner = draft.owners[position]
            kind: PolicyKind = "rate_limit" if isinstance(owner, LimitRule) else "budget"
            rule = AppliedRule(kind, owner.config_name, owner.id)
            if rule not in would_block:
                would_block.append(rule)
        return Reservation(
            holds=tuple(draft.holds),
            applied=tuple(draft.applied),
            headroom=_headroom(draft, admission),
            would_block=tuple(would_block),
        )


def _headroom(draft: _Draft, admission: Admission) -> tuple[Headroom, ...]:
    """Per kind, what is left under the tightest deciding counter once this request is held."""
    tightest: dict[str, Headroom] = {}
    for position, charge in enumerate(draft.charges):
        if charge.limit is None:
            continue
        owner, oldest = draft.owners[position], admission.oldest[position]
        left = charge.limit - admission.used[position] - charge.amount
        name: str
        if isinstance(owner, LimitRule):
            name = owner.unit.kind
            period = owner.unit.period
            reset = period.expires_at(oldest) - draft.now if oldest is not None else 0.0
            headroom = Headroom(name, owner.limit, max(left, 0), max(reset, 0.0))
        else:
            unit = owner.unit
            name = "cost" if unit.kind == "cost" else "budget-tokens"
            ends = unit.period.expires_at(charge.bucket)
            reset_s = None if math.isinf(ends) else max(ends - draft.now, 0.0)
            headroom = Headroom(name, unit.show(charge.limit), unit.show(max(left, 0)), reset_s)
        known = tightest.get(name)
        if known is None or headroom.remaining < known.remaining:
            tightest[name] = headroom
    return tuple(tightest.values())


def _wait(rule: LimitRule, frees: int | None, now: float) -> float | None:
    """Seconds until `rule`'s window has room again (None: a 0 limit never has any)."""
    if rule.limit <= 0:
        return None
    period = rule.unit.period
    return max(0.0, period.expires_at(frees) - now) if frees is not None else float(period.seconds)


def _tokens(request: LimitRequest) -> int:
    prompt, completion = estimated_usage(request.body, generates=request.generates)
    return max(prompt + completion, 1)


def _correction(hold: Hold, tokens: int | None, cost: float | None) -> int:
    if hold.kind == "tokens" and tokens is not None:
        return tokens - hold.amount
    if hold.kind == "cost" and cost is not None:
        return round(cost * NANO_USD) - hold.amount
    return 0
