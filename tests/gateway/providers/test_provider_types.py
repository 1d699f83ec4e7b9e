"""Item 4 of issue 23: every model-provider account type of the platform SDK is accounted for; the
OpenAI-compatible ones apply in the SDK's own shape and answer through the OpenAI-compatible
translator (chat plain, streamed and with a tool, checked against OpenAI's spec), and the others say
why they cannot be called."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import openai
import pytest
from truefoundry_sdk.types.model_provider_account import ModelProviderAccount

from tests.gateway.conformance.openapi import conform
from tests.gateway.data_plane.conftest import EVERYONE
from tests.gateway.inprocess import running_gateway
from tfy_gateway.gateway.providers.base import UpstreamTarget
from tfy_gateway.gateway.providers.openai_compatible import url_for
from tfy_gateway.gateway.providers.provider_types import NOT_CALLABLE
from tfy_gateway.gateway.providers.targets import PROVIDERS

OTHER_BRANCHES = {"aws-bedrock", "google-vertex"}  # native translators land from their own branches
KEY = {"type": "api-key", "api_key": "tfy-secret://local:none:API_KEY"}
COMPATIBLE = {
    "groq": {},
    "together-ai": {},
    "mistral-ai": {},
    "cohere": {},
    "deepinfra": {},
    "perplexity-ai": {},
    "xai": {},
    "cerebras": {},
    "sambanova": {},
    "openrouter": {},
    "ollama": {},
    "ai21": {},
    "baseten": {},
    "databricks": {"base_url": "https://adb-1.azuredatabricks.net"},
}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def sdk_types() -> set[str]:
    return {
        cls.model_fields["type"].default.removeprefix("provider-account/")
        for cls in typing.get_args(ModelProviderAccount)
    }


def manifest(kind: str) -> dict[str, Any]:
    """A provider account as the platform SDK shapes it (validated by the SDK's own model below)."""
    integration = {"type": f"integration/model/{kind}", "name": "m", "model_id": "some-model", "model_types": ["chat"]}
    return {
        "name": f"{kind}-acct",
        "type": f"provider-account/{kind}",
        "auth_data": {"custom_host": "http://ollama.internal:11434"} if kind == "ollama" else KEY,
        "integrations": [integration],
        "collaborators": EVERYONE,
        **COMPATIBLE.get(kind, {}),
    }


def test_every_sdk_type_is_called_refused_with_a_reason_or_owned_elsewhere() -> None:
    unaccounted = sdk_types() - PROVIDERS.keys() - NOT_CALLABLE.keys() - OTHER_BRANCHES - {"virtual-model"}
    assert unaccounted == set(), "a new provider-account type in the SDK: call it or say why not"
    assert set(COMPATIBLE) <= PROVIDERS.keys() and set(COMPATIBLE) <= sdk_types()
    assert not PROVIDERS.keys() & NOT_CALLABLE.keys()


@pytest.mark.parametrize("kind", sorted(COMPATIBLE))
def test_the_sdk_accepts_the_manifests_used_here(kind: str) -> None:
    typed = {cls.model_fields["type"].default: cls for cls in typing.get_args(ModelProviderAccount)}
    typed[f"provider-account/{kind}"].model_validate(manifest(kind))


async def test_openai_compatible_types_answer_through_the_gateway(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        for kind in COMPATIBLE:
            await gateway.apply(manifest(kind))
        async with openai.AsyncOpenAI(
            base_url=gateway.client().base_url.join("/api/llm"), api_key=gateway.token, http_client=gateway.client()
        ) as sdk:
            for kind in COMPATIBLE:
                model = f"{kind}-acct/m"
                messages = [{"role": "user", "content": "hi"}]
                answer = await sdk.chat.completions.with_raw_response.create(model=model, messages=messages)
                conform(answer.http_response.json(), "CreateChatCompletionResponse")
                assert answer.http_response.headers["x-tfy-resolved-model"] == model
                streamed = await sdk.chat.completions.create(model=model, messages=messages, stream=True)
                text = "".join([chunk.choices[0].delta.content or "" async for chunk in streamed if chunk.choices])
                assert text.startswith("Fake reply from some-model")
                called = await sdk.chat.completions.create(
                    model=model, messages=messages, tools=[WEATHER], tool_choice="required"
                )
                assert called.choices[0].message.tool_calls[0].function.name == "get_weather"
        sent = [r for r in gateway.provider_requests() if r["path"] == "/v1/chat/completions"]
        assert len(sent) == 3 * len(COMPATIBLE)
        keyed = [r for r in sent if "authorization" in r["headers"]]
        assert len(keyed) == 3 * (len(COMPATIBLE) - 1)  # a bearer key went to all but Ollama (none in its auth)


async def test_a_type_that_cannot_be_called_says_why(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        await gateway.apply(
            manifest("nomic")
            | {
                "integrations": [
                    {
                        "type": "integration/model/nomic",
                        "name": "m",
                        "model_id": "nomic-embed-text-v1.5",
                        "model_types": ["embedding"],
                    }
                ]
            }
        )
        response = await gateway.http.post(
            "/api/llm/embeddings", json={"model": "nomic-acct/m", "input": "x"}, headers=gateway.auth()
        )
    assert response.status_code == 500, response.text
    assert "not OpenAI-compatible" in response.json()["message"]


def test_databricks_and_cohere_addresses() -> None:
    databricks = UpstreamTarget("openai", "databricks", "https://adb-1.azuredatabricks.net/serving-endpoints", "m")
    assert url_for(databricks, "chat") == "https://adb-1.azuredatabricks.net/serving-endpoints/chat/completions"
    cohere = UpstreamTarget("openai", "cohere", PROVIDERS["cohere"].base_url or "", "rerank-v3.5")
    assert url_for(cohere, "chat") == "https://api.cohere.ai/compatibility/v1/chat/completions"
    assert url_for(cohere, "rerank") == "https://api.cohere.ai/v2/rerank"
