"""Which model validates which `type`, and how resources are identified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

from tfy_gateway.manifests.accounts import Team, VirtualAccount
from tfy_gateway.manifests.budgets_v2 import TeamBudgetConfig, TenantBudgetConfig
from tfy_gateway.manifests.common import GUARDRAIL_GROUP_TYPE
from tfy_gateway.manifests.global_settings import GlobalSettings
from tfy_gateway.manifests.guardrails import GuardrailsConfig
from tfy_gateway.manifests.limits import BudgetConfig, RateLimitConfig
from tfy_gateway.manifests.otel import OtelConfig
from tfy_gateway.manifests.providers import LOOSE_ACCOUNT_TYPES, MODELLED_ACCOUNTS, LooseAccount, ProviderAccount
from tfy_gateway.manifests.rate_limits_mcp import McpRateLimitConfig
from tfy_gateway.manifests.rate_limits_v2 import ModelRateLimitConfig
from tfy_gateway.manifests.routing import LoadBalancingConfig

if TYPE_CHECKING:
    from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup

GatewayConfig = LoadBalancingConfig | RateLimitConfig | BudgetConfig | GuardrailsConfig | OtelConfig | GlobalSettings
"""The tenant singletons modelled field by field."""

NamedConfig = ModelRateLimitConfig | McpRateLimitConfig | TenantBudgetConfig | TeamBudgetConfig

AnyManifest = Union[ProviderAccount, "GuardrailConfigGroup", GatewayConfig, NamedConfig, VirtualAccount, Team]
"""Every model a valid manifest parses into: what the gateway compiles from (see `parse_manifest`).
The guardrail group model is named, not imported: it (with every vendor's model) loads with the first
group (`model_for_type`), which most gateways never have."""

GATEWAY_CONFIG_MODELS: dict[str, type[GatewayConfig]] = {
    "gateway-load-balancing-config": LoadBalancingConfig,
    "gateway-rate-limiting-config": RateLimitConfig,
    "gateway-budget-config": BudgetConfig,
    "gateway-guardrails-config": GuardrailsConfig,
    "gateway-otel-config": OtelConfig,
    "gateway-global-settings": GlobalSettings,
}

NAMED_CONFIG_MODELS: dict[str, type[NamedConfig]] = {
    "tenant-rate-limit-config/model": ModelRateLimitConfig,
    "tenant-rate-limit-config/mcp": McpRateLimitConfig,
    "tenant-budget-config": TenantBudgetConfig,
    "team-budget-config": TeamBudgetConfig,
}
"""V2 limit configs: many per tenant, one named rule each (not singletons)."""

_LOADED_MODELS: dict[str, type[AnyManifest]] = {
    **MODELLED_ACCOUNTS,
    **GATEWAY_CONFIG_MODELS,
    **NAMED_CONFIG_MODELS,
    "virtual-account": VirtualAccount,
    "team": Team,
}
"""Every type validated field by field but the guardrail group (see `AnyManifest`)."""

MANIFEST_TYPES: tuple[str, ...] = (
    *MODELLED_ACCOUNTS,
    GUARDRAIL_GROUP_TYPE,
    *tuple(_LOADED_MODELS)[len(MODELLED_ACCOUNTS) :],
)
"""Types validated field by field."""

GATEWAY_CONFIG_TYPES: frozenset[str] = frozenset(
    {
        *GATEWAY_CONFIG_MODELS,
        "gateway-fallback-config",
        "gateway-data-access-config",
        "gateway-data-routing-config",
        "gateway-logging-config",
        "gateway-metadata-config",
    }
)
"""Tenant singletons: one manifest per type, whatever its name."""

NAMED_CONFIG_TYPES: frozenset[str] = frozenset(NAMED_CONFIG_MODELS)

BUDGET_V2_TYPES: frozenset[str] = frozenset({"tenant-budget-config", "team-budget-config"})
BUDGET_V2_KIND = "budget"
"""Tenant and team budgets share one namespace: the platform upserts budgets by name."""

KNOWN_TYPES: frozenset[str] = frozenset({*MANIFEST_TYPES, *LOOSE_ACCOUNT_TYPES})

TYPE_ALIASES: dict[str, str] = {
    "provider-account/nvidia-nim": "provider-account/self-hosted-model",
    "provider-account/nvidia": "provider-account/self-hosted-model",
    "provider-account/vllm": "provider-account/self-hosted-model",
    "provider-account/openai-compatible": "provider-account/self-hosted-model",
    "provider-account/azure": "provider-account/azure-openai",
    "provider-account/bedrock": "provider-account/aws-bedrock",
    "provider-account/vertex": "provider-account/google-vertex",
    "provider-account/gemini": "provider-account/google-gemini",
    "provider-account/together": "provider-account/together-ai",
    "provider-account/mistral": "provider-account/mistral-ai",
    "gateway-rate-limit-config": "gateway-rate-limiting-config",
    "tenant-rate-limit-config": "tenant-rate-limit-config/model",
    "tenant-rate-limiting-config/model": "tenant-rate-limit-config/model",
    "tenant-budget": "tenant-budget-config",
    "team-budget": "team-budget-config",
    "gateway-routing-config": "gateway-load-balancing-config",
    "virtualaccount": "virtual-account",
    "provider-account/guardrail-group": GUARDRAIL_GROUP_TYPE,
    "provider-account/guardrails": GUARDRAIL_GROUP_TYPE,
    "guardrail-config-group": GUARDRAIL_GROUP_TYPE,
    "gateway-guardrail-config": "gateway-guardrails-config",
    "gateway-guardrails": "gateway-guardrails-config",
}
"""Names people write that the platform does not know, and what they meant."""


def model_for_type(manifest_type: str) -> type[AnyManifest] | None:
    if manifest_type in _LOADED_MODELS:
        return _LOADED_MODELS[manifest_type]
    if manifest_type == GUARDRAIL_GROUP_TYPE:
        from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup

        return GuardrailConfigGroup
    if manifest_type in LOOSE_ACCOUNT_TYPES:
        return LooseAccount
    return None


def manifest_models() -> dict[str, type[AnyManifest]]:
    """Every type validated field by field, with its model (loading them all)."""
    return {manifest_type: model for manifest_type in MANIFEST_TYPES if (model := model_for_type(manifest_type))}


def manifest_key(manifest: dict[str, Any]) -> tuple[str, str]:
    """Identity of a stored resource, as the platform keys it.

    Gateway configs are tenant singletons keyed by type; V2 budgets by name (tenant and team
    budgets share the namespace); V2 rate limits by their full type and name (a model and an MCP
    limit may share a name); everything else by (type prefix, name), so re-applying
    `provider-account/openai` named `x` as `provider-account/groq` replaces it.
    """
    manifest_type = str(manifest.get("type", ""))
    if manifest_type in GATEWAY_CONFIG_TYPES:
        return manifest_type, manifest_type
    if manifest_type in BUDGET_V2_TYPES:
        return BUDGET_V2_KIND, str(manifest.get("name", ""))
    if manifest_type in NAMED_CONFIG_TYPES:
        return manifest_type, str(manifest.get("name", ""))
    return manifest_type.split("/", 1)[0], str(manifest.get("name", ""))
