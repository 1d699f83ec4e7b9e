"""Provider-account intent: register a provider (OpenAI, Azure, a self-hosted server...) and its models."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfy_gateway.intents.base import SECRET_PREFIX, Findings

Provider = Literal["openai", "anthropic", "azure-openai", "groq", "together-ai", "mistral-ai", "self-hosted-model"]
PROVIDERS: list[str] = list(Provider.__args__)  # type: ignore[attr-defined]
ModelType = Literal["chat", "completion", "embedding", "rerank", "moderation", "image", "responses"]
MODEL_SERVERS = ["openai-compatible", "vllm-openai", "tei", "infinity", "cohere-rerank-v2", "nemo-retriever"]
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
SECRET_EXAMPLE = "tfy-secret://<tenant>:<secret-group>:<key>"


class ProviderModel(BaseModel):
    """One model (integration) of the account; called as '<account>/<name>' on the data plane."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Integration name, e.g. 'gpt-4o'.")
    model_id: str | None = Field(default=None, description="Provider's model id (Azure: deployment name).")
    model_types: list[ModelType] | None = Field(default=None, description="Default ['chat'].")
    input_cost_per_1k: float | None = Field(default=None, ge=0, description="USD per 1000 input tokens.")
    output_cost_per_1k: float | None = Field(default=None, ge=0, description="USD per 1000 output tokens.")
    api_version: str | None = Field(default=None, description="Azure OpenAI API version, e.g. '2024-10-21'.")
    url: str | None = Field(default=None, description="Self-hosted: the server's base URL.")
    model_server: str | None = Field(default=None, description="Self-hosted: default 'openai-compatible'.")


class ProviderAccountIntent(BaseModel):
    """Create or extend the provider account `name` with `models`, authenticating with `secret`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["provider_account"] = "provider_account"
    provider: Provider | None = None
    name: str | None = Field(default=None, description="Account name, e.g. 'openai-main'.")
    models: list[ProviderModel] | None = None
    secret: str | None = Field(default=None, description=f"Secret reference {SECRET_EXAMPLE}, never a raw key.")
    azure_endpoint: str | None = Field(default=None, description="Azure OpenAI resource endpoint URL.")
    base_url: str | None = Field(default=None, description="Override the provider's API base URL.")


def check_provider_account(intent: ProviderAccountIntent, findings: Findings) -> None:
    provider = intent.provider
    if provider is None:
        findings.ask(
            "provider",
            "missing",
            "Which provider: OpenAI (recommended), Anthropic, Azure OpenAI, Groq, Together AI, Mistral, "
            "or a self-hosted OpenAI-compatible server?",
            PROVIDERS,
            "openai",
        )
    if not intent.name:
        suggestion = f"{provider or 'openai'}-main"
        findings.ask(
            "name",
            "missing",
            f"What should the account be called: '{suggestion}' (recommended)?",
            [suggestion],
            suggestion,
        )
    elif not NAME_PATTERN.match(intent.name):
        fixed = re.sub(r"[^a-z0-9-]+", "-", intent.name.lower()).strip("-") or "provider-main"
        findings.ask(
            "name",
            "invalid",
            f"Account names use lowercase letters, digits and '-': use '{fixed}'?",
            [fixed],
            fixed,
        )
    if not intent.models:
        findings.ask("models", "missing", "Which models should the account offer (e.g. 'gpt-4o', 'gpt-4o-mini')?", [])
    _check_secret(intent, findings)
    if provider == "azure-openai" and not intent.azure_endpoint:
        findings.ask(
            "azure_endpoint",
            "missing",
            "What is the Azure OpenAI endpoint (https://<resource>.openai.azure.com)?",
            ["https://<resource>.openai.azure.com"],
        )
    for index, model in enumerate(intent.models or []):
        _check_model(provider, index, model, findings)


def _check_secret(intent: ProviderAccountIntent, findings: Findings) -> None:
    if intent.secret is None:
        if intent.provider == "self-hosted-model":
            findings.default("secret", None, "the self-hosted server is called without authentication")
            return
        findings.ask(
            "secret",
            "missing",
            f"Which stored secret holds the API key ({SECRET_EXAMPLE})? Keys are never written inline.",
            [SECRET_EXAMPLE],
        )
    elif not intent.secret.startswith(SECRET_PREFIX):
        # The value is deliberately not echoed: it may be a real key.
        findings.ask(
            "secret",
            "invalid",
            f"The secret must be a reference like {SECRET_EXAMPLE}, not a raw key. Which secret?",
            [SECRET_EXAMPLE],
        )


def _check_model(provider: str | None, index: int, model: ProviderModel, findings: Findings) -> None:
    path = f"models[{index}]"
    if model.model_types is None:
        findings.default(f"{path}.model_types", ["chat"], "served as a chat model")
    if model.model_id is None:
        findings.default(f"{path}.model_id", model.name, "the provider's model id equals the name")
    if provider == "azure-openai" and not model.api_version:
        findings.ask(
            f"{path}.api_version",
            "missing",
            f"Which Azure OpenAI API version for '{model.name}': '2024-10-21' (recommended)?",
            ["2024-10-21"],
            "2024-10-21",
        )
    if provider == "self-hosted-model":
        if not model.url:
            findings.ask(f"{path}.url", "missing", f"At which base URL is '{model.name}' served?", [])
        if model.model_server is None:
            findings.default(f"{path}.model_server", "openai-compatible", "the server speaks the OpenAI API")
        elif model.model_server not in MODEL_SERVERS:
            findings.ask(
                f"{path}.model_server",
                "invalid",
                f"Which server type: {', '.join(MODEL_SERVERS)}?",
                MODEL_SERVERS,
                MODEL_SERVERS[0],
            )


def provider_account_context(intent: ProviderAccountIntent) -> dict[str, Any]:
    models = []
    for model in intent.models or []:
        entry = model.model_dump()
        entry["model_id"] = model.model_id or model.name
        entry["model_types"] = model.model_types or ["chat"]
        entry["model_server"] = model.model_server or "openai-compatible"
        models.append(entry)
    return {
        "provider": intent.provider,
        "name": intent.name,
        "secret": intent.secret,
        "azure_endpoint": intent.azure_endpoint,
        "base_url": intent.base_url,
        "models": models,
    }
