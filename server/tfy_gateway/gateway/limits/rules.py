"""The applied `gateway-rate-limiting-config` (V1), compiled once per configuration version.

Rules are tried in order and only the first matching one decides whether a request is admitted;
every matching rule counts it (the platform's V1 deprecation notice: "V1 enforced only the first
matching rule ... and usage was still counted against every rule the request matched"). A rule
whose `rate_limit_applies_per` names `metadata.<key>` only matches requests carrying that key (there
is no counter to charge otherwise), so requests without it fall through to later rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.scope import METADATA_PREFIX
from tfy_gateway.gateway.limits.window import PERIODS, Period
from tfy_gateway.gateway.routing.matching import WhenMatcher
from tfy_gateway.gateway.routing.rule_index import ModelIndex, SubjectIndex
from tfy_gateway.gateway.routing.types import RouteRequest
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.manifests.limits import RateLimitRule

RATE_LIMITING_CONFIG = "gateway-rate-limiting-config"

UnitKind = Literal["requests", "tokens"]


@dataclass(frozen=True)
class Unit:
    name: str  # e.g. "tokens_per_minute", as written in the manifest
    kind: UnitKind
    period: Period

    @classmethod
    def parse(cls, name: str) -> Unit:
        kind, _, period = name.partition("_per_")
        if kind not in ("requests", "tokens") or period not in PERIODS:
            raise ValueError(f"unknown rate-limit unit '{name}'")
        return cls(name, "requests" if kind == "requests" else "tokens", PERIODS[period])


@dataclass(frozen=True)
class LimitRule:
    id: str
    config_name: str
    when: WhenMatcher
    limit: int
    unit: Unit
    applies_per: tuple[str, ...] = ()
    # Metadata keys named by `metadata.<key>` in applies_per: a request must carry them to match.
    required_metadata: tuple[str, ...] = ()
    rule_type: str = RATE_LIMITING_CONFIG  # the manifest type it came from (V2 windows are rules too)
    audit: bool = False  # V2 `mode: audit`: counted and reported, never refused

    def matches(self, request: RouteRequest) -> bool:
        metadata = request.metadata
        return all(key in metadata for key in self.required_metadata) and self.when.matches(request)


@dataclass(frozen=True, eq=False)
class CompiledLimits:
    """The rules in order; `matching` narrows them by requested model and by the caller's subjects
    before matching, so thousands of per-team rules cost a few dict lookups. The limiter remembers
    the per-model narrowing (`by_model`); without it, it is built afresh."""

    rules: tuple[LimitRule, ...] = ()
    index: ModelIndex[LimitRule] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", ModelIndex.of(self.rules))

    def matching(self, request: LimitRequest, by_model: SubjectIndex[LimitRule] | None = None) -> list[LimitRule]:
        """Every matching rule in order: the first decides, all of them count the request.
        `by_model`: the subject index of `request.model`'s rules, when the caller remembers it."""
        if not self.rules:
            return []
        if by_model is None:
            by_model = SubjectIndex(self.index.select(request.model))
        candidates = by_model.candidates(request.subjects)
        if not candidates:
            return []
        route = RouteRequest(request.model, request.subjects, request.metadata)
        return [rule for rule in candidates if rule.matches(route)]

    def first_match(self, request: LimitRequest, by_model: SubjectIndex[LimitRule] | None = None) -> LimitRule | None:
        """The rule that decides `request` (the first matching one), or None."""
        found = self.matching(request, by_model)
        return found[0] if found else None


def compile_rule(rule: RateLimitRule, config_name: str) -> LimitRule:
    applies_per = tuple(rule.rate_limit_applies_per or ())
    return LimitRule(
        id=rule.id,
        config_name=config_name,
        when=WhenMatcher.from_when(rule.when),
        limit=rule.limit_to,
        unit=Unit.parse(rule.unit),
        applies_per=applies_per,
        required_metadata=tuple(p.removeprefix(METADATA_PREFIX) for p in applies_per if p.startswith(METADATA_PREFIX)),
    )


def compile_limits(snapshot: ConfigSnapshot) -> CompiledLimits:
    config = snapshot.rate_limiting()
    if config is None:
        return CompiledLimits()
    return CompiledLimits(tuple(compile_rule(rule, config.name) for rule in config.rules))
