"""Guardrail manifests use exactly the platform SDK's field names, types and literals (truefoundry-sdk)."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from tfy_gateway.manifests import (
    global_settings,
    guardrail_groups,
    guardrail_integrations,
    guardrail_vendors,
    guardrails,
)
from tfy_gateway.manifests.guardrail_values import AWS_REGIONS, AZURE_PII_CATEGORIES, GCP_REGIONS, REGEX_PRESETS

sdk_types = pytest.importorskip("truefoundry_sdk.types")

PAIRS: list[tuple[type[BaseModel], str, set[str]]] = [
    (guardrails.GuardrailsConfig, "GuardrailsConfig", {"name"}),
    (guardrails.GuardrailsRule, "GuardrailsRule", set()),
    (guardrails.GuardrailsWhen, "GuardrailsWhen", set()),
    (guardrails.TargetConditionGroup, "TargetConditionGroup", set()),
    (guardrails.TargetConditions, "TargetClause", set()),
    (guardrails.ValuesCondition, "InNotInOperator", set()),
    (guardrails.McpToolsCondition, "McpToolsOperator", set()),
    (guardrails.McpToolTarget, "McpToolTarget", set()),
    (guardrails.SubjectConditionGroup, "SubjectConditionGroup", set()),
    (guardrails.SubjectConditions, "SubjectClause", set()),
    (guardrail_groups.GuardrailConfigGroup, "GuardrailConfigGroup", set()),
    (global_settings.GlobalSettings, "GlobalSettings", {"name"}),
    (global_settings.GuardrailSettings, "GuardrailSettings", set()),
    (global_settings.LoggingHeaderControlled, "LoggingModeHeaderControlled", set()),
    (global_settings.SemanticCacheSettings, "SemanticCacheSettings", set()),
    (guardrail_integrations.RegexConfig, "RegexGuardrailConfigConfig", set()),
    (guardrail_integrations.PresetRegexPattern, "PresetRegexPattern", set()),
    (guardrail_integrations.CustomRegexPattern, "CustomRegexPattern", set()),
    (guardrail_integrations.TfyPiiConfig, "TfyPiiGuardrailConfigConfig", set()),
    (guardrail_integrations.SecretDetectionConfig, "SecretDetectionGuardrailConfigConfig", set()),
    (guardrail_integrations.SqlSanitizerConfig, "SqlSanitizerGuardrailConfigConfig", set()),
    (guardrail_integrations.TfyMetadataConfig, "TfyMetadataGuardrailConfigConfig", set()),
    (guardrail_integrations.KeyPresenceSpec, "KeyPresenceSpec", set()),
    (guardrail_integrations.KeyValueSpec, "KeyValueSpec", set()),
    (guardrail_integrations.RegexConstraint, "RegexConstraint", set()),
    (guardrail_integrations.AllowedValuesConstraint, "AllowedValuesConstraint", set()),
    (guardrail_integrations.CustomGuardrailServer, "CustomGuardrailConfigConfig", set()),
    (guardrail_integrations.CustomBasicAuth, "CustomBasicAuth", set()),
    (guardrail_integrations.CustomBearerAuth, "CustomBearerAuth", set()),
    (guardrail_integrations.OpaConfig, "OpaGuardrailConfigConfig", set()),
    (guardrail_integrations.OpaHeaderAuth, "OpaHeaderAuth", set()),
    (guardrail_integrations.OpaBearerAuth, "OpaBearerAuth", set()),
    (guardrail_integrations.OpenAIModerationsConfig, "OpenAiModerationsGuardrailConfigConfig", set()),
    (guardrail_integrations.CedarConfig, "CedarGuardrailConfigConfig", set()),
    (guardrail_integrations.TfyContentModerationConfig, "TfyContentModerationGuardrailConfigConfig", set()),
    (guardrail_vendors.AzureContentSafetyConfig, "AzureContentSafetyGuardrailConfigConfig", set()),
    (guardrail_vendors.AzurePromptShieldConfig, "AzurePromptShieldGuardrailConfigConfig", set()),
    (guardrail_vendors.AzurePiiConfig, "AzurePiiGuardrailConfigConfig", set()),
    (guardrail_vendors.AwsBedrockGuardrailConfig, "AwsBedrockGuardrailConfigConfig", set()),
    (guardrail_vendors.GoogleModelArmorConfig, "GoogleModelArmorGuardrailConfigConfig", set()),
    (guardrail_vendors.GoogleKeyFileAuth, "GoogleModelArmorKeyFileAuth", set()),
    (guardrail_vendors.EnkryptAiConfig, "EnkryptAiGuardrailConfigConfig", set()),
    (guardrail_vendors.PaloAltoPrismaAirsConfig, "PaloAltoPrismaAirsGuardrailConfigConfig", set()),
    (guardrail_vendors.FiddlerConfig, "FiddlerGuardrailConfigConfig", set()),
    (guardrail_vendors.CiscoAiDefenseConfig, "CiscoAiDefenseGuardrailConfigConfig", set()),
    (guardrail_vendors.BaseUrlConfig, "CrowdStrikeAidrGuardrailConfigConfig", set()),
    (guardrail_vendors.PatronusConfig, "PatronusGuardrailConfigConfig", set()),
    (guardrail_vendors.GraySwanCygnalConfig, "GraySwanCygnalGuardrailConfigConfig", set()),
    (guardrail_vendors.NomaSecurityConfig, "NomaSecurityGuardrailConfigConfig", set()),
    (guardrail_vendors.CalypsoAiConfig, "CalypsoAiGuardrailConfigConfig", set()),
    (guardrail_vendors.AktoConfig, "AktoGuardrailConfigConfig", set()),
    (guardrail_vendors.AktoTokenAuth, "AktoTokenAuth", set()),
    (guardrail_vendors.TrojAiConfig, "TrojAiGuardrailConfigConfig", set()),
    (guardrail_vendors.TrojAiClientIdAuth, "TrojAiClientIdAuth", set()),
]


def _names(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


@pytest.mark.parametrize(("ours", "theirs", "extra"), PAIRS, ids=[p[1] for p in PAIRS])
def test_field_names_match_the_sdk(ours: type[BaseModel], theirs: str, extra: set[str]) -> None:
    assert _names(ours) == _names(getattr(sdk_types, theirs)) | extra


def _sdk_integrations() -> dict[str, type[BaseModel]]:
    union = sdk_types.GuardrailConfigIntegrations
    return {cls.model_fields["type"].default: cls for cls in typing.get_args(union)}


def _ours() -> dict[str, type[BaseModel]]:
    return {
        typing.get_args(cls.model_fields["type"].annotation)[0]: cls
        for cls in typing.get_args(guardrail_groups.AnyGuardrail)
    }


def test_every_integration_type_of_the_sdk_is_modelled() -> None:
    assert set(_ours()) == set(_sdk_integrations())


@pytest.mark.parametrize("kind", sorted(_sdk_integrations()))
def test_each_integration_has_the_sdk_fields_and_operations(kind: str) -> None:
    ours, theirs = _ours()[kind], _sdk_integrations()[kind]
    assert _names(ours) == _names(theirs)
    our_ops = set(typing.get_args(ours.model_fields["operation"].annotation))
    sdk_op = theirs.model_fields["operation"].annotation
    sdk_ops = set(typing.get_args(sdk_op)) or {m.value for m in sdk_op if not m.name.startswith("_")}
    assert our_ops == sdk_ops


def _enum(name: str) -> set[str]:
    return {member.value for member in getattr(sdk_types, name) if not member.name.startswith("_")}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (AZURE_PII_CATEGORIES, "AzurePiiCategory"),
        (REGEX_PRESETS, "PresetRegexPatternEnum"),
        (AWS_REGIONS, "AwsRegion"),
        (GCP_REGIONS, "GcpRegion"),
    ],
)
def test_value_lists_match_the_sdk_enums(ours: tuple[str, ...], theirs: str) -> None:
    assert set(ours) == _enum(theirs)
