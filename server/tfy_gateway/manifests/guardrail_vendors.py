"""`integration/guardrail-config/*` entries backed by a third-party service (truefoundry-sdk 0.6.0).

Field names and literals follow the SDK. Which of them the local gateway calls is decided by the
gateway (gateway/guardrails/registry.py), not here: validation is the same wherever a manifest goes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.guardrail_integrations import (
    ContentSafetyCategory,
    Mutable,
    PiiCategory,
    ValidateOnly,
)
from tfy_gateway.manifests.guardrail_values import AWS_REGIONS, GCP_REGIONS, one_of
from tfy_gateway.manifests.providers import ApiKeyAuth, AwsAccessKeyAuth, AwsAssumedRoleAuth, AzureAuth

AwsRegion = Annotated[str, AfterValidator(one_of(AWS_REGIONS, "AWS region"))]
GcpRegion = Annotated[str, AfterValidator(one_of(GCP_REGIONS, "GCP region"))]


# --- Azure AI services ------------------------------------------------------------------------------


class AzureContentSafetyConfig(StrictModel):
    resource_name: str = Field(description="The Content Safety resource, e.g. my-content-safety.")
    api_version: str = "2024-09-01"
    custom_host: str | None = Field(default=None, description="Endpoint to call instead of the resource's own.")
    blocklist_names: list[str] | None = None
    severity_threshold: float = Field(default=2.0, description="0-6: flag content at or above this severity.")
    categories: list[ContentSafetyCategory]


class AzureContentSafetyGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/azure-content-safety"]
    auth_data: AzureAuth
    config: AzureContentSafetyConfig


class AzurePromptShieldConfig(StrictModel):
    resource_name: str
    api_version: str = "2024-09-01"
    custom_host: str | None = None


class AzurePromptShieldGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/azure-prompt-shield"]
    auth_data: AzureAuth
    config: AzurePromptShieldConfig


class AzurePiiConfig(StrictModel):
    resource_name: str
    api_version: str = "2024-11-01"
    custom_host: str | None = None
    domain: Literal["none", "phi"]
    pii_categories: list[PiiCategory]
    model_version: str = "latest"
    language: str = "en"


class AzurePiiGuardrail(Mutable):
    type: Literal["integration/guardrail-config/azure-pii"]
    auth_data: AzureAuth
    config: AzurePiiConfig


# --- cloud providers' guardrails -----------------------------------------------------------------------


class AwsBedrockGuardrailConfig(StrictModel):
    guardrail_id: str
    guardrail_version: str
    region: AwsRegion


class AwsBedrockGuardrail(Mutable):
    type: Literal["integration/guardrail-config/aws-bedrock"]
    auth_data: Annotated[ApiKeyAuth | AwsAccessKeyAuth | AwsAssumedRoleAuth, Field(discriminator="type")] | None = None
    config: AwsBedrockGuardrailConfig


class GoogleKeyFileAuth(StrictModel):
    type: Literal["key-file"]
    key_file_content: str | dict[str, Any]


class GoogleModelArmorConfig(StrictModel):
    project_id: str
    location: GcpRegion
    template_id: str


class GoogleModelArmorGuardrail(Mutable):
    type: Literal["integration/guardrail-config/google-model-armor"]
    auth_data: Annotated[ApiKeyAuth | GoogleKeyFileAuth, Field(discriminator="type")]
    config: GoogleModelArmorConfig


# --- security vendors ----------------------------------------------------------------------------------


class EnkryptAiConfig(StrictModel):
    guardrail_name: str


class EnkryptAiGuardrail(Mutable):
    type: Literal["integration/guardrail-config/enkrypt-ai"]
    auth_data: ApiKeyAuth
    config: EnkryptAiConfig


class PaloAltoPrismaAirsConfig(StrictModel):
    base_url: str | None = None
    profile_name: str
    mode: Literal["sync", "async"] | None = None
    metadata_key_mapping: dict[str, str] | None = None


class PaloAltoPrismaAirsGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/palo-alto-prisma-airs"]
    auth_data: ApiKeyAuth
    config: PaloAltoPrismaAirsConfig


class FiddlerConfig(StrictModel):
    guard_type: Literal["fiddler-safety", "fiddler-response-faithfulness"]
    base_url: str | None = None
    threshold: float | None = None


class FiddlerGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/fiddler"]
    auth_data: ApiKeyAuth
    config: FiddlerConfig


class CiscoAiDefenseConfig(StrictModel):
    region: Literal["us", "eu", "ap"]
    metadata: dict[str, str] | None = None


class CiscoAiDefenseGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/cisco-ai-defense"]
    auth_data: ApiKeyAuth
    config: CiscoAiDefenseConfig


class BaseUrlConfig(StrictModel):
    base_url: str | None = None


class CrowdStrikeAidrGuardrail(Mutable):
    type: Literal["integration/guardrail-config/crowdstrike-aidr"]
    auth_data: ApiKeyAuth
    config: BaseUrlConfig


class PatronusEvaluator(StrictModel):
    type: Literal["answer-relevance", "glider", "judge", "pii", "phi", "toxicity"]
    criteria: str = Field(description="e.g. patronus:pii; glider and judge take one of Patronus's criteria.")


class PatronusConfig(StrictModel):
    target: Literal["request", "response"]
    evaluators: list[PatronusEvaluator]


class PatronusGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/patronus"]
    auth_data: ApiKeyAuth
    config: PatronusConfig


class GraySwanCygnalConfig(StrictModel):
    base_url: str | None = None
    policy_ids: list[str] | None = None
    rules: dict[str, str] | None = None
    reasoning_mode: Literal["off", "hybrid", "thinking"]


class GraySwanCygnalGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/grayswan-cygnal"]
    auth_data: ApiKeyAuth
    config: GraySwanCygnalConfig


class NomaSecurityConfig(StrictModel):
    base_url: str | None = None
    application_id: str | None = None
    session_id: str | None = None


class NomaSecurityGuardrail(Mutable):
    type: Literal["integration/guardrail-config/noma-security"]
    auth_data: ApiKeyAuth
    config: NomaSecurityConfig


class CalypsoAiConfig(StrictModel):
    base_url: str | None = None
    project: str | None = None


class CalypsoAiGuardrail(Mutable):
    type: Literal["integration/guardrail-config/calypsoai"]
    auth_data: ApiKeyAuth
    config: CalypsoAiConfig


class AktoTokenAuth(StrictModel):
    type: Literal["token"]
    token: str


class AktoConfig(StrictModel):
    base_url: str


class AktoGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/akto"]
    auth_data: AktoTokenAuth
    config: AktoConfig


class TrojAiClientIdAuth(StrictModel):
    type: Literal["client-id"]
    client_id: str


class TrojAiConfig(StrictModel):
    base_url: str


class TrojAiGuardrail(Mutable):
    type: Literal["integration/guardrail-config/trojai"]
    auth_data: TrojAiClientIdAuth
    config: TrojAiConfig
