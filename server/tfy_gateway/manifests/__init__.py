"""Manifests: typed models of the platform's YAML, a position-keeping loader, validator and linter.

Pure functions with no I/O beyond reading files, shared by the CLI, the MCP server and the local
gateway's apply endpoint, so a manifest is judged the same way everywhere.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfy_gateway.manifests.accounts import Team, VirtualAccount
    from tfy_gateway.manifests.budgets_v2 import TeamBudgetConfig, TenantBudgetConfig
    from tfy_gateway.manifests.catalog import Catalog, CatalogEntry
    from tfy_gateway.manifests.common import DEFAULT_FALLBACK_STATUS_CODES, DEFAULT_RETRY_STATUS_CODES, When
    from tfy_gateway.manifests.filters_v2 import InNotInFilter
    from tfy_gateway.manifests.findings import Finding, ManifestError, ManifestLoadError, errors_only, has_errors
    from tfy_gateway.manifests.guardrails import GuardrailsConfig
    from tfy_gateway.manifests.limits import BudgetConfig, BudgetRule, RateLimitConfig, RateLimitRule
    from tfy_gateway.manifests.lint import covers
    from tfy_gateway.manifests.loader import Document, load_file, load_text
    from tfy_gateway.manifests.providers import (
        MODELLED_ACCOUNTS,
        AnthropicAccount,
        AzureOpenAIAccount,
        OpenAIAccount,
        SelfHostedAccount,
        VirtualModelAccount,
    )
    from tfy_gateway.manifests.rate_limits_mcp import McpRateLimitConfig
    from tfy_gateway.manifests.rate_limits_v2 import ModelRateLimitConfig
    from tfy_gateway.manifests.registry import (
        GATEWAY_CONFIG_TYPES,
        MANIFEST_TYPES,
        NAMED_CONFIG_TYPES,
        manifest_key,
        model_for_type,
    )
    from tfy_gateway.manifests.routing import (
        LatencyBasedRule,
        LoadBalancingConfig,
        PriorityBasedRule,
        RetryConfig,
        WeightBasedRule,
    )
    from tfy_gateway.manifests.schema import json_schema
    from tfy_gateway.manifests.validate import check_manifest, parse_manifest, validate_documents, validate_manifest

# Exported name -> the submodule defining it; read-only.
_HOMES = MappingProxyType(
    {
        "AnthropicAccount": "providers",
        "AzureOpenAIAccount": "providers",
        "BudgetConfig": "limits",
        "BudgetRule": "limits",
        "Catalog": "catalog",
        "CatalogEntry": "catalog",
        "DEFAULT_FALLBACK_STATUS_CODES": "common",
        "DEFAULT_RETRY_STATUS_CODES": "common",
        "Document": "loader",
        "Finding": "findings",
        "GATEWAY_CONFIG_TYPES": "registry",
        "GuardrailsConfig": "guardrails",
        "InNotInFilter": "filters_v2",
        "LatencyBasedRule": "routing",
        "LoadBalancingConfig": "routing",
        "MANIFEST_TYPES": "registry",
        "MODELLED_ACCOUNTS": "providers",
        "ManifestError": "findings",
        "ManifestLoadError": "findings",
        "McpRateLimitConfig": "rate_limits_mcp",
        "ModelRateLimitConfig": "rate_limits_v2",
        "NAMED_CONFIG_TYPES": "registry",
        "OpenAIAccount": "providers",
        "PriorityBasedRule": "routing",
        "RateLimitConfig": "limits",
        "RateLimitRule": "limits",
        "RetryConfig": "routing",
        "SelfHostedAccount": "providers",
        "Team": "accounts",
        "TeamBudgetConfig": "budgets_v2",
        "TenantBudgetConfig": "budgets_v2",
        "VirtualAccount": "accounts",
        "VirtualModelAccount": "providers",
        "WeightBasedRule": "routing",
        "When": "common",
        "check_manifest": "validate",
        "covers": "lint",
        "errors_only": "findings",
        "has_errors": "findings",
        "json_schema": "schema",
        "load_file": "loader",
        "load_text": "loader",
        "manifest_key": "registry",
        "model_for_type": "registry",
        "parse_manifest": "validate",
        "validate_documents": "validate",
        "validate_manifest": "validate",
    }
)


def __getattr__(name: str) -> object:
    """The exported `name`, imported from its module on first use: importing the package (which every
    submodule import does first) loads none of the models, the linter or the YAML loader."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "DEFAULT_FALLBACK_STATUS_CODES",
    "DEFAULT_RETRY_STATUS_CODES",
    "GATEWAY_CONFIG_TYPES",
    "MANIFEST_TYPES",
    "MODELLED_ACCOUNTS",
    "NAMED_CONFIG_TYPES",
    "AnthropicAccount",
    "AzureOpenAIAccount",
    "BudgetConfig",
    "BudgetRule",
    "Catalog",
    "CatalogEntry",
    "Document",
    "Finding",
    "GuardrailsConfig",
    "InNotInFilter",
    "LatencyBasedRule",
    "LoadBalancingConfig",
    "ManifestError",
    "ManifestLoadError",
    "McpRateLimitConfig",
    "ModelRateLimitConfig",
    "OpenAIAccount",
    "PriorityBasedRule",
    "RateLimitConfig",
    "RateLimitRule",
    "RetryConfig",
    "SelfHostedAccount",
    "Team",
    "TeamBudgetConfig",
    "TenantBudgetConfig",
    "VirtualAccount",
    "VirtualModelAccount",
    "WeightBasedRule",
    "When",
    "check_manifest",
    "covers",
    "errors_only",
    "has_errors",
    "json_schema",
    "load_file",
    "load_text",
    "manifest_key",
    "model_for_type",
    "parse_manifest",
    "validate_documents",
    "validate_manifest",
]
