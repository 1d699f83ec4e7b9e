"""The applied `gateway-budget-config` (V1), compiled once per configuration version.

Spend counts against every matching rule, and the first matching rule alone decides allow or block
(the platform's documented V1 semantics); `audit_mode` on that rule tracks spend without blocking.
Units are cost (USD, counted in nano-USD) or tokens (input + output) per calendar period in UTC. As
for rate limits, a rule whose `budget_applies_per` names `metadata.<key>` matches only requests
carrying that key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from tfy_gateway.gateway.limits.calendar import CALENDAR, CalendarPeriod
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.scope import METADATA_PREFIX
from tfy_gateway.gateway.limits.state import NANO_USD
from tfy_gateway.gateway.routing.matching import WhenMatcher
from tfy_gateway.gateway.routing.rule_index import ModelIndex, SubjectIndex
from tfy_gateway.gateway.routing.types import RouteRequest
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.manifests.budgets_v2 import BudgetV2Alert
from tfy_gateway.manifests.limits import BudgetAlerts
from tfy_gateway.manifests.limits import BudgetRule as BudgetRuleSpec

BUDGET_CONFIG = "gateway-budget-config"

BudgetKind = Literal["cost", "tokens"]


@dataclass(frozen=True)
class BudgetUnit:
    name: str  # e.g. "cost_per_month", as written in the manifest
    kind: BudgetKind
    period: CalendarPeriod

    @classmethod
    def parse(cls, name: str) -> BudgetUnit:
        kind, _, period = name.partition("_per_")
        if kind not in ("cost", "tokens") or period not in CALENDAR:
            raise ValueError(f"unknown budget unit '{name}'")
        return cls(name, "cost" if kind == "cost" else "tokens", CALENDAR[period])

    def amount(self, value: float) -> int:
        """A manifest value (USD or tokens) in the counter's integer unit."""
        return round(value * NANO_USD) if self.kind == "cost" else round(value)

    def show(self, amount: int) -> float:
        """A counter amount back in the manifest's unit."""
        return amount / NANO_USD if self.kind == "cost" else float(amount)


@dataclass(frozen=True)
class Alerting:
    thresholds: tuple[float, ...]  # percent of the limit
    targets: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, alerts: BudgetAlerts | BudgetV2Alert | None) -> Alerting | None:
        """A manifest's `alerts` (V1 or V2), or None when it has no threshold or no target."""
        if alerts is None or not alerts.thresholds or not alerts.notification_target:
            return None
        return cls(
            tuple(sorted(float(t) for t in alerts.thresholds)),
            tuple(
                MappingProxyType(target.model_dump(mode="json", exclude_none=True))
                for target in alerts.notification_target
            ),
        )


@dataclass(frozen=True)
class BudgetRule:
    id: str
    config_name: str
    when: WhenMatcher
    limit: int  # in the unit's integer amount
    unit: BudgetUnit
    applies_per: tuple[str, ...] = ()
    audit: bool = False
    alerting: Alerting | None = None
    required_metadata: tuple[str, ...] = ()
    rule_type: str = BUDGET_CONFIG  # the manifest type it came from (V2 periods are rules too)
    soft: bool = False  # V2 `mode: soft_enforce`: refuses only when no other matching budget has room

    def matches(self, request: RouteRequest) -> bool:
        metadata = request.metadata
        return all(key in metadata for key in self.required_metadata) and self.when.matches(request)


@dataclass(frozen=True, eq=False)
class CompiledBudgets:
    """The rules in order, narrowed per request as `CompiledLimits` narrows rate limits."""

    rules: tuple[BudgetRule, ...] = ()
    index: ModelIndex[BudgetRule] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", ModelIndex.of(self.rules))

    def matching(self, request: LimitRequest, by_model: SubjectIndex[BudgetRule] | None = None) -> list[BudgetRule]:
        """Every matching rule in order; the first one decides. `by_model` as in `CompiledLimits.matching`."""
        if not self.rules:
            return []
        if by_model is None:
            by_model = SubjectIndex(self.index.select(request.model))
        candidates = by_model.candidates(request.subjects)
        if not candidates:
            return []
        route = RouteRequest(request.model, request.subjects, request.metadata)
        return [rule for rule in candidates if rule.matches(route)]


def compile_budget_rule(rule: BudgetRuleSpec, config_name: str) -> BudgetRule:
    unit = BudgetUnit.parse(rule.unit)
    applies_per = tuple(rule.budget_applies_per or ())
    alerting = Alerting.of(rule.alerts)
    return BudgetRule(
        id=rule.id,
        config_name=config_name,
        when=WhenMatcher.from_when(rule.when),
        limit=unit.amount(rule.limit_to),
        unit=unit,
        applies_per=applies_per,
        audit=rule.audit_mode,
        alerting=alerting,
        required_metadata=tuple(p.removeprefix(METADATA_PREFIX) for p in applies_per if p.startswith(METADATA_PREFIX)),
    )


def compile_budgets(snapshot: ConfigSnapshot) -> CompiledBudgets:
    config = snapshot.budgeting()
    if config is None:
        return CompiledBudgets()
    return CompiledBudgets(tuple(compile_budget_rule(rule, config.name) for rule in config.rules))
