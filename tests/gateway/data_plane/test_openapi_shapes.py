"""Every response shape the gateway produces validates against OpenAI's published OpenAPI schemas
(tests/gateway/conformance): chat (plain, streamed, with tools; n, logprobs, response_format) through
the OpenAI-compatible and the Anthropic translators, completions, embeddings, moderations, images,
transcriptions, models, and error bodies, streamed error events included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.gateway.conformance.openapi import conform
from tests.gateway.data_plane.conftest import EVERYONE, SECRET, DataPlane
from tests.gateway.data_plane.test_bedrock_sdk import bedrock_account
from tests.gateway.data_plane.test_google_providers import gemini_account
from tests.gateway.inprocess import running_gateway

HI = [{"role": "user", "content": "hello there"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CHAT_MODELS = ("fake/gpt-4o", "claude/sonnet", "azure/gpt-4o")
AZURE = {
    "name": "azure",
    "type": "provider-account/azure-openai",
    "azure_endpoint": "http://fake-provider.test",
    "auth_data": {"type": "api-key", "api_key": SECRET},
    "collaborators": EVERYONE,
    "integrations": [
        {
            "type": "integration/model/azure-openai",
            "name": "gpt-4o",
            "model_id": "gpt-4o-deployment",
            "api_version": "2024-10-21",
            "model_types": ["chat"],
        }
    ],
}


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON events of an SSE body, in order, without the final [DONE] (asserted present)."""
    assert response.status_code == 200, response.text
    payloads = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    return [orjson.loads(payload) for payload in payloads[:-1]]


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("model", CHAT_MODELS)
@pytest.mark.parametrize("tools", [False, True])
async def test_chat_answers_and_chunks(dp: DataPlane, model: str, tools: bool) -> None:
    await dp.apply(AZURE)
    extra: dict[str, Any] = {"tools": [WEATHER], "tool_choice": "required"} if tools else {}
    body = {"model": model, "messages": HI, "max_tokens": 5, **extra}
    answer = await ok(await dp.post("chat/completions", body))
    conform(answer, "CreateChatCompletionResponse")
    assert bool(answer["choices"][0]["message"].get("tool_calls")) is tools
    for include_usage in (False, True):
        streamed = await dp.post(
            "chat/completions", {**body, "stream": True, "stream_options": {"include_usage": include_usage}}
        )
        chunks = events(streamed)
        for chunk in chunks:
            conform(chunk, "CreateChatCompletionStreamResponse")
        with_usage = [chunk for chunk in chunks if "usage" in chunk]
        if include_usage:  # OpenAI: `usage: null` on every chunk, the numbers on the last one
            assert with_usage == chunks and chunks[-1]["usage"]["completion_tokens"] > 0
        else:
            assert with_usage == [], "usage in a chunk the client did not ask usage for"


async def test_chat_n_logprobs_and_json_answers(dp: DataPlane) -> None:
    body: dict[str, Any] = {"model": "fake/gpt-4o", "messages": HI, "max_tokens": 4}
    several = await ok(await dp.post("chat/completions", {**body, "n": 3}))
    conform(several, "CreateChatCompletionResponse")
    assert [choice["index"] for choice in several["choices"]] == [0, 1, 2]
    assert several["usage"]["completion_tokens"] == 12
    chunks = events(await dp.post("chat/completions", {**body, "n": 2, "stream": True}))
    assert {choice["index"] for chunk in chunks for choice in chunk["choices"]} == {0, 1}
    for chunk in chunks:
        conform(chunk, "CreateChatCompletionStreamResponse")
    scored = await ok(await dp.post("chat/completions", {**body, "logprobs": True, "top_logprobs": 2}))
    conform(scored, "CreateChatCompletionResponse")
    content = scored["choices"][0]["logprobs"]["content"]
    assert len(content) == 4 and all(len(token["top_logprobs"]) == 2 for token in content)
    for chunk in events(await dp.post("chat/completions", {**body, "logprobs": True, "stream": True})):
        conform(chunk, "CreateChatCompletionStreamResponse")
    as_json = await ok(await dp.post("chat/completions", {**body, "response_format": {"type": "json_object"}}))
    assert isinstance(orjson.loads(as_json["choices"][0]["message"]["content"]), dict)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    shaped = await ok(
        await dp.post(
            "chat/completions",
            {**body, "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}},
        )
    )
    assert isinstance(orjson.loads(shaped["choices"][0]["message"]["content"])["city"], str)


async def test_completions(dp: DataPlane) -> None:
    body = {"model": "fake/gpt-4o", "prompt": "once upon", "max_tokens": 3}
    conform(await ok(await dp.post("completions", body)), "CreateCompletionResponse")
    chunks = events(await dp.post("completions", {**body, "stream": True}))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    for chunk in chunks:
        # The spec gives stream chunks the answer's schema, whose finish_reason is not nullable, while
        # the API sends null until the last chunk (as the gateway does): that one field is exempt.
        choices = [{**choice, "finish_reason": choice["finish_reason"] or "stop"} for choice in chunk["choices"]]
        conform({**chunk, "choices": choices}, "CreateCompletionResponse")


async def test_embeddings_moderations_images_transcriptions(dp: DataPlane) -> None:
    embedded = await ok(await dp.post("embeddings", {"model": "fake/embed", "input": ["a", "b"]}))
    conform(embedded, "CreateEmbeddingResponse")
    moderated = await ok(await dp.post("moderations", {"model": "fake/media", "input": ["fine", "unsafe words"]}))
    conform(moderated, "CreateModerationResponse")
    assert [result["flagged"] for result in moderated["results"]] == [False, True]
    image = await ok(await dp.post("images/generations", {"model": "fake/media", "prompt": "a cat"}))
    conform(image, "ImagesResponse")
    transcript = await dp.http.post(
        f"{dp.base}/audio/transcriptions",
        headers=dp.auth(),
        data={"model": "fake/media"},
        files={"file": ("a.wav", b"RIFF....WAVEfmt ", "audio/wav")},
    )
    conform(await ok(transcript), "CreateTranscriptionResponseJson")
    verbose = await dp.http.post(
        f"{dp.base}/audio/transcriptions",
        headers=dp.auth(),
        data={"model": "fake/media", "response_format": "verbose_json"},
        files={"file": ("a.wav", b"RIFF....WAVEfmt ", "audio/wav")},
    )
    conform(await ok(verbose), "CreateTranscriptionResponseVerboseJson")


async def test_a_stream_that_fails_midway_ends_with_an_error_event(dp: DataPlane) -> None:
    body = {"model": "fake/gpt-4o", "messages": HI, "stream": True}
    await dp.apply(
        {
            "name": "cut",
            "type": "provider-account/openai",
            "base_url": "http://fake-provider.test/v1",
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
            "integrations": [
                {
                    "type": "integration/model/openai",
                    "name": "m",
                    "model_id": "gpt-4o@cut_after=2",
                    "model_types": ["chat"],
                }
            ],
        }
    )
    response = await dp.post("chat/completions", {**body, "model": "cut/m"})
    assert response.status_code == 200
    payloads = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    failure = orjson.loads(payloads[-1])
    conform(failure, "ErrorResponse")
    assert failure["error"]["code"] == "upstream_error"


async def test_requests_openai_accepts_are_not_refused(dp: DataPlane) -> None:
    """Moderations without `model` (OpenAI picks its own: here the caller's first moderation model)
    and completions with `prompt: null` (OpenAI's default, the end-of-text token)."""
    moderated = await dp.post("moderations", {"input": "hello"})
    conform(await ok(moderated), "CreateModerationResponse")
    assert moderated.headers["x-tfy-resolved-model"] == "fake/media"
    completed = await ok(await dp.post("completions", {"model": "fake/gpt-4o", "prompt": None, "max_tokens": 2}))
    conform(completed, "CreateCompletionResponse")


async def test_streamed_images_and_transcriptions(dp: DataPlane) -> None:
    """`stream` on images and transcriptions is OpenAI's (typed events, the last with usage), not refused."""
    raw = await dp.post(
        "images/generations", {"model": "fake/media", "prompt": "a cat", "stream": True, "partial_images": 2}
    )
    assert raw.status_code == 200, raw.text
    payloads = [orjson.loads(line[6:]) for line in raw.text.split("\n") if line.startswith("data: ")]
    assert [p["type"] for p in payloads] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    for payload in payloads:
        conform(payload, "ImageGenStreamEvent")
    sdk = openai.AsyncOpenAI(base_url=dp.base, api_key=dp.token, max_retries=0, http_client=dp.http)
    stream = await sdk.images.generate(model="fake/media", prompt="a cat", stream=True, partial_images=1)
    events = [event async for event in stream]
    assert events[-1].type == "image_generation.completed" and events[-1].usage.input_tokens > 0
    transcript = await sdk.audio.transcriptions.create(
        model="fake/media", file=("a.wav", b"RIFF....WAVEfmt ", "audio/wav"), stream=True
    )
    parts = [event async for event in transcript]
    for part in parts:
        conform(part.model_dump(exclude_none=True), "CreateTranscriptionResponseStreamEvent")
    assert parts[-1].type == "transcript.text.done"
    assert "".join(p.delta for p in parts if p.type == "transcript.text.delta") == parts[-1].text
    record = await dp.log_record(raw)
    assert record["completion_tokens"] == 272  # the completed event's usage is what is counted


async def test_bedrock_and_gemini_translators_answer_in_the_specs_shapes(tmp_path: Path) -> None:
    """The Bedrock (Converse) and Gemini (generateContent) translators, offline on the fake provider."""
    async with running_gateway(tmp_path / "data") as gateway:
        await gateway.apply(bedrock_account("bedrock-key", {"type": "api-key", "api_key": "bedrock-api-key-0123"}))
        await gateway.apply(gemini_account())
        for model in ("bedrock-key/claude", "gemini-main/flash"):
            for extra in ({}, {"tools": [WEATHER], "tool_choice": "required"}):
                body = {"model": model, "messages": HI, "max_tokens": 5, **extra}
                answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
                conform(await ok(answer), "CreateChatCompletionResponse")
                for include_usage in (False, True):
                    streamed = await gateway.http.post(
                        "/api/llm/chat/completions",
                        json={**body, "stream": True, "stream_options": {"include_usage": include_usage}},
                        headers=gateway.auth(),
                    )
                    chunks = events(streamed)
                    for chunk in chunks:
                        conform(chunk, "CreateChatCompletionStreamResponse")
                    assert any(chunk.get("usage") for chunk in chunks) is include_usage, model
        failed = await gateway.http.post(
            "/api/llm/chat/completions",
            json={"model": "gemini-main/broken", "messages": HI},
            headers=gateway.auth(),
        )
        assert failed.status_code == 429
        conform(failed.json(), "ErrorResponse")
