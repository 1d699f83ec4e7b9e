"""Our models use exactly the platform SDK's field names (truefoundry-sdk, installed with the dev extras)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tfy_gateway.manifests import accounts, budgets_v2, common, costs, filters_v2, limits, otel, providers, routing

sdk_types = pytest.importorskip("truefoundry_sdk.types")

PAIRS: list[tuple[type[BaseModel], str, set[str]]] = [
    (routing.LoadBalancingConfig, "LoadBalancingConfig", {"name"}),
    (routing.WeightBasedRule, "WeightBasedLoadBalancingRule", set()),
    (routing.LatencyBasedRule, "LatencyBasedLoadBalancingRule", set()),
    (routing.PriorityBasedRule, "PriorityBasedLoadBalancingRule", set()),
    (routing.WeightedTarget, "LoadBalanceTarget", set()),
    (routing.LatencyTarget, "LatencyBasedLoadBalanceTarget", set()),
    (routing.PriorityTarget, "PriorityBasedLoadBalanceTarget", set()),
    (routing.RetryConfig, "RetryConfig", set()),
    (routing.SlaCutoff, "SlaCutoff", set()),
    (routing.StickyRouting, "StickyRouting", set()),
    (routing.HeadersOverride, "HeadersOverride", set()),
    (common.When, "LoadBalancingWhen", set()),
    (limits.RateLimitConfig, "RateLimitConfig", {"name"}),
    (limits.RateLimitRule, "RateLimitRule", set()),
    (limits.BudgetConfig, "BudgetConfig", {"name"}),
    (limits.BudgetRule, "BudgetRule", set()),
    (limits.BudgetAlerts, "BudgetAlert", set()),
    (budgets_v2.TenantBudgetConfig, "TenantBudgetConfig", set()),
    (budgets_v2.TeamBudgetConfig, "TeamBudgetConfig", set()),
    (budgets_v2.BudgetV2WhenTenantScoped, "BudgetV2WhenTenantScoped", set()),
    (budgets_v2.BudgetV2WhenTeamScoped, "BudgetV2WhenTeamScoped", set()),
    (filters_v2.TenantSubjects, "BudgetV2SubjectsTenantScoped", set()),
    (filters_v2.TeamSubjects, "BudgetV2SubjectsTeamScoped", set()),
    (filters_v2.InNotInFilter, "BudgetV2InNotInFilter", set()),
    (budgets_v2.BudgetV2Limits, "BudgetV2Limits", set()),
    (budgets_v2.BudgetV2OverrideLimits, "BudgetV2OverrideLimits", set()),
    (budgets_v2.BudgetV2AppliesToAggregate, "BudgetV2AppliesToAggregate", set()),
    (budgets_v2.BudgetV2AppliesToPerUser, "BudgetV2AppliesToPerUser", set()),
    (budgets_v2.BudgetV2AppliesToPerModel, "BudgetV2AppliesToPerModel", set()),
    (budgets_v2.BudgetV2AppliesToPerVirtualAccount, "BudgetV2AppliesToPerVirtualAccount", set()),
    (budgets_v2.BudgetV2AppliesToMetadata, "BudgetV2AppliesToMetadata", set()),
    (budgets_v2.BudgetV2PerUserOverride, "BudgetV2PerUserOverride", set()),
    (budgets_v2.BudgetV2PerModelOverride, "BudgetV2PerModelOverride", set()),
    (budgets_v2.BudgetV2PerVirtualAccountOverride, "BudgetV2PerVirtualAccountOverride", set()),
    (budgets_v2.BudgetV2PerMetadataOverride, "BudgetV2PerMetadataOverride", set()),
    (budgets_v2.BudgetV2Alert, "BudgetV2Alert", set()),
    (common.Email, "Email", set()),
    (common.SlackBot, "SlackBot", set()),
    (accounts.VirtualAccount, "VirtualAccountManifest", set()),
    (accounts.Team, "TeamManifest", set()),
    (accounts.Permission, "Permissions", set()),
    (costs.TokenPrices, "InputOutputBasedCostMetricValue", set()),
    (providers.OpenAIAccount, "OpenaiProviderAccount", set()),
    (providers.OpenAIModel, "OpenAiModel", set()),
    (providers.AnthropicAccount, "AnthropicProviderAccount", set()),
    (providers.AzureOpenAIAccount, "AzureOpenAiProviderAccount", set()),
    (providers.AzureOpenAIModel, "AzureOpenAiModel", set()),
    (providers.AwsBedrockAccount, "AwsBedrockProviderAccount", set()),
    (providers.BedrockModel, "BedrockModel", set()),
    (providers.GoogleVertexAccount, "GoogleVertexProviderAccount", set()),
    (providers.GoogleGeminiAccount, "GoogleGeminiProviderAccount", set()),
    (providers.GroqAccount, "GroqProviderAccount", set()),
    (providers.TogetherAIAccount, "TogetherAiProviderAccount", set()),
    (providers.MistralAIAccount, "MistralAiProviderAccount", set()),
    (providers.CohereAccount, "CohereProviderAccount", set()),
    (providers.SelfHostedAccount, "SelfHostedModelProviderAccount", set()),
    (providers.SelfHostedModel, "SelfHostedModel", set()),
    (providers.VirtualModelAccount, "VirtualModelProviderAccount", set()),
    (providers.VirtualModel, "VirtualModel", set()),
    (otel.OtelConfig, "GatewayOtelConfig", {"name"}),
    (otel.TracesHttpExporter, "OtelTracesExporterHttpConfig", set()),
    (otel.TracesGrpcExporter, "OtelTracesExporterGrpcConfig", set()),
    (otel.MetricsHttpExporter, "OtelMetricsExporterHttpConfig", set()),
    (otel.MetricsGrpcExporter, "OtelMetricsExporterGrpcConfig", set()),
    (otel.SpanAttributeFilter, "OtelTracesExporterSpanAttributeFilter", set()),
]


def _names(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


@pytest.mark.parametrize(("ours", "theirs", "extra"), PAIRS, ids=[p[1] for p in PAIRS])
def test_field_names_match_the_sdk(ours: type[BaseModel], theirs: str, extra: set[str]) -> None:
    assert _names(ours) == _names(getattr(sdk_types, theirs)) | extra
