"""Does a V2 migration decide like the V1 rules it replaces? Run both on the same traffic and say why not.

Each request goes, in time order, through two limiters of the gateway (`Limiter` over its in-memory
store, on one simulated clock): one enforcing the V1 configs, one the migrated V2 manifests. Every
admitted request is settled with its usage and cost on both sides. A request admitted on one side and
refused on the other is a `Difference`, explained from the rules it met on each side and from the
migration's notes on the rules involved:

- `first-match`: V2 refused by a limit whose V1 rule matched but did not decide (V1 consults only
  the first matching rule; V2 every matching limit);
- `excluded`: V1 refused by a rule whose V2 limit leaves this request out (or counts less: V1
  counted requests other rules decided against it);
- `widened`: V2 refused by a limit whose V1 rule does not match (V2 cannot filter on a V1 condition);
- `counter`: the same rule decided on both sides but its counters hold different usage (a counter
  split, one entity instead of two, a team budget), `knock-on` when that follows from an earlier
  difference on the same counter;
- `audit`: the V2 limit is in audit mode (a rule that never decides in V1, a token budget).
Both sides refusing by different rules is listed apart (`other-rule`), not as a difference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tfy_gateway.gateway.accounting.cost import ModelPricing
from tfy_gateway.gateway.accounting.pricing import TokenPrice
from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.gateway.data_plane.limiting import GENERATING_ENDPOINTS
from tfy_gateway.gateway.limits import (
    Limiter,
    LimitPolicies,
    LimitRequest,
    LimitRule,
    MemoryLimitState,
    Refusal,
    Refused,
)
from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.limits.scope import Entity, entities
from tfy_gateway.gateway.providers import Usage
from tfy_gateway.gateway.routing import RouteRequest
from tfy_gateway.policy.clock import SimClock
from tfy_gateway.policy.config import PolicyConfig
from tfy_gateway.policy.migrate import Migration
from tfy_gateway.policy.traffic import SimRequest
from tfy_gateway.policy.translation import RuleKind, Translation


@dataclass(frozen=True)
class Decision:
    admitted: bool
    refusal: Refusal | None = None
    applied: tuple[AppliedRule, ...] = ()

    def describe(self) -> str:
        if self.refusal is not None:
            return f"429 by {self.refusal.kind.replace('_', '-')} '{self.refusal.rule_id}'"
        return "admitted"


@dataclass(frozen=True)
class Difference:
    index: int  # position in the traffic, from 1
    request: SimRequest
    v1: Decision
    v2: Decision
    code: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        request = self.request
        return {
            "request": self.index,
            "label": request.label,
            "at": request.at,
            "caller": request.caller,
            "teams": list(request.teams),
            "model": request.model,
            "metadata": dict(request.metadata),
            "v1": self.v1.describe(),
            "v2": self.v2.describe(),
            "code": self.code,
            "reason": self.reason,
        }


@dataclass
class EquivalenceReport:
    source: str  # "generated" or "recorded"
    requests: int = 0
    differences: list[Difference] = field(default_factory=list)
    other_rule: list[Difference] = field(default_factory=list)
    refused: dict[str, tuple[int, int]] = field(default_factory=dict)  # "v1"/"v2" -> (refused, admitted)
    elapsed_s: float = 0.0

    @property
    def equivalent(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "requests": self.requests,
            "equivalent": self.equivalent,
            "differences": [d.to_dict() for d in self.differences],
            "refused_by_another_rule": [d.to_dict() for d in self.other_rule],
            "refused": {side: {"refused": r, "admitted": a} for side, (r, a) in self.refused.items()},
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class Group:
    """Differences with the same reason code and the same outcome on each side."""

    code: str
    v1: str
    v2: str
    members: tuple[Difference, ...]


def grouped(report: EquivalenceReport) -> list[Group]:
    """The differences by (code, V1 outcome, V2 outcome), largest group first."""
    groups: dict[tuple[str, str, str], list[Difference]] = {}
    for difference in report.differences:
        key = (difference.code, difference.v1.describe(), difference.v2.describe())
        groups.setdefault(key, []).append(difference)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[1][0].index))
    return [Group(code, v1, v2, tuple(members)) for (code, v1, v2), members in ordered]


class _Side:
    """One limiter over one set of policies (V1 or V2) on the shared clock."""

    def __init__(self, policies: LimitPolicies, clock: SimClock) -> None:
        self.policies = policies
        self.limiter = Limiter(MemoryLimitState(clock), clock=clock)
        self.refused = 0

    async def decide(self, request: LimitRequest, tokens: int, cost: float | None) -> Decision:
        try:
            reservation = await self.limiter.reserve(self.policies, request)
        except Refused as refused:
            self.refused += 1
            return Decision(False, refused.refusal)
        if reservation is None:
            return Decision(True)
        await self.limiter.settle(reservation, release=False, tokens=tokens, cost=cost)
        return Decision(True, None, reservation.applied)


def limit_request(request: SimRequest, config: PolicyConfig) -> tuple[LimitRequest, int, float | None]:
    """What the limiters see of `request`, and the tokens and cost its answer settles with."""
    principal = config.principal(request.caller, request.teams)
    usage = request.answered_usage()
    if request.cost is not None:
        per_thousand = request.cost * 1000 / max(usage.total, 1)
        pricing = ModelPricing(TokenPrice(per_thousand, per_thousand))
    else:
        entry = config.compiled.catalog.get(request.model)
        pricing = entry.pricing if entry is not None else ModelPricing(None)
    limit = LimitRequest(
        model=request.model,
        caller=principal.subject,
        subjects=principal.subjects,
        metadata=request.metadata,
        body=request.body,
        generates=request.endpoint in GENERATING_ENDPOINTS,
        pricing=pricing,
    )
    tokens = usage.total
    if request.cost is not None:
        return limit, tokens, request.cost
    return (
        limit,
        tokens,
        pricing.cost(Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)),
    )


async def compare(
    v1: LimitPolicies,
    v2: LimitPolicies,
    traffic: Iterable[SimRequest],
    config: PolicyConfig,
    migration: Migration,
    *,
    source: str,
    start: float,
    observe: Callable[[bool, bool], None] | None = None,
) -> EquivalenceReport:
    """Run `traffic` (in time order) through both sides; every difference with its reason (see the
    module doc). `observe(v1 admitted, v2 admitted)` hears each outcome (generated traffic adapts)."""
    started = time.perf_counter()
    clock = SimClock(start)
    old, new = _Side(v1, clock), _Side(v2, clock)
    report = EquivalenceReport(source)
    explain = _Explainer(v1, migration)
    for index, request in enumerate(traffic, start=1):
        clock.move_to(request.at)
        limit, tokens, cost = limit_request(request, config)
        first = await old.decide(limit, tokens, cost)
        second = await new.decide(limit, tokens, cost)
        report.requests = index
        if observe is not None:
            observe(first.admitted, second.admitted)
        if first.admitted != second.admitted:
            code, reason = explain.why(limit, first, second, index)
            report.differences.append(Difference(index, request, first, second, code, reason))
        elif not first.admitted and first.refusal and second.refusal:
            origin = explain.origin_of(second.refusal)
            if origin != first.refusal.rule_id:
                was, now = first.refusal.rule_id, second.refusal.rule_id
                reason = f"V1 refused by '{was}', V2 by '{now}' (from '{origin}')"
                report.other_rule.append(Difference(index, request, first, second, "other-rule", reason))
    report.refused = {
        "v1": (old.refused, report.requests - old.refused),
        "v2": (new.refused, report.requests - new.refused),
    }
    report.elapsed_s = time.perf_counter() - started
    return report


class _Explainer:
    """Why a request's outcome differs, from the rules it meets on each side and the migration's notes."""

    def __init__(self, v1: LimitPolicies, migration: Migration) -> None:
        self.v1 = v1
        self.migration = migration
        self.touched: dict[tuple[str, Entity], int] = {}  # (V1 rule, entity) -> first difference on it

    def _translation_of(self, refusal: Refusal) -> Translation | None:
        """What a V2 refusal's limit was migrated from (a V1 token budget became a rate limit)."""
        kind: RuleKind = "rate_limit" if refusal.kind == "rate_limit" else "budget"
        return self.migration.origin(refusal.rule_id, kind)

    def origin_of(self, refusal: Refusal) -> str | None:
        translation = self._translation_of(refusal)
        return translation.rule_id if translation is not None else None

    def why(self, request: LimitRequest, v1: Decision, v2: Decision, index: int) -> tuple[str, str]:
        route = RouteRequest(request.model, request.subjects, request.metadata)
        rules: list[LimitRule | BudgetRule] = [*self.v1.rate_limits.rules, *self.v1.budgets.rules]
        counters = [(r.id, e) for r in rules if r.matches(route) for e in entities(r.applies_per, request)]
        earlier = min((self.touched[c] for c in counters if c in self.touched), default=None)
        for counter in counters:
            self.touched.setdefault(counter, index)
        if v2.refusal is not None:
            translation = self._translation_of(v2.refusal)
            family = translation.kind if translation is not None else v2.refusal.kind
            matched = [r.id for r in rules if r.matches(route) and _kind(r) == family]
            return self._refused_in_v2(v2.refusal, translation, matched, earlier)
        assert v1.refusal is not None
        return self._refused_in_v1(v1.refusal, v2, earlier)

    def _refused_in_v2(
        self, refusal: Refusal, translation: Translation | None, matched: list[str], earlier: int | None
    ) -> tuple[str, str]:
        origin = translation.rule_id if translation is not None else None
        name = refusal.rule_id
        if origin in matched[1:]:
            return "first-match", (
                f"V1 rule '{origin}' matches but did not decide (first match: '{matched[0]}', which had room); "
                f"V2 checks every matching limit and '{name}' was exhausted "
                f"({_amount(refusal.used)} of {_amount(refusal.limit)} {refusal.unit})"
            )
        if origin not in matched:
            return "widened", f"V1 rule '{origin}' does not match this request, its V2 limit '{name}' does: " + _notes(
                translation
            )
        if earlier is not None:
            return (
                "knock-on",
                f"'{name}' holds more than V1's '{origin}' after earlier differences (from request {earlier})",
            )
        return "counter", f"'{name}' holds more than V1's '{origin}': {_notes(translation)}"

    def _refused_in_v1(self, refusal: Refusal, v2: Decision, earlier: int | None) -> tuple[str, str]:
        rule_id = refusal.rule_id
        kind: RuleKind = "rate_limit" if refusal.kind == "rate_limit" else "budget"
        translation = next((t for t in self.migration.translations if t.rule_id == rule_id and t.kind == kind), None)
        if translation is None or not translation.manifests:
            return "excluded", f"V1 rule '{rule_id}' has no V2 limit: {_notes(translation)}"
        names = ", ".join(translation.names)
        if not {a.rule_id for a in v2.applied} & set(translation.names):
            return "excluded", f"no V2 limit of '{rule_id}' ({names}) applies to this request: {_notes(translation)}"
        if {m.get("mode") for m in translation.manifests} == {"audit"}:
            return "audit", f"'{rule_id}' was migrated in audit mode: {_notes(translation)}"
        if earlier is not None:
            return (
                "knock-on",
                f"'{names}' holds less than V1's '{rule_id}' after earlier differences (from request {earlier})",
            )
        return "counter", (
            f"V1's '{rule_id}' was exhausted ({_amount(refusal.used)} of {_amount(refusal.limit)} {refusal.unit}), "
            f"its V2 limit had room: {_notes(translation)}"
        )


def _kind(rule: LimitRule | BudgetRule) -> str:
    return "rate_limit" if isinstance(rule, LimitRule) else "budget"


def _notes(translation: Translation | None) -> str:
    if translation is None:
        return "not migrated"
    found = [n.message for n in translation.notes if not n.exact]
    if not found:
        return "no note"
    return found[0] + (f" (and {len(found) - 1} more note(s) on '{translation.rule_id}')" if len(found) > 1 else "")


def _amount(value: float) -> str:
    return f"{value:,.6f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
