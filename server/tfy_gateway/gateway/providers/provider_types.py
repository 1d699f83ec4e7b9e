"""What the local gateway does with each provider-account type of the platform SDK (truefoundry-sdk
0.6.0 `ModelProviderAccount`) beyond the ones `targets.PROVIDERS` calls: why a type cannot be
called (the message a request to its model gets), and the base paths some OpenAI-compatible APIs
add to the address their manifest holds.

Checked against each provider's public API documentation; references/providers.md has the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

NOT_CALLABLE: Mapping[str, str] = MappingProxyType(
    {
        "nomic": "Nomic's embedding API (/v1/embedding/text) is not OpenAI-compatible and has no translator here",
        "palm": "Google's PaLM API was shut down; use provider-account/google-gemini",
        "cloudera": "Cloudera AI Inference endpoints need per-deployment URLs and workload tokens the local "
        "gateway does not model; use provider-account/self-hosted-model with the endpoint's OpenAI URL",
        "azure-foundry": "Azure AI Foundry's model inference API (api-version, Entra auth) has no translator "
        "here; for Azure OpenAI deployments use provider-account/azure-openai",
        "microsoft-foundry": "Microsoft Foundry's project endpoints (Entra auth) have no translator here; for "
        "its openai_endpoint use provider-account/azure-openai",
        "snowflake-cortex": "Snowflake Cortex needs the account's Cortex REST endpoint and PAT handling the "
        "local gateway does not model; use provider-account/self-hosted-model with its OpenAI-compatible URL",
        "wafer": "Wafer's API is not documented as OpenAI-compatible; use provider-account/self-hosted-model "
        "if yours is",
        "aws-sagemaker": "SageMaker endpoints need SigV4 signing and a per-model payload format",
        "aws-claude-platform": "the Claude platform on AWS needs SigV4 signing",
        "aws-bedrock-mantle": "Bedrock's OpenAI-compatible (Mantle) endpoint needs SigV4 signing",
        "elevenlabs": "ElevenLabs' speech API is not OpenAI-compatible",
        "deepgram": "Deepgram's speech API is not OpenAI-compatible",
        "cartesia": "Cartesia's speech API is not OpenAI-compatible",
        "smallest-ai": "Smallest AI's speech API is not OpenAI-compatible",
        "custom-endpoint": "custom endpoints are routed by the platform's own plugins",
    }
)
"""Provider types the local gateway applies (the manifests validate) but cannot call, and why."""

BASE_PATHS: Mapping[str, str] = MappingProxyType({"databricks": "/serving-endpoints"})
"""Paths an account's `base_url` (the workspace address) needs before OpenAI's paths."""


def with_base_path(provider: str, base_url: str) -> str:
    """`base_url` with the provider's API path (once), e.g. Databricks' workspace URL + /serving-endpoints."""
    path = BASE_PATHS.get(provider)
    base = base_url.rstrip("/")
    if path is None or base.endswith(path):
        return base
    return base + path


def custom_host(auth: object) -> str | None:
    """The OpenAI-compatible base URL an `auth_data` of `{custom_host}` (Ollama's, in the SDK: no
    key, only where the server is) names: the host's `/v1`."""
    if not isinstance(auth, Mapping) or "type" in auth:
        return None
    host = auth.get("custom_host")
    if not isinstance(host, str) or not host:
        return None
    host = host.rstrip("/")
    return host if host.endswith("/v1") else host + "/v1"
