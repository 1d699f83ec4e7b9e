"""`Limiter`: admits a request against every rate-limit and budget rule that applies, or refuses it.

Admission turns the request into charges (one per counter: a rate-limit rule's entities, every
matching budget rule's entities) and hands them to the state store in one atomic call, so a
requests-unit limit never admits more than its limit and a budget never lets more requests in than
it has room for, whatever the concurrency or the number of replicas sharing the store.

- Rate limits (V1): every matching rule counts the request, the first one alone decides (the
  platform's V1 semantics). Each holds 1 request, or the estimated tokens (capped at the rule's
  limit: a request whose estimate alone exceeds the limit is admitted into an empty window rather
  than never). A request is admitted when what it holds fits under the deciding rule.
- Budgets (V1): every matching rule is charged the estimated cost (or tokens); the first one decides,
  and admits while its spend, in-flight holds included, is below its limit. So a budget is overspent
  by at most the requests admitted while the last of its room was being used, i.e. one request's cost
  when estimates are accurate. `audit_mode` rules never refuse; the reservation names them.

Settling replaces the estimates with the real usage; a request whose usage is unknown keeps its
estimates; only a request the gateway is certain never reached a provider releases everything it
held (see `data_plane.limiting`). Budget counters report their thresholds once settled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import orjson

from tfy_gateway.gateway.applied import AppliedRule, Headroom, PolicyKind
from tfy_gateway.gateway.errors import RequestError
from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT, NANO_USD, bounded, nano_usd
from tfy_gateway.gateway.limits.budgets import BUDGET_CONFIG, BudgetRule
from tfy_gateway.gateway.limits.calendar import CalendarPeriod
from tfy_gateway.gateway.limits.memory import Clock
from tfy_gateway.gateway.limits.policies import LimitPolicies
from tfy_gateway.gateway.limits.refusal import Refusal
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.reservation import Hold, HoldKind, Reservation
from tfy_gateway.gateway.limits.rules import LimitRule
from tfy_gateway.gateway.limits.scope import Entity, entities
from tfy_gateway.gateway.limits.state import Adjustment, Admission, Charge, LimitState
from tfy_gateway.gateway.limits.thresholds import Notify, ThresholdWatch
from tfy_gateway.gateway.limits.tokens import estimated_usage
from tfy_gateway.gateway.limits.v2 import V2Rule
from tfy_gateway.gateway.limits.window import Period
from tfy_gateway.gateway.providers import Usage
from tfy_gateway.gateway.routing.memo import ConfigMemo, ModelMemo
from tfy_gateway.gateway.routing.rule_index import R, SubjectIndex


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


class Refused(RequestError):
    """A limit refused the request (`refusal` says which and why); the data plane answers LimitExceeded."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


MAX_REMEMBERED_KEYS = 100_000
_new = tuple.__new__  # builds a named tuple from all its fields, in order, without its Python-level __new__


def counter_key(kind: str, rule_id: str, unit: str, entity: Entity) -> str:
    """One counter per (rule, unit, entity): a rule keeps its counts while its id and unit stay."""
    return orjson.dumps([kind, rule_id, unit, *(part for pair in entity for part in pair)]).decode()


@dataclass
class _Draft:
    """The charges of one admission and, beside each, how to describe and settle it."""

    now: float
    request: LimitRequest
    charges: list[Charge] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    owners: list[LimitRule | BudgetRule] = field(default_factory=list)
    applied: Sequence[AppliedRule] = ()

    _estimate: tuple[int, int] | None = None
    cost: int | None = None  # the estimated cost, once priced

    @property
    def estimate(self) -> tuple[int, int]:
        """(input, output) tokens the request may use, estimated once."""
        if self._estimate is None:
            request = self.request
            self._estimate = estimated_usage(request.body, generates=request.generates, sends=request.sends)
        return self._estimate


Measure = Literal["request", "tokens", "cost", "budget-tokens"]
"""What a counter holds for a request: 1, its token estimate (capped at the limit), its cost estimate,
or its token estimate under a token budget (checked for room: spend below the limit)."""

MAX_REMEMBERED_PLANS = 10_000
Shape = tuple[str, str, tuple[str, ...], frozenset[tuple[str, str]]]
"""(model, caller, the caller's subjects, metadata items): what a request's plan of counters depends on."""
MAX_REMEMBERED_MODELS = 10_000


class _Slot(NamedTuple):
    """One counter of a plan: everything about a charge but the amounts and the bucket of now."""

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


@dataclass
class _Plan:
    slots: list[_Slot] = field(default_factory=list)
    applied: list[AppliedRule] = field(default_factory=list)


class _Memo:
    """What the limiter remembers about one `LimitPolicies` (see `routing.memo`): plans per request
    shape, and the V1 rules per requested model."""

    __slots__ = ("budgets", "plans", "rate_limits")

    def __init__(self, policies: LimitPolicies, model_cache_size: int) -> None:
        self.plans: dict[Shape, _Plan] = {}
        self.rate_limits = ModelMemo(policies.rate_limits.index, _by_subject, model_cache_size)
        self.budgets = ModelMemo(policies.budgets.index, _by_subject, model_cache_size)


def _by_subject(model: str, rules: tuple[R, ...]) -> SubjectIndex[R]:
    return SubjectIndex(rules)


class Limiter:
    """Rate-limit and budget admission and settlement over one `LimitState`."""

    def __init__(
        self,
        state: LimitState,
        *,
        clock: Clock = time.time,
        notify: Notify | None = None,
        model_cache_size: int = MAX_REMEMBERED_MODELS,
    ) -> None:
        self.state = state
        self.clock = clock
        self._memos: ConfigMemo[LimitPolicies, _Memo] = ConfigMemo(lambda policies: _Memo(policies, model_cache_size))
        self._watch = ThresholdWatch(notify) if notify is not None else None
        self._keys: dict[tuple[str, str, str, Entity], str] = {}
        self._windows: dict[Period | CalendarPeriod, tuple[float, float, int, float]] = {}

    async def reserve(self, policies: LimitPolicies, request: LimitRequest) -> Reservation | None:
        """Hold what the request may use in every counter that applies; None when no rule applies.
        Raises `Refused` (holding nothing) when an enforced counter has no room."""
        draft = self._draft(policies, request)
        if not draft.charges:
            return None
        admission = await self.state.reserve(draft.charges)
        if not admission.admitted:
            raise Refused(self._refusal(draft, admission))
        if admission.refused and (soft := _soft_refusal(draft, admission)) is not None:
            # Admitted only because soft budgets are checked as unenforced: take the holds back.
            undo = [Adjustment(c.key, c.bucket, c.span, -c.amount) for c in draft.charges if c.amount]
            await self.state.adjust(undo, ticket=admission.ticket)
            raise Refused(self._refusal(draft, admission, only=soft))
        return self._reservation(draft, admission)

    async def simulate(self, policies: LimitPolicies, request: LimitRequest) -> list[Verdict]:
        """What `reserve` would decide for `request` now, per counter, holding nothing."""
        draft = self._draft(policies, request)
        if not draft.charges:
            return []
        dry = [charge._replace(amount=0, enforce=False) for charge in draft.charges]
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
        """The request's charges: its counters from the (memoised) plan, amounts and buckets of now."""
        draft = _Draft(self.clock(), request)
        plan = self._plan(policies, request)
        now = draft.now
        charges, holds, owners = draft.charges, draft.holds, draft.owners
        windows = self._windows
        tokens = cost = 0  # the request's estimated tokens (at least 1) and cost, once a counter needs them
        for slot in plan.slots:
            known = windows.get(slot.period)  # `_window`'s remembered answer, looked up in place
            if known is not None and known[0] <= now < known[1]:
                bucket, expires_at = known[2], known[3]
            else:
                bucket, expires_at = self._window(slot.period, now)
            measure = slot.measure
            if measure == "request":
                need = amount = 1
            elif measure == "cost":
                if not cost:
                    cost = self._cost_estimate(draft)
                need, amount = 1, cost
            else:
                if not tokens:
                    tokens = max(sum(draft.estimate), 1)
                if measure == "tokens":
                    need = amount = bounded(min(tokens, max(slot.cap, 1)))
                else:  # a token budget
                    need, amount = 1, bounded(tokens)
            # Every field in order, built as tuples: the named tuples' own __new__ costs twice as much.
            key, span = slot.key, slot.span
            charges.append(_new(Charge, (key, bucket, span, amount, need, slot.limit, slot.enforce, expires_at)))
            holds.append(_new(Hold, (key, bucket, span, amount, slot.kind, slot.budget, slot.entity)))
            owners.append(slot.owner)
        draft.applied = plan.applied
        return draft

    def _window(self, period: Period | CalendarPeriod, now: float) -> tuple[int, float]:
        """(bucket of `now`, when it stops counting) of `period`, remembered while `now` stays in that
        bucket: a month's or a quarter's bucket is calendar arithmetic, the same for every request."""
        known = self._windows.get(period)
        if known is not None and known[0] <= now < known[1]:
            return known[2], known[3]
        bucket = period.index(now)
        expires_at = period.expires_at(bucket)
        if isinstance(period, Period):
            start = float(bucket * period.bucket_s)
            end = start + period.bucket_s
        else:
            start, end = period.starts_at(bucket), (math.inf if period.name == "lifetime" else expires_at)
        self._windows[period] = (start, end, bucket, expires_at)
        return bucket, expires_at

    def charges_none(
        self, policies: LimitPolicies, model: str, caller: str, subjects: tuple[str, ...], metadata: Mapping[str, str]
    ) -> bool:
        """True when requests of this shape were planned before and no counter applies to them, so
        `reserve` would return None: the caller may skip building what only charges read (the
        request's token estimate inputs, its costliest price). False when unknown yet."""
        plan = self._memos.of(policies).plans.get(_shape(model, caller, subjects, metadata))
        return plan is not None and not plan.slots

    def _plan(self, policies: LimitPolicies, request: LimitRequest) -> _Plan:
        """Which counters a request of this shape is charged in. Requests of one caller, model and
        metadata meet the same rules and counters, so the plan is remembered per compiled config
        (in the limiter's memo of it: the compiled config itself never changes)."""
        shape = _shape(request.model, request.caller, request.subjects, request.metadata)
        memo = self._memos.of(policies)
        plans = memo.plans
        plan = plans.get(shape)
        if plan is None:
            plan = _Plan()
            rate_limits, budgets = policies.rate_limits, policies.budgets
            rate_rules = rate_limits.matching(request, memo.rate_limits.get(request.model)) if rate_limits.rules else ()
            if rate_rules:
                self._rate_limits(plan, rate_rules, request)
            budget_rules = budgets.matching(request, memo.budgets.get(request.model)) if budgets.rules else None
            if budget_rules:
                self._budgets(plan, budget_rules, request)
            v2 = policies.v2
            if v2.rate_limits:
                for rule in v2.matching(v2.rate_limits, request):
                    self._v2(plan, rule, request)
            if v2.budgets:
                for rule in v2.matching(v2.budgets, request):
                    self._v2(plan, rule, request)
            if len(plans) >= MAX_REMEMBERED_PLANS:
                plans.clear()
            plans[shape] = plan
        return plan

    async def settle(self, reservation: Reservation, *, release: bool, tokens: int | None, cost: float | None) -> None:
        """`release`: give back everything held. Else token and cost holds become the real `tokens`
        and `cost` (None keeps the estimate, when the real figure is unknown); requests stay counted."""
        adjustments, watched = self._settlement(reservation, release, tokens, cost)
        if adjustments or reservation.ticket is not None:  # a ticket is settled even with nothing to correct
            self._observe(watched, await self.state.adjust(adjustments, ticket=reservation.ticket))

    def settle_now(self, reservation: Reservation, *, release: bool, tokens: int | None, cost: float | None) -> bool:
        """`settle` at once when the state store answers synchronously (the in-memory one): no await,
        so nothing can interrupt it. False, with nothing done, for a store that must be awaited."""
        adjust_now = getattr(self.state, "adjust_now", None)
        if adjust_now is None:
            return False
        adjustments, watched = self._settlement(reservation, release, tokens, cost)
        if adjustments:
            self._observe(watched, adjust_now(adjustments))
        return True

    def _settlement(
        self, reservation: Reservation, release: bool, tokens: int | None, cost: float | None
    ) -> tuple[list[Adjustment], list[Hold]]:
        """The corrections to make, and the holds whose totals budget alerts watch (one each)."""
        adjustments: list[Adjustment] = []
        watched: list[Hold] = []
        watching = self._watch is not None
        spent = None if release else _nano_usd(cost)  # the real cost, converted once for every cost hold
        for hold in reservation.holds:
            if release:
                delta = -hold.amount
            elif hold.kind == "tokens":
                delta = tokens - hold.amount if tokens is not None else 0
            elif hold.kind == "cost":
                delta = spent - hold.amount if spent is not None else 0
            else:  # a request stays counted
                delta = 0
            if delta or (watching and hold.budget is not None and hold.budget.alerting is not None):
                adjustments.append(_new(Adjustment, (hold.key, hold.bucket, hold.span, delta)))
                watched.append(hold)
        return adjustments, watched

    def _observe(self, watched: list[Hold], totals: Sequence[int]) -> None:
        """Budget alerts: each alerting budget's total after the settlement (others have no threshold)."""
        watch = self._watch
        if watch is not None:
            now = None
            for hold, total in zip(watched, totals, strict=True):
                budget = hold.budget
                if budget is not None and budget.alerting is not None:
                    if now is None:
                        now = self.clock()
                    watch.observe(budget, hold.entity, hold.bucket, total, now)

    # --- building charges ----------------------------------------------------------------------

    def _key(self, kind: str, rule_id: str, unit: str, entity: Entity) -> str:
        """`counter_key`, remembered: most requests come from callers seen before."""
        memo = (kind, rule_id, unit, entity)
        key = self._keys.get(memo)
        if key is None:
            if len(self._keys) >= MAX_REMEMBERED_KEYS:
                self._keys.clear()
            key = self._keys[memo] = counter_key(kind, rule_id, unit, entity)
        return key

    def _rate_limits(self, plan: _Plan, rules: Sequence[LimitRule], request: LimitRequest) -> None:
        """The first rule decides (its limit is checked); the others only count the request."""
        for position, rule in enumerate(rules):
            unit = rule.unit
            measure: Measure = "request" if unit.kind == "requests" else "tokens"
            limit = rule.limit if position == 0 else None
            for entity in entities(rule.applies_per, request):
                key = self._key("rl", rule.id, unit.name, entity)
                plan.slots.append(
                    _Slot(key, unit.period, unit.period.span, limit, True, unit.kind, measure, rule, entity, rule.limit)
                )
        first = rules[0]
        plan.applied.append(AppliedRule("rate_limit", first.config_name, first.id))

    def _budgets(self, plan: _Plan, rules: Sequence[BudgetRule], request: LimitRequest) -> None:
        for position, rule in enumerate(rules):
            unit = rule.unit
            kind: HoldKind = "cost" if unit.kind == "cost" else "tokens"
            measure: Measure = "cost" if unit.kind == "cost" else "budget-tokens"
            limit = rule.limit if position == 0 else None  # the first matching rule decides
            for entity in entities(rule.applies_per, request):
                key = self._key("budget", rule.id, unit.name, entity)
                slot = _Slot(key, unit.period, 1, limit, not rule.audit, kind, measure, rule, entity, budget=rule)
                plan.slots.append(slot)
            plan.applied.append(AppliedRule("budget", rule.config_name, rule.id))

    def _v2(self, plan: _Plan, rule: V2Rule, request: LimitRequest) -> None:
        """Every window of a matching V2 rule is checked (every matching V2 rule must allow)."""
        charged = rule.charged(request)
        if not charged:
            return
        for meter, entity in charged:
            unit = meter.unit
            if isinstance(meter, LimitRule):
                key = self._key("rl2", rule.name, unit.name, entity)
                measure: Measure = "request" if meter.unit.kind == "requests" else "tokens"
                slot = _Slot(key, meter.unit.period, meter.unit.period.span, meter.limit, not meter.audit,
                             meter.unit.kind, measure, meter, entity, meter.limit)  # fmt: skip
            else:
                key = self._key("budget2", rule.name, unit.name, entity)
                enforce = not (meter.audit or meter.soft)
                slot = _Slot(
                    key, meter.unit.period, 1, meter.limit, enforce, "cost", "cost", meter, entity, budget=meter
                )
            plan.slots.append(slot)
        plan.applied.append(AppliedRule(rule.kind, rule.name, rule.name))

    def _cost_estimate(self, draft: _Draft) -> int:
        """The request's estimated cost in nano-USD, priced once per request."""
        if draft.cost is None:
            prompt, completion = draft.estimate
            cost = draft.request.pricing.cost(Usage(prompt_tokens=prompt, completion_tokens=completion))
            draft.cost = nano_usd(cost or 0.0, draft.request.body)
        return draft.cost

    # --- answers --------------------------------------------------------------------------------

    def _refusal(self, draft: _Draft, admission: Admission, *, only: int | None = None) -> Refusal:
        """The first enforced refusal in charge order (or the charge `only`); among one rule's
        counters, the longest wait."""
        chosen: Refusal | None = None
        for position, frees in zip(admission.refused, admission.frees, strict=True):
            charge, owner, hold = draft.charges[position], draft.owners[position], draft.holds[position]
            if (not charge.enforce) if only is None else position != only:
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
            estimate=draft._estimate,
            ticket=admission.ticket,
        )


def _shape(model: str, caller: str, subjects: tuple[str, ...], metadata: Mapping[str, str]) -> Shape:
    """What decides which counters a request is charged in: its model, caller and metadata."""
    return (model, caller, subjects, frozenset(metadata.items()))


def _headroom(draft: _Draft, admission: Admission) -> tuple[Headroom, ...]:
    """Per kind, what is left under the tightest deciding counter once this request is held."""
    tightest: dict[str, tuple[int, int]] = {}  # kind -> (left, position)
    holds, owners, used = draft.holds, draft.owners, admission.used
    for position, charge in enumerate(draft.charges):
        if charge.limit is None:
            continue
        left = charge.limit - used[position] - charge.amount
        kind = holds[position].kind
        room = kind if kind == "cost" or isinstance(owners[position], LimitRule) else "budget-tokens"
        known = tightest.get(room)
        if known is None or left < known[0]:
            tightest[room] = (left, position)
    rooms = []
    for name, (left, position) in tightest.items():
        owner, charge = owners[position], draft.charges[position]
        if isinstance(owner, LimitRule):
            oldest = admission.oldest[position]
            reset = owner.unit.period.expires_at(oldest) - draft.now if oldest is not None else 0.0
            rooms.append(_new(Headroom, (name, owner.limit, max(left, 0), max(reset, 0.0))))
        else:
            unit = owner.unit
            ends = charge.expires_at  # the budget period's end: `_window` computed it for this bucket
            reset_s = None if math.isinf(ends) else max(ends - draft.now, 0.0)
            rooms.append(_new(Headroom, (name, unit.show(owner.limit), unit.show(max(left, 0)), reset_s)))
    return tuple(rooms)


def _soft_refusal(draft: _Draft, admission: Admission) -> int | None:
    """The position of a refused `soft_enforce` budget charge when no other matching budget rule
    allows the request (has room in every window), else None: soft budgets yield to one that does."""
    refused = set(admission.refused)
    soft = [p for p in admission.refused if isinstance(o := draft.owners[p], BudgetRule) and o.soft]
    if not soft:
        return None
    room: dict[str, bool] = {}
    for position, owner in enumerate(draft.owners):
        if isinstance(owner, BudgetRule) and owner.rule_type != BUDGET_CONFIG and not owner.audit:
            room[owner.id] = room.get(owner.id, True) and position not in refused
    for position in soft:
        others = [fits for name, fits in room.items() if name != draft.owners[position].id]
        if not any(others):
            return position
    return None


def _wait(rule: LimitRule, frees: int | None, now: float) -> float | None:
    """Seconds until `rule`'s window has room again (None: a 0 limit never has any)."""
    if rule.limit <= 0:
        return None
    period = rule.unit.period
    return max(0.0, period.expires_at(frees) - now) if frees is not None else float(period.seconds)


def _nano_usd(cost: float | None) -> int | None:
    """A settled cost in the counters' unit (None, or NaN: unknown, the estimate stays)."""
    if cost is None or cost != cost:
        return None
    return bounded(round(min(cost * NANO_USD, MAX_AMOUNT)))
