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
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from tfy_gateway.gateway.accounting.cost import UNPRICED, ModelPricing
from tfy_gateway.gateway.applied import AppliedRule, Headroom, PolicyKind
from tfy_gateway.gateway.errors import RequestError
from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT, NANO_USD, bounded, nano_usd
from tfy_gateway.gateway.limits.budgets import BUDGET_CONFIG, BudgetRule
from tfy_gateway.gateway.limits.calendar import CalendarPeriod
from tfy_gateway.gateway.limits.memory import Clock
from tfy_gateway.gateway.limits.plan import CounterPlan, HoldKind, Measure, Slot
from tfy_gateway.gateway.limits.policies import LimitPolicies
from tfy_gateway.gateway.limits.refusal import Refusal
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.reservation import Reservation
from tfy_gateway.gateway.limits.rules import LimitRule
from tfy_gateway.gateway.limits.scope import Entity, entities
from tfy_gateway.gateway.limits.state import Admission, Batch, LimitState, Settlement, SyncLimitState
from tfy_gateway.gateway.limits.thresholds import Notify, ThresholdWatch
from tfy_gateway.gateway.limits.tokens import AS_OPENAI, Send, estimated_usage
from tfy_gateway.gateway.limits.v2 import V2Rule
from tfy_gateway.gateway.limits.window import Period
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


class _Draft(NamedTuple):
    """One request's charges: its plan's counters with the request's own amounts, at `now`."""

    now: float
    plan: CounterPlan
    buckets: tuple[int, ...]
    expiries: tuple[float, ...]
    amounts: Sequence[int]
    needs: Sequence[int]
    estimate: tuple[int, int] | None  # (input, output) tokens, when a counter needed them

    def batch(self, *, dry: bool = False) -> Batch:
        return _new(Batch, (self.plan.counters, self.buckets, self.expiries, self.amounts, self.needs, dry))


MAX_REMEMBERED_PLANS = 10_000
Shape = tuple[str, str, tuple[str, ...], frozenset[tuple[str, str]]]
"""(model, caller, the caller's subjects, metadata items): what a request's plan of counters depends on."""
MAX_REMEMBERED_MODELS = 10_000


class _Memo:
    """What the limiter remembers about one `LimitPolicies` (see `routing.memo`): plans per request
    shape, and the V1 rules per requested model."""

    __slots__ = ("budgets", "plans", "rate_limits")

    def __init__(self, policies: LimitPolicies, model_cache_size: int) -> None:
        self.plans: dict[Shape, CounterPlan] = {}
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
        # The same store, when it answers synchronously (`reserve_now`, `settle_now`).
        self._at_once: SyncLimitState | None = state if hasattr(state, "hold_now") else None  # type: ignore[assignment]
        self.clock = clock
        self._memos: ConfigMemo[LimitPolicies, _Memo] = ConfigMemo(lambda policies: _Memo(policies, model_cache_size))
        self._watch = ThresholdWatch(notify) if notify is not None else None
        self._keys: dict[tuple[str, str, str, Entity], str] = {}
        self._windows: dict[Period | CalendarPeriod, tuple[float, float, int, float]] = {}

    async def reserve(
        self, policies: LimitPolicies, request: LimitRequest, *, plan: CounterPlan | None = None
    ) -> Reservation | None:
        """Hold what the request may use in every counter that applies; None when no rule applies.
        Raises `Refused` (holding nothing) when an enforced counter has no room. `plan`: the one
        `planned` answered for this request's shape, if any (saves looking it up again)."""
        draft = self._draft(policies, request, plan)
        if draft is None:
            return None
        admission = await self.state.reserve(draft.batch())
        soft = self._refused(draft, admission)
        if soft is not None:
            # Admitted only because soft budgets are checked as unenforced: take the holds back.
            undo = Settlement(draft.plan.counters, draft.buckets, [-amount for amount in draft.amounts])
            await self.state.adjust(undo, ticket=admission.ticket)
            raise Refused(self._refusal(draft, admission, only=soft))
        return _reservation(draft, admission.used, admission.oldest, admission)

    @property
    def reserves_now(self) -> bool:
        """Whether `reserve_now` can answer: the state store answers synchronously (the in-memory one)."""
        return self._at_once is not None

    def reserve_now(
        self,
        plan: CounterPlan,
        body: Mapping[str, Any],
        *,
        generates: bool,
        sends: Sequence[Send] = AS_OPENAI,
        pricing: ModelPricing = UNPRICED,
    ) -> Reservation | None:
        """`reserve` at once, for a request whose shape was `planned` before, when the state store
        answers synchronously (the in-memory one): no await, no `LimitRequest`. Raises
        `NotImplementedError`, holding nothing, for a store that must be awaited."""
        state = self._at_once
        if state is None:
            raise NotImplementedError("the state store must be awaited (see `reserves_now`)")
        if not plan.kinds:
            return None
        draft = self._draft_of(plan, self.clock(), body, generates, sends, pricing)
        batch = draft.batch()
        used = state.hold_now(batch)
        if used is not None:  # every counter had room: the common case, no Admission built
            return _reservation(draft, used, store=state)
        admission = state.reserve_now(batch)
        soft = self._refused(draft, admission)
        if soft is not None:
            state.adjust_now(Settlement(plan.counters, draft.buckets, [-amount for amount in draft.amounts]))
            raise Refused(self._refusal(draft, admission, only=soft))
        return _reservation(draft, admission.used, admission.oldest, admission)

    def _refused(self, draft: _Draft, admission: Admission) -> int | None:
        """Raises `Refused` when an enforced counter refused; the position of a refused soft budget
        to take the holds back for (see `_soft_refusal`); None when the request is admitted."""
        if not admission.admitted:
            raise Refused(self._refusal(draft, admission))
        if admission.refused:
            return _soft_refusal(draft.plan, admission)
        return None

    async def simulate(self, policies: LimitPolicies, request: LimitRequest) -> list[Verdict]:
        """What `reserve` would decide for `request` now, per counter, holding nothing."""
        draft = self._draft(policies, request)
        if draft is None:
            return []
        plan = draft.plan
        admission = await self.state.reserve(draft.batch(dry=True))
        refused = dict(zip(admission.refused, admission.frees, strict=True))
        verdicts = []
        for position, owner in enumerate(plan.owners):
            bucket = draft.buckets[position]
            window = owner.unit.period
            oldest = admission.oldest[position]
            if isinstance(owner, LimitRule):
                resets = window.expires_at(oldest) - draft.now if oldest is not None else None
                wait = _wait(owner, refused[position], draft.now) if position in refused else None
            else:
                ends = window.expires_at(bucket)
                resets = None if math.isinf(ends) else ends - draft.now
                wait = resets if position in refused else None
            verdicts.append(
                Verdict(
                    owner=owner,
                    entity=plan.entities[position],
                    window=window.label(bucket),
                    deciding=plan.counters.limits[position] is not None,
                    used=admission.used[position],
                    need=draft.needs[position] if isinstance(owner, LimitRule) else draft.amounts[position],
                    refused=position in refused,
                    retry_after_s=wait,
                    resets_in_s=resets,
                )
            )
        return verdicts

    def _draft(self, policies: LimitPolicies, request: LimitRequest, plan: CounterPlan | None = None) -> _Draft | None:
        """The request's charges: its plan's counters (memoised), the buckets of now, its amounts."""
        now = self.clock()
        if plan is None:
            plan = self._plan(policies, request)
        if not plan.kinds:
            return None
        return self._draft_of(plan, now, request.body, request.generates, request.sends, request.pricing)

    def _draft_of(
        self,
        plan: CounterPlan,
        now: float,
        body: Mapping[str, Any],
        generates: bool,
        sends: Sequence[Send],
        pricing: ModelPricing,
    ) -> _Draft:
        window = plan.window  # the buckets of now: the same for every request until one of them changes
        if window is None or not window[0] <= now < window[1]:
            window = plan.window_at(now, self._period_window)
        buckets, expiries = window[2], window[3]
        estimate = None
        amounts: Sequence[int]
        needs: Sequence[int]
        if plan.ones is not None:
            amounts = needs = plan.ones
        else:
            tokens = cost = 0
            if plan.uses_tokens or plan.prices:
                estimate = estimated_usage(body, generates=generates, sends=sends)
                tokens = max(estimate[0] + estimate[1], 1)
                if plan.prices:
                    priced = pricing.estimate(estimate[0], estimate[1])
                    cost = nano_usd(priced or 0.0, body)
            amounts, needs = plan.holds(tokens, cost)
        return _new(_Draft, (now, plan, buckets, expiries, amounts, needs, estimate))

    def _window(self, period: Period | CalendarPeriod, now: float) -> tuple[int, float]:
        """(bucket of `now`, when it stops counting) of `period`."""
        known = self._period_window(period, now)
        return known[2], known[3]

    def _period_window(self, period: Period | CalendarPeriod, now: float) -> tuple[float, float, int, float]:
        """(from, until, bucket of `now`, when it stops counting) of `period`, remembered while `now`
        stays in that bucket: a month's or a quarter's bucket is calendar arithmetic."""
        known = self._windows.get(period)
        if known is not None and known[0] <= now < known[1]:
            return known
        bucket = period.index(now)
        expires_at = period.expires_at(bucket)
        if isinstance(period, Period):
            start = float(bucket * period.bucket_s)
            end = start + period.bucket_s
        else:
            start, end = period.starts_at(bucket), (math.inf if period.name == "lifetime" else expires_at)
        known = self._windows[period] = (start, end, bucket, expires_at)
        return known

    def charges_none(
        self, policies: LimitPolicies, model: str, caller: str, subjects: tuple[str, ...], metadata: Mapping[str, str]
    ) -> bool:
        """True when requests of this shape were planned before and no counter applies to them, so
        `reserve` would return None: the caller may skip building what only charges read (the
        request's token estimate inputs, its costliest price). False when unknown yet."""
        plan = self.planned(policies, model, caller, subjects, metadata)
        return plan is not None and not plan.kinds

    def planned(
        self, policies: LimitPolicies, model: str, caller: str, subjects: tuple[str, ...], metadata: Mapping[str, str]
    ) -> CounterPlan | None:
        """The plan of requests of this shape if one was made before (None: not yet); an empty one
        (`len(plan) == 0`) when no counter applies to them (see `charges_none`)."""
        return self._memos.of(policies).plans.get(_shape(model, caller, subjects, metadata))

    def _plan(self, policies: LimitPolicies, request: LimitRequest) -> CounterPlan:
        """Which counters a request of this shape is charged in. Requests of one caller, model and
        metadata meet the same rules and counters, so the plan is remembered per compiled config
        (in the limiter's memo of it: the compiled config itself never changes)."""
        shape = _shape(request.model, request.caller, request.subjects, request.metadata)
        memo = self._memos.of(policies)
        plans = memo.plans
        plan = plans.get(shape)
        if plan is None:
            slots: list[Slot] = []
            applied: list[AppliedRule] = []
            rate_limits, budgets = policies.rate_limits, policies.budgets
            rate_rules = rate_limits.matching(request, memo.rate_limits.get(request.model)) if rate_limits.rules else ()
            if rate_rules:
                self._rate_limits(slots, applied, rate_rules, request)
            budget_rules = budgets.matching(request, memo.budgets.get(request.model)) if budgets.rules else None
            if budget_rules:
                self._budgets(slots, applied, budget_rules, request)
            v2 = policies.v2
            if v2.rate_limits:
                for rule in v2.matching(v2.rate_limits, request):
                    self._v2(slots, applied, rule, request)
            if v2.budgets:
                for rule in v2.matching(v2.budgets, request):
                    self._v2(slots, applied, rule, request)
            if len(plans) >= MAX_REMEMBERED_PLANS:
                plans.clear()
            plan = plans[shape] = CounterPlan(slots, applied)
        return plan

    async def settle(self, reservation: Reservation, *, release: bool, tokens: int | None, cost: float | None) -> None:
        """`release`: give back everything held. Else token and cost holds become the real `tokens`
        and `cost` (None keeps the estimate, when the real figure is unknown); requests stay counted."""
        plan = reservation.plan
        if plan is None:
            return
        settlement = self._settlement(reservation, release, tokens, cost)
        if settlement is None:
            if reservation.ticket is None:
                return
            # A ticket is settled even with nothing to correct: the store forgets the reservation.
            settlement = Settlement(plan.counters, reservation.buckets, (0,) * len(plan))
        self._observe(reservation, settlement, await self.state.adjust(settlement, ticket=reservation.ticket))

    def settle_now(self, reservation: Reservation, *, release: bool, tokens: int | None, cost: float | None) -> bool:
        """`settle` at once when the state store answers synchronously (the in-memory one): no await,
        so nothing can interrupt it. False, with nothing done, for a store that must be awaited."""
        state = self._at_once
        if state is None:
            return False
        settlement = self._settlement(reservation, release, tokens, cost)
        if settlement is not None:
            self._observe(reservation, settlement, state.adjust_now(settlement))
        return True

    def _settlement(
        self, reservation: Reservation, release: bool, tokens: int | None, cost: float | None
    ) -> Settlement | None:
        """The corrections to make (None: nothing to correct and no total to watch)."""
        plan = reservation.plan
        if plan is None:
            return None
        amounts = reservation.amounts
        watched = plan.watched if self._watch is not None else ()
        if release:
            deltas = [-amount for amount in amounts]
        else:
            deltas = [0] * len(amounts)
            if tokens is not None:
                for position in plan.token_positions:
                    deltas[position] = tokens - amounts[position]
            if plan.cost_positions and (spent := _nano_usd(cost)) is not None:
                for position in plan.cost_positions:
                    deltas[position] = spent - amounts[position]
        if not watched and not any(deltas):
            return None
        return _new(Settlement, (plan.counters, reservation.buckets, deltas, watched))

    def _observe(self, reservation: Reservation, settlement: Settlement, totals: Sequence[int]) -> None:
        """Budget alerts: each alerting budget's total after the settlement (others have no threshold).
        A total below its budget's lowest threshold is passed over without asking the watch."""
        watch, plan = self._watch, reservation.plan
        if watch is None or plan is None or not settlement.watched:
            return
        now = None
        # A settlement's `watched` is its plan's, so the three columns have one length (no `strict=`:
        # see `MemoryLimitState.hold_now`).
        for alert, position, total in zip(plan.alerts, settlement.watched, totals):  # noqa: B905
            if alert is None:
                continue
            budget, least = alert
            if total < least:
                continue
            if now is None:
                now = self.clock()
            watch.observe(budget, plan.entities[position], reservation.buckets[position], total, now)

    # --- building plans -------------------------------------------------------------------------

    def _key(self, kind: str, rule_id: str, unit: str, entity: Entity) -> str:
        """`counter_key`, remembered: most requests come from callers seen before."""
        memo = (kind, rule_id, unit, entity)
        key = self._keys.get(memo)
        if key is None:
            if len(self._keys) >= MAX_REMEMBERED_KEYS:
                self._keys.clear()
            key = self._keys[memo] = counter_key(kind, rule_id, unit, entity)
        return key

    def _rate_limits(
        self, slots: list[Slot], applied: list[AppliedRule], rules: Sequence[LimitRule], request: LimitRequest
    ) -> None:
        """The first rule decides (its limit is checked); the others only count the request."""
        for position, rule in enumerate(rules):
            unit = rule.unit
            measure: Measure = "request" if unit.kind == "requests" else "tokens"
            limit = rule.limit if position == 0 else None
            for entity in entities(rule.applies_per, request):
                key = self._key("rl", rule.id, unit.name, entity)
                slots.append(
                    Slot(key, unit.period, unit.period.span, limit, True, unit.kind, measure, rule, entity, rule.limit)
                )
        first = rules[0]
        applied.append(AppliedRule("rate_limit", first.config_name, first.id))

    def _budgets(
        self, slots: list[Slot], applied: list[AppliedRule], rules: Sequence[BudgetRule], request: LimitRequest
    ) -> None:
        for position, rule in enumerate(rules):
            unit = rule.unit
            kind: HoldKind = "cost" if unit.kind == "cost" else "tokens"
            measure: Measure = "cost" if unit.kind == "cost" else "budget-tokens"
            limit = rule.limit if position == 0 else None  # the first matching rule decides
            for entity in entities(rule.applies_per, request):
                key = self._key("budget", rule.id, unit.name, entity)
                slots.append(Slot(key, unit.period, 1, limit, not rule.audit, kind, measure, rule, entity, budget=rule))
            applied.append(AppliedRule("budget", rule.config_name, rule.id))

    def _v2(self, slots: list[Slot], applied: list[AppliedRule], rule: V2Rule, request: LimitRequest) -> None:
        """Every window of a matching V2 rule is checked (every matching V2 rule must allow)."""
        charged = rule.charged(request)
        if not charged:
            return
        for meter, entity in charged:
            unit = meter.unit
            if isinstance(meter, LimitRule):
                key = self._key("rl2", rule.name, unit.name, entity)
                measure: Measure = "request" if meter.unit.kind == "requests" else "tokens"
                slot = Slot(key, meter.unit.period, meter.unit.period.span, meter.limit, not meter.audit,
                            meter.unit.kind, measure, meter, entity, meter.limit)  # fmt: skip
            else:
                key = self._key("budget2", rule.name, unit.name, entity)
                enforce = not (meter.audit or meter.soft)
                slot = Slot(
                    key, meter.unit.period, 1, meter.limit, enforce, "cost", "cost", meter, entity, budget=meter
                )
            slots.append(slot)
        applied.append(AppliedRule(rule.kind, rule.name, rule.name))

    # --- answers --------------------------------------------------------------------------------

    def _refusal(self, draft: _Draft, admission: Admission, *, only: int | None = None) -> Refusal:
        """The first enforced refusal in charge order (or the counter `only`); among one rule's
        counters, the longest wait."""
        plan = draft.plan
        chosen: Refusal | None = None
        for position, frees in zip(admission.refused, admission.frees, strict=True):
            owner, entity = plan.owners[position], plan.entities[position]
            if (not plan.counters.enforced[position]) if only is None else position != only:
                continue
            if chosen is not None and chosen.rule_id != owner.id:
                break
            used = admission.used[position]
            if isinstance(owner, LimitRule):
                wait = _wait(owner, frees, draft.now)
                refusal = Refusal.rate_limit(owner, entity, used=used, need=draft.needs[position], retry_after_s=wait)
            else:
                refusal = Refusal.budget(owner, entity, used=used, bucket=draft.buckets[position], now=draft.now)
            if chosen is None or (refusal.retry_after_s or 0.0) > (chosen.retry_after_s or 0.0):
                chosen = refusal
        assert chosen is not None, "an admission that was refused names an enforced counter"
        return chosen


def _would_block(plan: CounterPlan, admission: Admission) -> tuple[AppliedRule, ...]:
    """The rules of the counters that refused without being enforced (audit modes)."""
    would_block: list[AppliedRule] = []
    for position in admission.refused:
        owner = plan.owners[position]
        kind: PolicyKind = "rate_limit" if isinstance(owner, LimitRule) else "budget"
        rule = AppliedRule(kind, owner.config_name, owner.id)
        if rule not in would_block:
            would_block.append(rule)
    return tuple(would_block)


def _shape(model: str, caller: str, subjects: tuple[str, ...], metadata: Mapping[str, str]) -> Shape:
    """What decides which counters a request is charged in: its model, caller and metadata."""
    return (model, caller, subjects, frozenset(metadata.items()))


def _reservation(
    draft: _Draft,
    used: Sequence[int],
    oldest: Sequence[int | None] = (),
    admission: Admission | None = None,
    *,
    store: SyncLimitState | None = None,
) -> Reservation:
    """An admitted request's reservation; `admission` (None: every counter had room, nothing was
    refused and the store kept no ticket) names the audit rules that would have refused."""
    plan = draft.plan
    would_block = _would_block(plan, admission) if admission is not None and admission.refused else ()
    ticket = admission.ticket if admission is not None else None
    return Reservation(
        plan.applied, _headroom(draft, used, oldest, store), would_block, draft.estimate, ticket,
        plan=plan, buckets=draft.buckets, amounts=draft.amounts,
    )  # fmt: skip


def _headroom(
    draft: _Draft, used: Sequence[int], oldest: Sequence[int | None], store: SyncLimitState | None
) -> tuple[Headroom, ...]:
    """Per kind, what is left under the tightest deciding counter once this request is held.
    `used`: what each window held before; `oldest[position]`: its oldest bucket holding something
    after, or, with `store`, what the store finds when a rate limit's reset is wanted."""
    plan, amounts, now = draft.plan, draft.amounts, draft.now
    rooms = []
    for name, limited, rate, scale in plan.rooms:
        tightest = -1
        least = 0
        shown: float = 0
        for position, room_limit, room_shown in limited:
            left = room_limit - used[position] - amounts[position]
            if tightest < 0 or left < least:
                tightest, least, shown = position, left, room_shown
        if least < 0:
            least = 0
        if rate:
            if store is None:
                first = oldest[tightest]
            else:
                counters = plan.counters
                first = store.oldest_now(counters.keys[tightest], draft.buckets[tightest], counters.spans[tightest])
            reset = plan.periods[tightest].expires_at(first) - now if first is not None else 0.0
            rooms.append(_new(Headroom, (name, shown, least, reset if reset > 0.0 else 0.0)))
        else:
            # A budget's room in its manifest unit (USD or tokens); its reset, the period's end.
            ends = draft.expiries[tightest]
            reset_s = None if ends == math.inf else (ends - now if ends > now else 0.0)
            rooms.append(_new(Headroom, (name, shown, least / scale, reset_s)))
    return tuple(rooms)


def _soft_refusal(plan: CounterPlan, admission: Admission) -> int | None:
    """The position of a refused `soft_enforce` budget counter when no other matching budget rule
    allows the request (has room in every window), else None: soft budgets yield to one that does."""
    refused = set(admission.refused)
    owners = plan.owners
    soft = [p for p in admission.refused if isinstance(o := owners[p], BudgetRule) and o.soft]
    if not soft:
        return None
    room: dict[str, bool] = {}
    for position, owner in enumerate(owners):
        if isinstance(owner, BudgetRule) and owner.rule_type != BUDGET_CONFIG and not owner.audit:
            room[owner.id] = room.get(owner.id, True) and position not in refused
    for position in soft:
        others = [fits for name, fits in room.items() if name != owners[position].id]
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
