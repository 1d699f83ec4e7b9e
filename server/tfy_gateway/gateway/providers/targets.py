"""Build an `UpstreamTarget` from a provider-account manifest and one of its integrations.

This runs when configuration is applied (secrets are resolved then), never per request. Each provider
type knows its wire format and default base URL; a provider account's `base_url` overrides the default
(that is how tests point an account at the fake provider). Self-hosted models use the integration's
`url` (which includes the version path, e.g. `http://vllm:8000/v1`) and `hosted_model_name`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfy_gateway.gateway.errors import ConfigError
from tfy_gateway.gateway.providers.base import UpstreamTarget, WireFormat
from tfy_gateway.gateway.providers.secrets import SecretResolver


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
    "google-gemini": ProviderDefaults("openai", "https://generativelanguage.googleapis.com/v1beta/openai"),
    "cohere": ProviderDefaults("openai", "https://api.cohere.ai/compatibility/v1"),
    "ollama": ProviderDefaults("openai", "http://localhost:11434/v1"),
    "self-hosted-model": ProviderDefaults("openai", None),
}
_API_KEY_HEADER: Mapping[str, str] = {
    "openai": "authorization",
    "anthropic": "x-api-key",
    "azure-openai": "api-key",
}


def provider_type(provider_account: Mapping[str, Any]) -> str:
    kind = provider_account.get("type")
    prefix = "provider-account/"
    if not isinstance(kind, str) or not kind.startswith(prefix):
        raise ProviderConfigError(
            f"provider account {provider_account.get('name')!r}: type must be "
            f"'provider-account/<provider>', got {kind!r}"
        )
    return kind[len(prefix) :]


def _auth_headers(auth: Any, wire_format: WireFormat, where: str, secrets: SecretResolver) -> dict[str, str]:
    if auth is None:
        return {}
    if not isinstance(auth, Mapping):
        raise ProviderConfigError(f"{where}: auth_data must be a mapping with a 'type'")
    kind = auth.get("type")
    if kind == "api-key":
        key = secrets.resolve(_required(auth, "api_key", where + ".auth_data"))
        header = _API_KEY_HEADER[wire_format]
        return {header: f"Bearer {key}" if header == "authorization" else key}
    if kind == "bearer-auth":
        token = secrets.resolve(_required(auth, "bearer_token", where + ".auth_data"))
        return {"authorization": f"Bearer {token}"}
    if kind == "basic-auth":
        user = secrets.resolve(_required(auth, "username", where + ".auth_data"))
        password = secrets.resolve(_required(auth, "password", where + ".auth_data"))
        return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    raise ProviderConfigError(
        f"{where}.auth_data.type {kind!r} is not supported by the local gateway "
        "(supported: api-key, bearer-auth, basic-auth)"
    )


def _required(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderConfigError(f"{where}.{key} is required (a string)")
    return value


def _headers(source: Any, where: str, secrets: SecretResolver) -> dict[str, str]:
    if source is None:
        return {}
    if not isinstance(source, Mapping):
        raise ProviderConfigError(f"{where}.headers must be a mapping of header name to value")
    return {str(name): secrets.resolve(str(value)) for name, value in source.items()}


def target_from_manifests(
    provider_account: Mapping[str, Any], integration: Mapping[str, Any], secrets: SecretResolver
) -> UpstreamTarget:
    """The upstream target for `<account>/<integration>`.

    Raises ProviderConfigError for an unsupported provider or missing field, and SecretError when a
    referenced secret has no value.
    """
    account_name = str(provider_account.get("name", ""))
    integration_name = str(integration.get("name", ""))
    where = f"{account_name}/{integration_name}"
    provider = provider_type(provider_account)
    defaults = PROVIDERS.get(provider)
    if defaults is None:
        raise ProviderConfigError(
            f"{where}: provider type {provider!r} cannot be called by the local gateway; supported: "
            f"{', '.join(sorted(PROVIDERS))}"
        )
    wire_format = defaults.wire_format
    if provider == "self-hosted-model":
        base_url = integration.get("url") or provider_account.get("base_url")
        model_id = integration.get("hosted_model_name") or integration.get("model_id")
        model_field = "hosted_model_name"
    else:
        base_url = provider_account.get("base_url")
        if not base_url:
            base_url = provider_account.get("azure_endpoint") if provider == "azure-openai" else defaults.base_url
        model_id = integration.get("model_id")
        model_field = "model_id"
    if not isinstance(base_url, str) or not base_url:
        needed = {"azure-openai": "azure_endpoint", "self-hosted-model": "integration url"}.get(provider, "base_url")
        raise ProviderConfigError(f"{where}: {needed} is required for provider type {provider!r}")
    if not isinstance(model_id, str) or not model_id:
        raise ProviderConfigError(f"{where}: integration {model_field} is required")
    api_version = integration.get("api_version")
    if wire_format == "azure-openai" and not api_version:
        raise ProviderConfigError(f"{where}: api_version is required for Azure OpenAI (e.g. '2024-10-21')")
    auth = integration.get("auth_data") or provider_account.get("auth_data")
    extra = {
        **_headers(provider_account.get("headers"), account_name, secrets),
        **_headers(integration.get("headers"), where, secrets),
    }
    return UpstreamTarget(
        wire_format=wire_format,
        provider=provider,
        base_url=base_url.rstrip("/"),
        model_id=model_id,
        auth_headers=_auth_headers(auth, wire_format, where, secrets),
        extra_headers=extra,
        api_version=str(api_version) if api_version else None,
        account=account_name,
        integration=integration_name,
    )
