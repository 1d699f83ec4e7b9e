"""Routing rules and virtual models compiled once per applied snapshot.

`CompiledRouting.rules_for(model)` narrows the rules to those whose `models` can match, in rule
order, and memoises that per requested model: per request, matching only checks subjects and
metadata of those few rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.routing.health import sla_key
from tfy_gateway.gateway.routing.matching import WhenMatcher
from tfy_gateway.gateway.routing.rule_index import ModelIndex, SubjectIndex
from tfy_gateway.gateway.routing.types import Attempt, RetryPolicy, RoutePlan
from tfy_gateway.gateway.snapshot import ConfigSnapshot

logger = logging.getLogger(__name__)

LOAD_BALANCING_CONFIG = "gateway-load-balancing-config"
VIRTUAL_MODEL_ACCOUNT = "provider-account/virtual-model"
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


class ModelRules(SubjectIndex["CompiledRule"]):
    """The rules that can match one requested model, by subject, and the model's pass-through plan."""

    __slots__ = ("passthrough",)

    def __init__(self, model: str, rules: tuple[CompiledRule, ...]) -> None:
        super().__init__(rules)
        self.passthrough = RoutePlan(model, None, None, None, (Attempt(model),), False)


@dataclass
class CompiledRouting:
    rules: tuple[CompiledRule, ...] = ()
    virtual_models: MappingProxyType[str, CompiledRule] = field(default_factory=lambda: MappingProxyType({}))
    cache_size: int = 10_000
    # Rankings that do not depend on request or health: a rule with every target eligible and healthy.
    static_rankings: dict[str, Any] = field(default_factory=dict)
    _index: ModelIndex[CompiledRule, ModelRules] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = ModelIndex(self.rules, ModelRules, self.cache_size)

    def names(self, model: str) -> bool:
        """True when a rule's `when.models` or a virtual model names `model` (not just `*`)."""
        return self._index.names(model) or model in self.virtual_models

    def rules_for(self, model: str) -> ModelRules:
        """The gateway rules whose `models` can match `model` (memoised per model)."""
        return self._index.for_model(model)


def _codes(values: Iterable[str] | None) -> frozenset[int]:
    return frozenset(int(v) for v in values or ())


def _retry(config: Any | None) -> RetryPolicy:
    if config is None:
        from tfy_gateway.manifests.routing import RetryConfig

        config = RetryConfig()
    return RetryPolicy(config.attempts, config.delay, _codes(config.on_status_codes))


def _target(index: int, spec: Any, rule_key: str) -> CompiledTarget:
    headers = spec.headers_override
    sla = getattr(spec, "sla_cutoff", None)
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
        weight=getattr(spec, "weight", None),
        priority=getattr(spec, "priority", None),
        metadata_match=tuple((str(k), str(v)) for k, v in (spec.metadata_match or {}).items()),
        sla_mark=sla_key(rule_key, spec.target) if has_sla else None,
    )


def _sticky(config: Any) -> StickySpec | None:
    sticky = getattr(config, "sticky_routing", None)
    if sticky is None:
        return None
    identifiers = tuple(
        (i.source, i.key.lower() if i.source == "headers" else i.key) for i in sticky.session_identifiers
    )
    return StickySpec(float(sticky.ttl_seconds), identifiers)


def compile_rule(
    config: Any, *, key: str, rule_id: str | None, config_name: str | None, virtual_model: bool = False
) -> CompiledRule:
    """One rule (or a virtual model's routing_config) with its targets' attempts built once."""
    targets = tuple(_target(i, spec, key) for i, spec in enumerate(config.load_balance_targets))
    return CompiledRule(
        key=key,
        rule_id=rule_id,
        config_name=config_name,
        strategy=config.type,
        when=WhenMatcher.from_when(getattr(config, "when", None)),
        targets=targets,
        sticky=_sticky(config),
        virtual_model=virtual_model,
    )


def compile_snapshot(snapshot: ConfigSnapshot, *, cache_size: int = 10_000) -> CompiledRouting:
    rules: list[CompiledRule] = []
    resource = snapshot.gateway_config(LOAD_BALANCING_CONFIG)
    if resource is not None:
        if resource.model is None:
            logger.warning("the stored %s no longer parses; routing ignores it", LOAD_BALANCING_CONFIG)
        else:
            config = resource.model
            for rule in config.rules:
                rules.append(compile_rule(rule, key=f"rule:{rule.id}", rule_id=rule.id, config_name=config.name))
    virtual: dict[str, CompiledRule] = {}
    for account in snapshot.provider_accounts():
        if account.type != VIRTUAL_MODEL_ACCOUNT:
            continue
        if account.model is None:
            logger.warning("virtual-model account '%s' no longer parses; routing ignores it", account.name)
            continue
        for integration in account.model.integrations:
            model_id = f"{account.model.name}/{integration.name}"
            virtual[model_id] = compile_rule(
                integration.routing_config,
                key=f"virtual-model:{model_id}",
                rule_id=None,
                config_name=model_id,
                virtual_model=True,
            )
    return CompiledRouting(tuple(rules), MappingProxyType(virtual), cache_size)
