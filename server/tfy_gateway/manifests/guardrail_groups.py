"""`provider-account/guardrail-config-group`: a named set of guardrail integrations.

Rules of `gateway-guardrails-config` reference an integration as `<group>/<integration>`, as model
ids are `<account>/<model>`. A group holds no models: it is kept apart from model provider accounts
(catalog, access) although its type shares their prefix.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import GUARDRAIL_GROUP_TYPE as GUARDRAIL_GROUP_TYPE
from tfy_gateway.manifests.common import Collaborator, OwnedBy, StrictModel
from tfy_gateway.manifests.guardrail_integrations import (
    CedarGuardrail,
    CodeSafetyLinterGuardrail,
    CustomGuardrail,
    OpaGuardrail,
    OpenAIModerationsGuardrail,
    RegexGuardrail,
    SecretDetectionGuardrail,
    SqlSanitizerGuardrail,
    TfyContentModerationGuardrail,
    TfyMetadataGuardrail,
    TfyPiiGuardrail,
    TfyPromptInjectionGuardrail,
)
from tfy_gateway.manifests.guardrail_vendors import (
    AktoGuardrail,
    AwsBedrockGuardrail,
    AzureContentSafetyGuardrail,
    AzurePiiGuardrail,
    AzurePromptShieldGuardrail,
    CalypsoAiGuardrail,
    CiscoAiDefenseGuardrail,
    CrowdStrikeAidrGuardrail,
    EnkryptAiGuardrail,
    FiddlerGuardrail,
    GoogleModelArmorGuardrail,
    GraySwanCygnalGuardrail,
    NomaSecurityGuardrail,
    PaloAltoPrismaAirsGuardrail,
    PatronusGuardrail,
    TrojAiGuardrail,
)
from tfy_gateway.manifests.names import AccountName

AnyGuardrail = (
    OpenAIModerationsGuardrail
    | AwsBedrockGuardrail
    | CustomGuardrail
    | AzurePiiGuardrail
    | AzureContentSafetyGuardrail
    | AzurePromptShieldGuardrail
    | EnkryptAiGuardrail
    | PaloAltoPrismaAirsGuardrail
    | FiddlerGuardrail
    | CiscoAiDefenseGuardrail
    | CrowdStrikeAidrGuardrail
    | PatronusGuardrail
    | SecretDetectionGuardrail
    | CodeSafetyLinterGuardrail
    | SqlSanitizerGuardrail
    | RegexGuardrail
    | TfyContentModerationGuardrail
    | TfyPiiGuardrail
    | TfyPromptInjectionGuardrail
    | TfyMetadataGuardrail
    | CedarGuardrail
    | OpaGuardrail
    | GoogleModelArmorGuardrail
    | GraySwanCygnalGuardrail
    | NomaSecurityGuardrail
    | CalypsoAiGuardrail
    | AktoGuardrail
    | TrojAiGuardrail
)
"""Every guardrail integration type of the platform SDK (`GuardrailConfigIntegrations`)."""


class GuardrailConfigGroup(StrictModel):
    type: Literal["provider-account/guardrail-config-group"]
    name: AccountName = Field(description="First half of a guardrail reference: <group>/<integration>.")
    collaborators: list[Collaborator] | None = None
    ownedBy: OwnedBy | None = None
    integrations: list[Annotated[AnyGuardrail, Field(discriminator="type")]]
