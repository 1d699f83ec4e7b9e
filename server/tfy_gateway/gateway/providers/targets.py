"""Build an `UpstreamTarget` from a provider-account model and one of its integrations.

This runs when configuration is applied (secrets are resolved then), never per request. Each provider
type knows its wire format and default base URL; a provider account's `base_url` overrides the default
(that is how tests point an account at the fake provider). Self-hosted models use the integration's
`url` (which includes the version path, e.g. `http://vllm:8000/v1`) and `hosted_model_name`.
Fields are read from the typed models; only the loosely modelled provider types (`LooseAccount`,
e.g. openrouter, ollama) carry theirs as unchecked extras.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tfy_gateway.gateway.errors import ConfigError
from tfy_gateway.gateway.providers.aws_sigv4 import SigningUnavailable, SigV4Signer
from tfy_gateway.gateway.providers.base import RequestSigner, TokenSource, UpstreamTarget, WireFormat
from tfy_gateway.gateway.providers.google_targets import (
    GEMINI_BASE_URL,
    GoogleTargetError,
    gemini_headers,
    vertex_base_url,
    vertex_credentials,
    vertex_wire,
)
from tfy_gateway.gateway.providers.provider_types import NOT_CALLABLE, custom_host, with_base_path
from tfy_gateway.gateway.providers.secrets import SecretResolver
from tfy_gateway.gateway.providers.vertex_credentials import VertexCredentialsError
from tfy_gateway.manifests.providers import (
    AnthropicAccount,
    ApiKeyAuth,
    AwsAccessKeyAuth,
    AwsAssumedRoleAuth,
    AwsBedrockAccount,
    AzureAuth,
    AzureOpenAIAccount,
    AzureOpenAIModel,
    BasicAuth,
    BearerAuth,
    BedrockAuth,
    BedrockModel,
    GcpApiKeyAuth,
    GoogleGeminiAccount,
    GoogleVertexAccount,
    Integration,
    LooseAccount,
    LooseIntegration,
    OpenAIAccount,
    ProviderAccount,
    SelfHostedAccount,
    SelfHostedModel,
    VertexKeyFileAuth,
    VertexModel,
    VirtualModel,
    VirtualModelAccount,
)


class ProviderConfigError(ConfigError, ValueError):
    """A provider account / integration cannot be turned into an upstream target (says what to fix)."""


@dataclass(frozen=True)
class ProviderDefaults:
    wire_format: WireFormat
    base_url: str | None  # None: the manifest must say where (azure_endpoint, url, base_url)


PROVIDERS: Mapping[str, ProviderDefaults] = {
    "openai": ProviderDefaults("openai", "https://api.openai.com/v1"),
    "anthropic": ProviderDefaults("anthropic", "https://api.anthropic.com/v1"),
    "azure-openai": ProviderDefaults("azure-openai", None),
    "groq": ProviderDefaults("openai", "https://api.groq.com/openai/v1"),
    "together-ai": ProviderDefaults("openai", "https://api.together.xyz/v1"),
    "mistral-ai": ProviderDefaults("openai", "https://api.mistral.ai/v1"),
    "openrouter": ProviderDefaults("openai", "https://openrouter.ai/api/v1"),
    "deepinfra": ProviderDefaults("openai", "https://api.deepinfra.com/v1/openai"),
    "perplexity-ai": ProviderDefaults("openai", "https://api.perplexity.ai"),
    "xai": ProviderDefaults("openai", "https://api.x.ai/v1"),
    "cerebras": ProviderDefaults("openai", "https://api.cerebras.ai/v1"),
    "sambanova": ProviderDefaults("openai", "https://api.sambanova.ai/v1"),
    "google-gemini": ProviderDefaults("gemini", GEMINI_BASE_URL),
    "google-vertex": ProviderDefaults("gemini", None),
    "cohere": ProviderDefaults("openai", "https://api.cohere.ai/compatibility/v1"),
    "ollama": ProviderDefaults("openai", "http://localhost:11434/v1"),
    "ai21": ProviderDefaults("openai", "https://api.ai21.com/studio/v1"),
    "baseten": ProviderDefaults("openai", "https://inference.baseten.co/v1"),
    "databricks": ProviderDefaults("openai", None),  # the workspace URL (+ /serving-endpoints, provider_types)
    "self-hosted-model": ProviderDefaults("openai", None),
    "aws-bedrock": ProviderDefaults("bedrock", None),  # https://bedrock-runtime.{region}.amazonaws.com
}
PROVIDER_PREFIX = "provider-account/"
SUPPORTED = "api-key, bearer-auth, basic-auth; aws-bedrock: api-key, access-key-based"
_API_KEY_HEADER: Mapping[str, str] = {
    "openai": "authorization",
    "anthropic": "x-api-key",
    "azure-openai": "api-key",
    "gemini": "x-goog-api-key",
    "bedrock": "authorization",  # a Bedrock API key is a bearer token
}


AuthSpec = ApiKeyAuth | GcpApiKeyAuth | BearerAuth | BasicAuth | AzureAuth | BedrockAuth | VertexKeyFileAuth


@dataclass(frozen=True)
class _Fields:
    """What a provider account and one of its integrations say about reaching the model (a loosely
    modelled type's values are whatever its manifest holds: checked in `target_for`)."""

    base_url: str | None
    model_id: str | None
    model_field: str  # where `model_id` comes from, for the error when it is missing
    api_version: str | None = None
    auth: AuthSpec | None = None
    loose_auth: Any = None  # a loosely modelled type's `auth_data`, unchecked
    account_headers: Any = None
    headers: Any = None


def _extra(model: BaseModel, key: str) -> Any:
    """A field of a loosely modelled provider type (kept by pydantic as an extra, unchecked)."""
    return (model.model_extra or {}).get(key)


def _typed_fields(account: ProviderAccount, integration: Integration) -> _Fields:
    base_url: str | None = None
    if isinstance(account, (OpenAIAccount, AnthropicAccount, AwsBedrockAccount, GoogleVertexAccount)):
        base_url = account.base_url
    elif isinstance(account, AzureOpenAIAccount):
        base_url = account.azure_endpoint
    auth = None if isinstance(account, (SelfHostedAccount, VirtualModelAccount, LooseAccount)) else account.auth_data
    if isinstance(integration, SelfHostedModel):
        return _Fields(
            integration.url,
            integration.hosted_model_name,
            "hosted_model_name",
            auth=integration.auth_data or auth,
            headers=integration.headers,
        )
    if isinstance(integration, (VirtualModel, LooseIntegration)):
        return _Fields(base_url, None, "model_id", auth=auth)
    if isinstance(account, GoogleVertexAccount):
        region = (integration.region if isinstance(integration, VertexModel) else None) or account.region
        base_url = vertex_base_url(account.project_id, region, account.base_url)
    api_version = integration.api_version if isinstance(integration, AzureOpenAIModel) else None
    return _Fields(base_url, integration.model_id, "model_id", api_version, auth)


def _loose_fields(account: LooseAccount, integration: Integration) -> _Fields:
    auth = _extra(integration, "auth_data") or _extra(account, "auth_data")
    host = custom_host(auth)  # Ollama: auth_data holds only the server's address
    return _Fields(
        _extra(account, "base_url") or host,
        _extra(integration, "model_id"),
        "model_id",
        api_version=_extra(integration, "api_version"),
        loose_auth=None if host else auth,
        account_headers=_extra(account, "headers"),
        headers=_extra(integration, "headers"),
    )


def target_for(account: ProviderAccount, integration: Integration, secrets: SecretResolver) -> UpstreamTarget:
    """The upstream target for `<account>/<integration>` (see `_target_for`)."""
    try:
        return _target_for(account, integration, secrets)
    except (GoogleTargetError, VertexCredentialsError) as exc:
        raise ProviderConfigError(str(exc)) from None


def _target_for(account: ProviderAccount, integration: Integration, secrets: SecretResolver) -> UpstreamTarget:
    """The upstream target for `<account>/<integration>`.

    Raises ProviderConfigError for an unsupported provider or missing field, and SecretError when a
    referenced secret has no value.
    """
    where = f"{account.name}/{integration.name}"
    provider = account.type.removeprefix(PROVIDER_PREFIX)
    defaults = PROVIDERS.get(provider)
    if defaults is None:
        why = NOT_CALLABLE.get(provider)
        raise ProviderConfigError(
            f"{where}: provider type {provider!r} cannot be called by the local gateway"
            + (f" ({why})" if why else "")
            + f"; supported: {', '.join(sorted(PROVIDERS))}"
        )
    wire_format = defaults.wire_format
    if isinstance(account, GoogleVertexAccount) and isinstance(integration, VertexModel):
        wire_format = vertex_wire(integration.model_id, where)
    if isinstance(account, LooseAccount):
        fields = _loose_fields(account, integration)
    else:
        fields = _typed_fields(account, integration)
    base_url = fields.base_url or defaults.base_url
    signer: RequestSigner | None = None
    if isinstance(account, AwsBedrockAccount):
        region = _bedrock_region(account, integration)
        base_url = base_url or f"https://bedrock-runtime.{region}.amazonaws.com"
        signer = _bedrock_signer(fields.auth, region, where + ".auth_data", secrets)
    if not isinstance(base_url, str) or not base_url:  # a loose type's fields are unchecked
        needed = {"azure-openai": "azure_endpoint", "self-hosted-model": "integration url"}.get(provider, "base_url")
        raise ProviderConfigError(f"{where}: {needed} is required for provider type {provider!r}")
    if not isinstance(fields.model_id, str) or not fields.model_id:
        raise ProviderConfigError(f"{where}: integration {fields.model_field} is required")
    if wire_format == "azure-openai" and not fields.api_version:
        raise ProviderConfigError(f"{where}: api_version is required for Azure OpenAI (e.g. '2024-10-21')")
    extra = {
        **_headers(fields.account_headers, account.name, secrets),
        **_headers(fields.headers, where, secrets),
    }
    credentials: TokenSource | None = None
    if isinstance(account, GoogleGeminiAccount):
        auth = gemini_headers(fields.auth, where, secrets)
    elif isinstance(account, GoogleVertexAccount):
        auth, credentials = vertex_credentials(fields.auth, where, secrets)
    elif fields.loose_auth is not None:
        auth = _loose_auth_headers(fields.loose_auth, wire_format, where, secrets)
    elif signer is not None:
        auth = {}
    else:
        auth = _auth_headers(fields.auth, wire_format, where + ".auth_data", secrets)
    return UpstreamTarget(
        wire_format=wire_format,
        provider=provider,
        base_url=with_base_path(provider, base_url),
        model_id=fields.model_id,
        auth_headers=auth,
        extra_headers=extra,
        api_version=str(fields.api_version) if fields.api_version else None,
        account=account.name,
        integration=integration.name,
        credentials=credentials,
        signer=signer,
    )


def _bedrock_region(account: AwsBedrockAccount, integration: Integration) -> str:
    """The integration's region (a model offered in another region), else the account's."""
    region = integration.region if isinstance(integration, BedrockModel) else None
    return region or account.region


def _bedrock_signer(auth: AuthSpec | None, region: str, where: str, secrets: SecretResolver) -> RequestSigner | None:
    """A SigV4 signer for access-key auth; None for api-key auth (a bearer header) or no auth.

    Assumed-role auth is refused: it needs the gateway's own AWS identity to call STS (AssumeRole) and
    fresh temporary credentials every hour, which the local gateway neither has nor can get offline.
    """
    if isinstance(auth, AwsAssumedRoleAuth):
        raise ProviderConfigError(
            f"{where}.type 'assumed-role-based' is not supported by the local gateway: assuming "
            f"{auth.assumed_role_arn} needs AWS STS and AWS credentials of the gateway's own, which it does not "
            "have (and cannot reach offline). Use 'access-key-based' (access_key_id, secret_access_key) or "
            "'api-key' (a Bedrock API key) for this account."
        )
    if not isinstance(auth, AwsAccessKeyAuth):
        return None
    try:
        return SigV4Signer(
            secrets.resolve(_required(auth.access_key_id, "access_key_id", where)),
            secrets.resolve(_required(auth.secret_access_key, "secret_access_key", where)),
            region,
        )
    except SigningUnavailable as exc:
        raise ProviderConfigError(f"{where}: {exc}") from None


def _auth_headers(
    auth: AuthSpec | None, wire_format: WireFormat, where: str, secrets: SecretResolver
) -> dict[str, str]:
    if auth is None:
        return {}
    if isinstance(auth, ApiKeyAuth):
        return _api_key(secrets.resolve(_required(auth.api_key, "api_key", where)), wire_format)
    if isinstance(auth, BearerAuth):
        return {"authorization": f"Bearer {secrets.resolve(_required(auth.bearer_token, 'bearer_token', where))}"}
    if isinstance(auth, BasicAuth):
        return _basic(
            secrets.resolve(_required(auth.username, "username", where)),
            secrets.resolve(_required(auth.password, "password", where)),
        )
    if isinstance(auth, GcpApiKeyAuth):  # type "api-key" too, but its key is `apiKey`: google-gemini's own
        raise ProviderConfigError(f"{where}: the 'apiKey' form is google-gemini's; this provider takes 'api_key'")
    raise ProviderConfigError(
        f"{where}.type {auth.type!r} is not supported by the local gateway (supported: {SUPPORTED})"
    )


def _loose_auth_headers(auth: Any, wire_format: WireFormat, where: str, secrets: SecretResolver) -> dict[str, str]:
    """`auth_data` of a loosely modelled provider type: a value nobody checked."""
    if not isinstance(auth, Mapping):
        raise ProviderConfigError(f"{where}: auth_data must be a mapping with a 'type'")
    where += ".auth_data"
    kind = auth.get("type")
    if kind == "api-key":
        return _api_key(secrets.resolve(_required(auth.get("api_key"), "api_key", where)), wire_format)
    if kind == "bearer-auth":
        return {
            "authorization": f"Bearer {secrets.resolve(_required(auth.get('bearer_token'), 'bearer_token', where))}"
        }
    if kind == "basic-auth":
        return _basic(
            secrets.resolve(_required(auth.get("username"), "username", where)),
            secrets.resolve(_required(auth.get("password"), "password", where)),
        )
    raise ProviderConfigError(f"{where}.type {kind!r} is not supported by the local gateway (supported: {SUPPORTED})")


def _api_key(key: str, wire_format: WireFormat) -> dict[str, str]:
    header = _API_KEY_HEADER[wire_format]
    return {header: f"Bearer {key}" if header == "authorization" else key}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _required(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProviderConfigError(f"{where}.{key} is required (a string)")
    return value


def _headers(source: Any, where: str, secrets: SecretResolver) -> dict[str, str]:
    if source is None:
        return {}
    if not isinstance(source, Mapping):
        raise ProviderConfigError(f"{where}.headers must be a mapping of header name to value")
    return {str(name): secrets.resolve(str(value)) for name, value in source.items()}
