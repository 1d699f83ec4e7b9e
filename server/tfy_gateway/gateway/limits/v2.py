"""V2 limits: `tenant-rate-limit-config/model`, `tenant-budget-config` and `team-budget-config`.

Each manifest is one named rule with `in`/`not_in` filters, several windows (or budget periods),
an `applies_to` that picks the counter (aggregate, per user, team, virtual account, model, or one
metadata key's value), per-entity `overrides` that replace all of the rule's limits, and a mode.
Unlike V1, **every matching V2 rule must allow a request** and usage counts against each of them;
V1 rules are checked first (the limiter puts V1 charges before V2 ones, and a refusal names the
first enforced one). Each window compiles into a V1-shaped `LimitRule` or `BudgetRule` (one counter
family), so admission, settling, alerts and usage answers treat both versions alike.

Filters compare exact strings (the platform documents no wildcards for V2): `users` the caller's
email, `teams` its teams, `virtual_accounts` its account name, `models` the requested model,
`provider_accounts` the requested model's account (the part before `/`), `metadata` the request's
value for each key. A caller that has no value for a per-entity `applies_to` (a virtual account
under `per-user`, a request without the metadata key) is not counted by that rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from types import MappingProxyType
from typing import Literal, TypeVar

from tfy_gateway.gateway.limits.budgets import Alerting, BudgetRule, BudgetUnit
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.rules import LimitRule, Unit
from tfy_gateway.gateway.limits.scope import Entity
from tfy_gateway.gateway.routing.matching import WhenMatcher
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.manifests.budgets_v2 import (
    BudgetV2AppliesTo,
    BudgetV2AppliesToAggregate,
    BudgetV2AppliesToMetadata,
    BudgetV2Limits,
    BudgetV2PerMetadataOverride,
    BudgetV2PerModelOverride,
    BudgetV2PerUserOverride,
    BudgetV2PerVirtualAccountOverride,
    BudgetV2WhenTeamScoped,
    BudgetV2WhenTenantScoped,
    TeamBudgetConfig,
    TenantBudgetConfig,
)
from tfy_gateway.manifests.filters_v2 import InNotInFilter, TenantSubjects
from tfy_gateway.manifests.rate_limits_v2 import (
    ModelRateLimitAppliesTo,
    ModelRateLimitConfig,
    ModelRateLimits,
    ModelRateLimitWhen,
    RateLimitAppliesToAggregate,
    RateLimitAppliesToMetadata,
    RateLimitPerMetadataOverride,
    RateLimitPerModelOverride,
    RateLimitPerTeamOverride,
    RateLimitPerUserOverride,
    RateLimitPerVirtualAccountOverride,
)

MODEL_RATE_LIMIT_CONFIG = "tenant-rate-limit-config/model"
TENANT_BUDGET_CONFIG = "tenant-budget-config"
TEAM_BUDGET_CONFIG = "team-budget-config"

Meter = LimitRule | BudgetRule
V2Kind = Literal["rate_limit", "budget"]

V2When = ModelRateLimitWhen | BudgetV2WhenTenantScoped | BudgetV2WhenTeamScoped
RateLimitOverride = (
    RateLimitPerUserOverride
    | RateLimitPerTeamOverride
    | RateLimitPerVirtualAccountOverride
    | RateLimitPerModelOverride
    | RateLimitPerMetadataOverride
)
BudgetOverride = (
    BudgetV2PerUserOverride | BudgetV2PerModelOverride | BudgetV2PerVirtualAccountOverride | BudgetV2PerMetadataOverride
)
Override = TypeVar("Override", RateLimitOverride, BudgetOverride)


@dataclass(frozen=True)
class Filter:
    """`{in, not_in}`: one of the request's values is in `allowed` (None: any) and none is excluded."""

    allowed: frozenset[str] | None
    excluded: frozenset[str]

    @classmethod
    def of(cls, spec: InNotInFilter | None) -> Filter | None:
        if spec is None:
            return None
        return cls(None if spec.in_ is None else frozenset(spec.in_), frozenset(spec.not_in or ()))

    def allows(self, values: tuple[str, ...]) -> bool:
        if self.excluded and not self.excluded.isdisjoint(values):
            return False
        return self.allowed is None or not self.allowed.isdisjoint(values)

    def mismatch(self, what: str, values: tuple[str, ...]) -> str | None:
        if self.excluded.intersection(values):
            return f"{what}: {sorted(self.excluded.intersection(values))} is excluded (not_in)"
        if self.allowed is not None and self.allowed.isdisjoint(values):
            shown = list(values) or "none"
            return f"{what}: {shown} is not in {sorted(self.allowed)}"
        return None


@dataclass(frozen=True)
class V2Match:
    users: Filter | None = None
    teams: Filter | None = None
    virtual_accounts: Filter | None = None
    models: Filter | None = None
    provider_accounts: Filter | None = None
    metadata: tuple[tuple[str, Filter], ...] = ()
    team_name: str | None = None  # a team budget counts its team's requests only

    def matches(self, request: LimitRequest) -> bool:
        """`mismatch(request) is None`, without building the reason (the per-request path)."""
        if self.team_name is not None and f"team:{self.team_name}" not in request.subjects:
            return False
        user, account, teams = request.identity
        model = request.model
        metadata = request.metadata
        for spec, values in (
            (self.users, user),
            (self.teams, teams),
            (self.virtual_accounts, account),
            (self.models, (model,)),
            (self.provider_accounts, (model.partition("/")[0],)),
        ):
            if spec is not None and not spec.allows(values):
                return False
        return all(spec.allows((metadata[key],) if key in metadata else ()) for key, spec in self.metadata)

    def mismatch(self, request: LimitRequest, *, subjects_only: bool = False) -> str | None:
        """Why `request` is not matched (the first failing filter), or None when it is;
        `subjects_only`: judge who is asking alone (a budget's "my usage")."""
        if self.team_name is not None and f"team:{self.team_name}" not in request.subjects:
            return f"team budget of '{self.team_name}': the caller is not a member"
        user, account, teams = request.identity
        checks: list[tuple[str, Filter | None, tuple[str, ...]]] = [
            ("subjects.users", self.users, user),
            ("subjects.teams", self.teams, teams),
            ("subjects.virtual_accounts", self.virtual_accounts, account),
            ("models", self.models, (request.model,)),
            ("provider_accounts", self.provider_accounts, (request.model.partition("/")[0],)),
        ]
        if subjects_only:
            checks = checks[:3]
        else:
            checks += [
                (f"metadata.{key}", spec, (request.metadata[key],) if key in request.metadata else ())
                for key, spec in self.metadata
            ]
        for what, spec, values in checks:
            if spec is not None and (reason := spec.mismatch(what, values)) is not None:
                return reason
        return None


@dataclass(frozen=True)
class V2Rule:
    kind: V2Kind
    name: str
    type: str
    match: V2Match
    applies_to: str  # aggregate | per-user | per-team | per-virtual-account | per-model | metadata
    metadata_key: str | None
    meters: tuple[Meter, ...]  # one per window / period
    overrides: Mapping[str, tuple[Meter, ...]] = field(default_factory=lambda: MappingProxyType({}))  # entity -> meters
    mode: str = "enforce"

    def charged(self, request: LimitRequest) -> list[tuple[Meter, Entity]]:
        """Every (window, counter) the request is charged in; empty when it has no counter here."""
        out: list[tuple[Meter, Entity]] = []
        for dimension, value, bare in self._entities(request):
            meters = self.overrides.get(bare, self.meters) if bare is not None else self.meters
            entity: Entity = ((dimension, value),) if dimension else ()
            out += [(meter, entity) for meter in meters]
        return out

    def meters_for(self, entity: Entity) -> tuple[Meter, ...]:
        """The windows that count for the counter `entity` (an override's, or the rule's own)."""
        if not entity or not self.overrides:
            return self.meters
        dimension, value = entity[0]
        bare = value.partition(":")[2] if dimension in ("user", "virtualaccount", "team") else value
        return self.overrides.get(bare, self.meters)

    def meters_all(self) -> tuple[Meter, ...]:
        """Every window of the rule, its own and its overrides' (for usage listings)."""
        out = list(self.meters)
        for meters in self.overrides.values():
            out += [meter for meter in meters if meter not in out]
        return tuple(out)

    def _entities(self, request: LimitRequest) -> list[tuple[str, str, str | None]]:
        """(dimension, counter value, bare name for overrides) per counter of `request`."""
        user, account, teams = request.identity
        kind = self.applies_to
        if kind == "aggregate":
            return [("", "", None)]
        if kind == "per-user":
            return [("user", request.caller, user[0])] if user else []
        if kind == "per-virtual-account":
            return [("virtualaccount", request.caller, account[0])] if account else []
        if kind == "per-team":
            return [("team", f"team:{team}", team) for team in teams]
        if kind == "per-model":
            return [("model", request.model, request.model)]
        key = self.metadata_key or ""
        if key in request.metadata:
            return [(f"metadata.{key}", request.metadata[key], request.metadata[key])]
        return []


@dataclass(frozen=True)
class CompiledV2:
    rate_limits: tuple[V2Rule, ...] = ()
    budgets: tuple[V2Rule, ...] = ()

    def matching(self, rules: tuple[V2Rule, ...], request: LimitRequest) -> list[V2Rule]:
        return [rule for rule in rules if rule.match.matches(request)]


def _match(when: V2When | None, team_name: str | None = None) -> V2Match:
    if when is None:
        return V2Match(team_name=team_name)
    subjects = when.subjects
    return V2Match(
        users=Filter.of(subjects.users) if subjects is not None else None,
        teams=Filter.of(subjects.teams) if isinstance(subjects, TenantSubjects) else None,
        virtual_accounts=Filter.of(subjects.virtual_accounts) if subjects is not None else None,
        models=Filter.of(when.models),
        provider_accounts=Filter.of(when.provider_accounts),
        metadata=tuple((key, spec) for key, value in (when.metadata or {}).items() if (spec := Filter.of(value))),
        team_name=team_name,
    )


def _entities(override: RateLimitOverride | BudgetOverride) -> list[str]:
    """The users, teams, virtual accounts, models or metadata values an override names."""
    if isinstance(override, (RateLimitPerUserOverride, BudgetV2PerUserOverride)):
        return override.users
    if isinstance(override, RateLimitPerTeamOverride):
        return override.teams
    if isinstance(override, (RateLimitPerVirtualAccountOverride, BudgetV2PerVirtualAccountOverride)):
        return override.virtual_accounts
    if isinstance(override, (RateLimitPerModelOverride, BudgetV2PerModelOverride)):
        return override.models
    return override.metadata_values


def _overrides(
    overrides: Sequence[Override] | None, build: Callable[[Override], tuple[Meter, ...]]
) -> Mapping[str, tuple[Meter, ...]]:
    """Entity name -> its override's meters; the first override naming an entity wins."""
    out: dict[str, tuple[Meter, ...]] = {}
    for override in overrides or ():
        meters = build(override)
        for name in _entities(override):
            out.setdefault(name, meters)
    return MappingProxyType(out)


def _metadata_key(applies_to: ModelRateLimitAppliesTo | BudgetV2AppliesTo) -> str | None:
    if isinstance(applies_to, (RateLimitAppliesToMetadata, BudgetV2AppliesToMetadata)):
        return applies_to.metadata
    return None


def compile_rate_limit(config: ModelRateLimitConfig) -> V2Rule:
    name, audit = config.name, config.mode == "audit"

    def build(limits: ModelRateLimits) -> tuple[Meter, ...]:
        return tuple(
            LimitRule(
                id=name,
                config_name=name,
                when=WhenMatcher(),
                limit=value,
                unit=Unit.parse(unit),
                rule_type=MODEL_RATE_LIMIT_CONFIG,
                audit=audit,
            )
            for unit, value in limits.windows().items()
        )

    applies_to = config.applies_to
    overrides: Sequence[RateLimitOverride] | None = (
        None if isinstance(applies_to, RateLimitAppliesToAggregate) else applies_to.overrides
    )
    by_entity = _overrides(overrides, lambda override: build(override.limits))
    return V2Rule(
        "rate_limit", name, config.type, _match(config.when), applies_to.type,
        _metadata_key(applies_to), build(config.limits), by_entity, config.mode,
    )  # fmt: skip


def compile_budget(config: TenantBudgetConfig | TeamBudgetConfig) -> V2Rule:
    name, mode = config.name, config.mode
    alerting = Alerting.of(config.alerts)

    def build(limits: BudgetV2Limits) -> tuple[Meter, ...]:
        meters = []
        for period, value in limits.periods().items():
            unit = BudgetUnit.parse(period)
            meters.append(
                BudgetRule(
                    id=name,
                    config_name=name,
                    when=WhenMatcher(),
                    limit=unit.amount(value),
                    unit=unit,
                    audit=mode == "audit",
                    soft=mode == "soft_enforce",
                    alerting=alerting,
                    rule_type=config.type,
                )
            )
        return tuple(meters)

    applies_to = config.applies_to
    overrides: Sequence[BudgetOverride] | None = (
        None if isinstance(applies_to, BudgetV2AppliesToAggregate) else applies_to.overrides
    )
    by_entity = _overrides(overrides, lambda override: build(override.limits))
    team = config.team_name if isinstance(config, TeamBudgetConfig) else None
    return V2Rule(
        "budget", name, config.type, _match(config.when, team), applies_to.type,
        _metadata_key(applies_to), build(config.limits), by_entity, mode,
    )  # fmt: skip


def compile_v2(snapshot: ConfigSnapshot) -> CompiledV2:
    rate_limits = [compile_rate_limit(config) for config in snapshot.model_rate_limits()]
    budgets = [compile_budget(config) for config in snapshot.budgets_v2()]
    by_name = attrgetter("name")  # a stable order: by name, as the platform lists them
    return CompiledV2(tuple(sorted(rate_limits, key=by_name)), tuple(sorted(budgets, key=by_name)))
