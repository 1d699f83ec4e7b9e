"""`provider-account/*` manifests and their `integration/model/*` entries.

Field names and literals follow the platform SDK. The providers the local gateway can call (and the
ones users configure most) are modelled field by field; the long tail of platform provider types is
accepted with a light schema (name, integrations) and reported as a warning by the linter.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from tfy_gateway.manifests.common import Collaborator, OwnedBy, StrictModel
from tfy_gateway.manifests.costs import ModelCost
from tfy_gateway.manifests.names import AccountName, ModelName
from tfy_gateway.manifests.routing import RoutingStrategy

ModelType = Literal[
    "chat",
    "completion",
    "embedding",
    "realtime",
    "rerank",
    "audio_transcription",
    "audio_translation",
    "text_to_speech",
    "moderation",
    "image",
    "responses",
    "ocr",
]


# --- credentials -------------------------------------------------------------------------------


class ApiKeyAuth(StrictModel):
    type: Literal["api-key"]
    api_key: str = Field(description='Prefer a secret reference: "tfy-secret://<tenant>:<group>:<key>".')


class GcpApiKeyAuth(StrictModel):
    type: Literal["api-key"]
    apiKey: str


class BearerAuth(StrictModel):
    type: Literal["bearer-auth"]
    bearer_token: str


class BasicAuth(StrictModel):
    type: Literal["basic-auth"]
    username: str
    password: str


class AzureCertificateAuth(StrictModel):
    type: Literal["certificate"]
    tenant_id: str
    client_id: str
    certificate: str
    certificate_thumbprint: str


class AzureClientSecretAuth(StrictModel):
    type: Literal["client-secret"]
    tenant_id: str
    client_id: str
    client_secret: str


class AzureWorkloadIdentityAuth(StrictModel):
    type: Literal["workload-identity"]
    tenant_id: str
    client_id: str


class AwsAccessKeyAuth(StrictModel):
    type: Literal["access-key-based"]
    access_key_id: str
    secret_access_key: str


class AwsAssumedRoleAuth(StrictModel):
    type: Literal["assumed-role-based"]
    assumed_role_arn: str
    external_id: str | None = None


class VertexKeyFileAuth(StrictModel):
    type: Literal["key-file", "workload-identity-federation-file"]
    key_file_content: str | dict[str, Any]


AzureAuth = Annotated[
    ApiKeyAuth | AzureCertificateAuth | AzureClientSecretAuth | AzureWorkloadIdentityAuth,
    Field(discriminator="type"),
]
BedrockAuth = Annotated[ApiKeyAuth | AwsAccessKeyAuth | AwsAssumedRoleAuth, Field(discriminator="type")]
SelfHostedAuth = Annotated[BearerAuth | BasicAuth, Field(discriminator="type")]


# --- integrations ------------------------------------------------------------------------------


class _Integration(StrictModel):
    name: ModelName = Field(description="Second half of the model id: <account>/<name>.")
    model_id: str = Field(description="The provider's own model id.")
    model_types: list[ModelType] = Field(min_length=1)
    cost: ModelCost | None = None
    authorized_subjects: list[str] | None = None


class OpenAIModel(_Integration):
    type: Literal["integration/model/openai"]


class AnthropicModel(_Integration):
    type: Literal["integration/model/anthropic"]


class AzureOpenAIModel(_Integration):
    type: Literal["integration/model/azure-openai"]
    model_id: str = Field(description="The Azure deployment name.")
    api_version: str
    foundation_model: str | None = None
    deployment_type: Literal["standard", "datazone_us", "datazone_eu", "global"] | None = None


class BedrockModel(_Integration):
    type: Literal["integration/model/bedrock"]
    region: str | None = None


class VertexModel(_Integration):
    type: Literal["integration/model/vertex"]
    region: str | None = None


class GeminiModel(_Integration):
    type: Literal["integration/model/gemini"]


class GroqModel(_Integration):
    type: Literal["integration/model/groq"]


class TogetherAIModel(_Integration):
    type: Literal["integration/model/together-ai"]


class MistralAIModel(_Integration):
    type: Literal["integration/model/mistral-ai"]


class CohereModel(_Integration):
    type: Literal["integration/model/cohere"]


class TlsSettings(StrictModel):
    reject_unauthorized: bool = True
    ca_cert: str | None = None


class SelfHostedModel(StrictModel):
    type: Literal["integration/model/self-hosted-model"]
    name: ModelName
    hosted_model_name: str = Field(description="Model name sent to the server.")
    url: str = Field(description="Base URL of the OpenAI-compatible server, e.g. https://host/v1.")
    model_server: Literal["openai-compatible", "cohere-rerank-v2", "nemo-retriever", "infinity", "tei", "vllm-openai"]
    model_types: list[ModelType] = Field(min_length=1)
    tfy_application_id: str | None = None
    tls_settings: TlsSettings | None = None
    auth_data: SelfHostedAuth | None = None
    headers: dict[str, str] | None = None
    cost: ModelCost | None = None
    authorized_subjects: list[str] | None = None


VirtualModelType = Literal[
    "chat",
    "completion",
    "embedding",
    "rerank",
    "moderation",
    "audio_transcription",
    "audio_translation",
    "text_to_speech",
    "image",
    "responses",
]


class VirtualModel(StrictModel):
    """A model name that routes to real models: called as `<group>/<name>`."""

    type: Literal["integration/model/virtual"]
    name: ModelName
    model_types: list[VirtualModelType] = Field(min_length=1)
    slug: str | None = None
    alias: list[str] | None = None
    routing_config: RoutingStrategy


# --- provider accounts -------------------------------------------------------------------------


class _Account(StrictModel):
    name: AccountName = Field(description="First half of the model id: <name>/<integration>.")
    collaborators: list[Collaborator] | None = None
    ownedBy: OwnedBy | None = None
    discount_percent: float | None = Field(default=None, ge=0, le=100)


class OpenAIAccount(_Account):
    type: Literal["provider-account/openai"]
    auth_data: ApiKeyAuth | None = None
    base_url: str | None = None
    integrations: list[OpenAIModel]


class AnthropicAccount(_Account):
    type: Literal["provider-account/anthropic"]
    auth_data: ApiKeyAuth | None = None
    base_url: str | None = Field(default=None, description="Must include /v1.")
    integrations: list[AnthropicModel] | None = None


class AzureOpenAIAccount(_Account):
    type: Literal["provider-account/azure-openai"]
    azure_endpoint: str
    auth_data: AzureAuth
    integrations: list[AzureOpenAIModel]


class AwsBedrockAccount(_Account):
    type: Literal["provider-account/aws-bedrock"]
    region: str
    base_url: str | None = None
    auth_data: BedrockAuth | None = None
    integrations: list[BedrockModel]


class GoogleVertexAccount(_Account):
    type: Literal["provider-account/google-vertex"]
    project_id: str
    region: str
    auth_data: VertexKeyFileAuth | None = None
    base_url: str | None = None
    integrations: list[VertexModel]


class GoogleGeminiAccount(_Account):
    type: Literal["provider-account/google-gemini"]
    auth_data: GcpApiKeyAuth
    integrations: list[GeminiModel]


class GroqAccount(_Account):
    type: Literal["provider-account/groq"]
    auth_data: ApiKeyAuth
    integrations: list[GroqModel]


class TogetherAIAccount(_Account):
    type: Literal["provider-account/together-ai"]
    auth_data: ApiKeyAuth
    integrations: list[TogetherAIModel]


class MistralAIAccount(_Account):
    type: Literal["provider-account/mistral-ai"]
    auth_data: ApiKeyAuth
    integrations: list[MistralAIModel]


class CohereAccount(_Account):
    type: Literal["provider-account/cohere"]
    auth_data: ApiKeyAuth
    integrations: list[CohereModel] | None = None


class SelfHostedAccount(_Account):
    type: Literal["provider-account/self-hosted-model"]
    integrations: list[SelfHostedModel]


class VirtualModelAccount(StrictModel):
    type: Literal["provider-account/virtual-model"]
    name: AccountName
    integrations: list[VirtualModel]
    collaborators: list[Collaborator] | None = None
    ownedBy: OwnedBy | None = None


class LooseIntegration(StrictModel):
    """Integration of a provider type this project does not model field by field."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    name: ModelName
    model_types: list[ModelType] | None = None
    cost: ModelCost | None = None
    authorized_subjects: list[str] | None = None


class LooseAccount(_Account):
    """Any other `provider-account/*` type the platform knows; checked lightly (see module doc)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    integrations: list[LooseIntegration] | None = None


ProviderAccount = (
    OpenAIAccount
    | AnthropicAccount
    | AzureOpenAIAccount
    | AwsBedrockAccount
    | GoogleVertexAccount
    | GoogleGeminiAccount
    | GroqAccount
    | TogetherAIAccount
    | MistralAIAccount
    | CohereAccount
    | SelfHostedAccount
    | VirtualModelAccount
    | LooseAccount
)
"""Every `provider-account/*` model: what a stored provider account parses into."""

Integration = (
    OpenAIModel
    | AnthropicModel
    | AzureOpenAIModel
    | BedrockModel
    | VertexModel
    | GeminiModel
    | GroqModel
    | TogetherAIModel
    | MistralAIModel
    | CohereModel
    | SelfHostedModel
    | VirtualModel
    | LooseIntegration
)
"""Every integration model: one entry of a provider account's `integrations`."""

MODELLED_ACCOUNTS: dict[str, type[ProviderAccount]] = {
    "provider-account/openai": OpenAIAccount,
    "provider-account/anthropic": AnthropicAccount,
    "provider-account/azure-openai": AzureOpenAIAccount,
    "provider-account/aws-bedrock": AwsBedrockAccount,
    "provider-account/google-vertex": GoogleVertexAccount,
    "provider-account/google-gemini": GoogleGeminiAccount,
    "provider-account/groq": GroqAccount,
    "provider-account/together-ai": TogetherAIAccount,
    "provider-account/mistral-ai": MistralAIAccount,
    "provider-account/cohere": CohereAccount,
    "provider-account/self-hosted-model": SelfHostedAccount,
    "provider-account/virtual-model": VirtualModelAccount,
}

LOOSE_ACCOUNT_TYPES: frozenset[str] = frozenset(
    f"provider-account/{name}"
    for name in (
        "azure-foundry",
        "microsoft-foundry",
        "ai21",
        "deepinfra",
        "perplexity-ai",
        "nomic",
        "palm",
        "ollama",
        "databricks",
        "cloudera",
        "openrouter",
        "sambanova",
        "xai",
        "baseten",
        "aws-sagemaker",
        "cerebras",
        "wafer",
        "snowflake-cortex",
        "elevenlabs",
        "deepgram",
        "cartesia",
        "smallest-ai",
        "aws-claude-platform",
        "aws-bedrock-mantle",
        "custom-endpoint",
    )
)
"""Model-provider types the platform SDK lists beyond the ones modelled above."""
