"""Which manifest types the local gateway acts on, per compiled part, and what to say about the others.

The gateway stores every type the platform accepts (so `tfy apply`, `get` and diffs round-trip), but
storing is not enforcing. An apply of a type no compiled part reads carries a `not-enforced-locally`
warning, so neither the CLI nor an assistant reports a policy as live when nothing here acts on it.
The warning follows from `ENFORCED_BY_PART` (a type missing from it is warned about, whatever else
says), so adding enforcement means adding the type to its part here; `NOT_ENFORCED_LOCALLY` in
`plans.py` only names what such a type is in words (a test keeps the two complementary).
"""

from __future__ import annotations

from collections.abc import Mapping

from tfy_gateway.gateway.identities import TEAM_TYPE, VIRTUAL_ACCOUNT_TYPE
from tfy_gateway.gateway.limits.budgets import BUDGET_CONFIG
from tfy_gateway.gateway.limits.rules import RATE_LIMITING_CONFIG
from tfy_gateway.gateway.limits.v2 import MODEL_RATE_LIMIT_CONFIG, TEAM_BUDGET_CONFIG, TENANT_BUDGET_CONFIG
from tfy_gateway.gateway.providers.targets import PROVIDER_PREFIX, PROVIDERS

LOAD_BALANCING_CONFIG = "gateway-load-balancing-config"
OTEL_CONFIG = "gateway-otel-config"
GUARDRAILS_CONFIG = "gateway-guardrails-config"
GUARDRAIL_GROUP = "provider-account/guardrail-config-group"
GLOBAL_SETTINGS = "gateway-global-settings"
VIRTUAL_MODEL_ACCOUNT = "provider-account/virtual-model"

ENFORCED_BY_PART: Mapping[str, frozenset[str]] = {
    # config/catalog.py: upstream targets of the provider types the gateway can call.
    "catalog": frozenset(PROVIDER_PREFIX + provider for provider in PROVIDERS),
    # routing/compiled.py: routing rules and virtual models.
    "routing": frozenset({LOAD_BALANCING_CONFIG, VIRTUAL_MODEL_ACCOUNT}),
    # limits/policies.py: V1 and V2 rate limits and budgets.
    "limits": frozenset(
        {RATE_LIMITING_CONFIG, BUDGET_CONFIG, MODEL_RATE_LIMIT_CONFIG, TENANT_BUDGET_CONFIG, TEAM_BUDGET_CONFIG}
    ),
    # identities.py and access.py: virtual accounts' tokens and grants, team membership.
    "identities": frozenset({VIRTUAL_ACCOUNT_TYPE, TEAM_TYPE}),
    # observability/spec.py: where traces and metrics are exported.
    "telemetry": frozenset({OTEL_CONFIG}),
    # guardrails/compiled.py: guardrail rules, the groups' integrations and guardrail_settings (the types
    # it does not run, MCP tool guardrails and the other global settings are warned about one by one:
    # guardrails/support.py, plans.py).
    "guardrails": frozenset({GUARDRAILS_CONFIG, GUARDRAIL_GROUP, GLOBAL_SETTINGS}),
}

ENFORCED_TYPES: frozenset[str] = frozenset().union(*ENFORCED_BY_PART.values())


def is_enforced(manifest_type: str) -> bool:
    return manifest_type in ENFORCED_TYPES


def uncallable_provider(manifest_type: str) -> bool:
    """A provider account whose models the local gateway cannot call (stored, answered with a 5xx)."""
    return manifest_type.startswith(PROVIDER_PREFIX) and not is_enforced(manifest_type)
