"""Routing rules and virtual models compiled once per applied snapshot.

`CompiledRouting.rules_for(model)` narrows the rules to those whose `models` can match, in rule
order (the router remembers that per requested model): per request, matching only checks subjects
and metadata of those few rules. Compiling reads the typed manifest models (`ConfigSnapshot`'s
accessors), so a field renamed in a model is a type error here, not a policy silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from tfy_gateway.gateway.routing.health import sla_key
from tfy_gateway.gateway.routing.matching import WhenMatcher
from tfy_gateway.gateway.routing.rule_index import ModelIndex, SubjectIndex
from tfy_gateway.gateway.routing.types import Attempt, RetryPolicy, RoutePlan
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.manifests.common import When
from tfy_gateway.manifests.providers import VirtualModelAccount
from tfy_gateway.manifests.routing import (
    ComplexityBasedRouting,
    ComplexityTarget,
    LatencyBasedRouting,
    LatencyTarget,
    PriorityBasedRouting,
    PriorityTarget,
    RetryConfig,
    WeightBasedRouting,
    WeightedTarget,
)

RoutingSpec = WeightBasedRouting | LatencyBasedRouting | PriorityBasedRouting | ComplexityBasedRouting
"""A routing rule (the `*Rule` models are subclasses) or a virtual model's `routing_config`."""
TargetSpec = WeightedTarget | LatencyTarget | PriorityTarget | ComplexityTarget
WEIGHT, LATENCY, PRIORITY, COMPLEXITY = (
    "weight-based-routing",
    "latency-based-routing",
    "priority-based-routing",
    "complexity-based-routing",
)


@dataclass(frozen=True)
class CompiledTarget:
    index: int
    target: str
    attempt: Attempt
    weight: int | None = None
    priority: int | None = None
    metadata_match: tuple[tuple[str, str], ...] = ()
    sla_mark: str | None = None  # health key of this target's SLA breaches in this rule

    @property
    def fallback_candidate(self) -> bool:
        return self.attempt.fallback_candidate


@dataclass(frozen=True)
class StickySpec:
    ttl_s: float
    identifiers: tuple[tuple[str, str], ...]  # (source, key); header keys lowercased


@dataclass(frozen=True)
class CompiledRule:
    key: str  # unique: "rule:<id>" or "virtual-model:<group>/<name>"; scopes sticky pins and SLA marks
    rule_id: str | None
    config_name: str | None
    strategy: str
    when: WhenMatcher
    targets: tuple[CompiledTarget, ...]
    sticky: StickySpec | None = None
    virtual_model: bool = False
    # Whether any target has a `metadata_match` (else every target is eligible for every request).
    matches_metadata: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches_metadata", any(t.metadata_match for t in self.targets))


class ModelRules(SubjectIndex["CompiledRule"]):
    """The rules that can match one requested model, by subject, and the model's pass-through plan."""

    __slots__ = ("passthrough",)

    def __init__(self, model: str, rules: tuple[CompiledRule, ...]) -> None:
        super().__init__(rules)
        self.passthrough = RoutePlan(model, None, None, None, (Attempt(model),), False)


@dataclass(frozen=True, eq=False)
class CompiledRouting:
    """Immutable and shared by every request of a configuration version (hashed by identity: the
    router keeps what it remembers about it, rules per model and static rankings, in its own memo)."""

    rules: tuple[CompiledRule, ...] = ()
    virtual_models: Mapping[str, CompiledRule] = field(default_factory=lambda: MappingProxyType({}))
    index: ModelIndex[CompiledRule] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", ModelIndex.of(self.rules))

    def names(self, model: str) -> bool:
        """True when a rule's `when.models` or a virtual model names `model` (not just `*`)."""
        return self.index.names(model) or model in self.virtual_models

    def rules_for(self, model: str) -> ModelRules:
        """The gateway rules whose `models` can match `model`, built afresh (the router memoises them)."""
        return ModelRules(model, self.index.select(model))


def _codes(values: Iterable[str] | None) -> frozenset[int]:
    return frozenset(int(v) for v in values or ())


def _retry(config: RetryConfig | None) -> RetryPolicy:
    if config is None:
        config = RetryConfig()
    return RetryPolicy(config.attempts, config.delay, _codes(config.on_status_codes))


def _target(index: int, spec: TargetSpec, rule_key: str) -> CompiledTarget:
    headers = spec.headers_override
    sla = spec.sla_cutoff if isinstance(spec, PriorityTarget) else None
    has_sla = sla is not None and bool(sla.time_per_output_token_ms or sla.time_to_first_token_ms)
    attempt = Attempt(
        target=spec.target,
        retry=_retry(spec.retry_config),
        fallback_status_codes=_codes(spec.fallback_status_codes),
        fallback_candidate=spec.fallback_candidate,
        override_params=MappingProxyType(dict(spec.override_params)) if spec.override_params else None,
        headers_set=MappingProxyType({k.lower(): v for k, v in ((headers and headers.set) or {}).items()}),
        headers_remove=tuple(h.lower() for h in (headers and headers.remove) or ()),
        rule_key=rule_key,
        sla_tpot_ms=sla.time_per_output_token_ms if sla else None,
        sla_ttft_ms=sla.time_to_first_token_ms if sla else None,
    )
    return CompiledTarget(
        index=index,
        target=spec.target,
        attempt=attempt,
        weight=spec.weight if isinstance(spec, WeightedTarget) else None,
        priority=spec.priority if isinstance(spec, PriorityTarget) else None,
        metadata_match=tuple((str(k), str(v)) for k, v in (spec.metadata_match or {}).items()),
        sla_mark=sla_key(rule_key, spec.target) if has_sla else None,
    )


def _sticky(config: RoutingSpec) -> StickySpec | None:
    sticky = config.sticky_routing if isinstance(config, WeightBasedRouting) else None
    if sticky is None:
        return None
    identifiers = tuple(
        (i.source, i.key.lower() if i.source == "headers" else i.key) for i in sticky.session_identifiers
    )
    return StickySpec(float(sticky.ttl_seconds), identifiers)


def compile_rule(
    config: RoutingSpec,
    *,
    key: str,
    when: When | None,
    rule_id: str | None,
    config_name: str | None,
    virtual_model: bool = False,
) -> CompiledRule:
    """One rule (or a virtual model's routing_config, which has no `when`) with its targets' attempts
    built once."""
    specs: Sequence[TargetSpec] = config.load_balance_targets
    targets = tuple(_target(i, spec, key) for i, spec in enumerate(specs))
    return CompiledRule(
        key=key,
        rule_id=rule_id,
        config_name=config_name,
        strategy=config.type,
        when=WhenMatcher.from_when(when),
        targets=targets,
        sticky=_sticky(config),
        virtual_model=virtual_model,
    )


def compile_snapshot(snapshot: ConfigSnapshot) -> CompiledRouting:
    rules: list[CompiledRule] = []
    config = snapshot.load_balancing()
    if config is not None:
        for rule in config.rules:
            rules.append(
                compile_rule(rule, key=f"rule:{rule.id}", when=rule.when, rule_id=rule.id, config_name=config.name)
            )
    virtual: dict[str, CompiledRule] = {}
    for account in snapshot.provider_account_models():
        if not isinstance(account, VirtualModelAccount):
            continue
        for integration in account.integrations:
            model_id = f"{account.name}/{integration.name}"
            virtual[model_id] = compile_rule(
                integration.routing_config,
                key=f"virtual-model:{model_id}",
                when=None,
                rule_id=None,
                config_name=model_id,
                virtual_model=True,
            )
    return CompiledRouting(tuple(rules), MappingProxyType(virtual))
