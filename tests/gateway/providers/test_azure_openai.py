"""The Azure OpenAI adapter: deployment URL, api-version, api-key header (fake provider and MemoryTransport)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.gateway.providers.conftest import SECRET_KEY, azure_target, json_reply, recorded
from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    MemoryTransport,
    UnsupportedEndpoint,
    UpstreamError,
    UpstreamResponse,
    UpstreamStream,
    call,
)
from tfy_gateway.gateway.providers.azure_openai import url_for

CHAT: dict[str, Any] = {"model": "azure-backup/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


async def test_chat_uses_deployment_url_version_and_key(transport: AiohttpTransport, fake_url: str) -> None:
    result = await call(transport, azure_target(fake_url), "chat", CHAT)
    assert isinstance(result, UpstreamResponse) and result.body is not None
    assert result.body["model"] == "gpt-4o-deployment" and result.usage.completion_tokens == 16
    seen = recorded(fake_url)[-1]
    assert seen["path"] == "/openai/deployments/gpt-4o-deployment/chat/completions"
    assert seen["query"] == {"api-version": "2024-10-21"}
    assert seen["headers"]["api-key"] == "sha256:" + hashlib.sha256(SECRET_KEY.encode()).hexdigest()[:12]
    assert "authorization" not in seen["headers"]


async def test_stream_and_embeddings(transport: AiohttpTransport, fake_url: str) -> None:
    stream = await call(transport, azure_target(fake_url), "chat", {**CHAT, "stream": True})
    assert isinstance(stream, UpstreamStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    assert chunks[-1] == b"data: [DONE]\n\n"
    assert all(json.loads(c[6:])["choices"] for c in chunks[:-1])
    assert stream.usage is not None and stream.usage.completion_tokens == 16
    vectors = await call(
        transport, azure_target(fake_url, "embed"), "embeddings", {"input": ["a", "b"], "dimensions": 3}
    )
    assert isinstance(vectors, UpstreamResponse) and vectors.body is not None
    assert [len(d["embedding"]) for d in vectors.body["data"]] == [3, 3]
    assert recorded(fake_url)[-1]["path"] == "/openai/deployments/embed/embeddings"


async def test_errors_in_azure_format_and_unsupported(transport: AiohttpTransport, fake_url: str) -> None:
    with pytest.raises(UpstreamError) as failed:
        await call(transport, azure_target(fake_url, "dep@status=503"), "chat", CHAT)
    assert failed.value.status == 503 and failed.value.provider == "azure-openai"
    assert "injected error" in failed.value.message
    with pytest.raises(UnsupportedEndpoint):
        await call(transport, azure_target(fake_url), "rerank", {"query": "q", "documents": []})
    with pytest.raises(UpstreamError) as no_key:
        await call(transport, azure_target(fake_url, auth_headers={}), "chat", CHAT)
    assert no_key.value.status == 401


def test_url_building_is_pure_and_quotes() -> None:
    target = azure_target("https://res.openai.azure.com/", "my deployment", api_version="2024-10-21&x=1")
    assert url_for(target, "transcriptions") == (
        "https://res.openai.azure.com/openai/deployments/my%20deployment/audio/transcriptions"
        "?api-version=2024-10-21%26x%3D1"
    )
    with pytest.raises(UnsupportedEndpoint, match="no 'moderations' endpoint"):
        url_for(target, "moderations")
    with pytest.raises(UnsupportedEndpoint, match="needs an api_version"):
        url_for(azure_target("https://res", api_version=None), "chat")


async def test_memory_request_uses_deployment_url_and_api_key() -> None:
    reply = {"object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    transport = MemoryTransport(lambda request: json_reply(200, reply))
    result = await call(transport, azure_target("https://res.openai.azure.com"), "chat", CHAT)
    assert isinstance(result, UpstreamResponse) and result.usage.total_tokens == 3
    (sent,) = transport.requests
    assert sent.url == (
        "https://res.openai.azure.com/openai/deployments/gpt-4o-deployment/chat/completions?api-version=2024-10-21"
    )
    assert sent.headers["api-key"] == SECRET_KEY and "authorization" not in sent.headers
    assert json.loads(sent.body)["model"] == "gpt-4o-deployment"
