"""`gateway-load-balancing-config`: routing rules and their targets (platform SDK field names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from tfy_gateway.manifests.common import (
    DEFAULT_FALLBACK_STATUS_CODES,
    DEFAULT_RETRY_STATUS_CODES,
    StatusCode,
    StrictModel,
    When,
)
from tfy_gateway.manifests.names import Label, RuleId
from tfy_gateway.manifests.numbers import MAX_MS, MAX_SECONDS


class RetryConfig(StrictModel):
    """Retries on the same target before falling back to another."""

    attempts: int = Field(default=2, ge=0, le=10, description="Retries after the first try.")
    delay: int = Field(default=100, ge=0, le=60_000, description="Milliseconds between attempts.")
    on_status_codes: list[StatusCode] = Field(default_factory=lambda: list(DEFAULT_RETRY_STATUS_CODES))


class SlaCutoff(StrictModel):
    """Above these, a priority target is marked unhealthy until its cooldown ends."""

    time_per_output_token_ms: int | None = Field(default=None, gt=0, le=MAX_MS)
    time_to_first_token_ms: int | None = Field(default=None, gt=0, le=MAX_MS)


class HeadersOverride(StrictModel):
    set: dict[str, str] | None = None
    remove: list[str] | None = None


class StickySessionIdentifier(StrictModel):
    source: Literal["headers", "metadata"]
    key: str


class StickyRouting(StrictModel):
    ttl_seconds: int = Field(gt=0, le=MAX_SECONDS)
    session_identifiers: list[StickySessionIdentifier] = Field(min_length=1)


class _Target(StrictModel):
    target: str = Field(description='"<provider-account>/<integration>", e.g. "openai-main/gpt-4o".')
    retry_config: RetryConfig | None = None
    fallback_status_codes: list[StatusCode] = Field(default_factory=lambda: list(DEFAULT_FALLBACK_STATUS_CODES))
    fallback_candidate: bool = True
    override_params: dict[str, Any] | None = None
    headers_override: HeadersOverride | None = None
    metadata_match: dict[str, str] | None = None


class WeightedTarget(_Target):
    weight: int = Field(description="Share of traffic, 0..100; the rule's weights sum to 100.")


class LatencyTarget(_Target):
    pass


class PriorityTarget(_Target):
    priority: int = Field(default=0, ge=0, le=10**6, description="0 is tried first.")
    sla_cutoff: SlaCutoff | None = None


class ComplexityTarget(_Target):
    tier: Literal["simple", "medium", "complex"]


class WeightBasedRouting(StrictModel):
    type: Literal["weight-based-routing"]
    load_balance_targets: list[WeightedTarget] = Field(min_length=1)
    sticky_routing: StickyRouting | None = None


class LatencyBasedRouting(StrictModel):
    type: Literal["latency-based-routing"]
    load_balance_targets: list[LatencyTarget] = Field(min_length=1)


class PriorityBasedRouting(StrictModel):
    type: Literal["priority-based-routing"]
    load_balance_targets: list[PriorityTarget] = Field(min_length=1)


class HeuristicClassification(StrictModel):
    type: Literal["heuristic"]


class LlmClassification(StrictModel):
    type: Literal["llm-classifier"]
    model: str
    timeout_ms: int = Field(default=2000, gt=0, le=MAX_MS)
    fallback_strategy: dict[str, Any]


class ComplexityBasedRouting(StrictModel):
    type: Literal["complexity-based-routing"]
    classification_strategy: (
        Annotated[HeuristicClassification | LlmClassification, Field(discriminator="type")] | None
    ) = None
    load_balance_targets: list[ComplexityTarget] = Field(min_length=1)


class _Rule(StrictModel):
    id: RuleId = Field(description="Unique within the config; shown in response headers.")
    when: When


class WeightBasedRule(_Rule, WeightBasedRouting):
    pass


class LatencyBasedRule(_Rule, LatencyBasedRouting):
    pass


class PriorityBasedRule(_Rule, PriorityBasedRouting):
    pass


RoutingRule = Annotated[WeightBasedRule | LatencyBasedRule | PriorityBasedRule, Field(discriminator="type")]
RoutingStrategy = Annotated[
    WeightBasedRouting | LatencyBasedRouting | PriorityBasedRouting | ComplexityBasedRouting,
    Field(discriminator="type"),
]


class LoadBalancingConfig(StrictModel):
    """Tenant-wide routing: the first rule whose `when` matches a request routes it."""

    name: Label
    type: Literal["gateway-load-balancing-config"]
    rules: list[RoutingRule]
