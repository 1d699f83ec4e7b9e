"""The fake provider's Anthropic Messages and Azure OpenAI endpoints (headers, events, errors)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

ANTHROPIC_HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
WEATHER = {
    "name": "get_weather",
    "description": "weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def messages_body(**extra: object) -> dict[str, object]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hello"}],
        **extra,
    }


def parse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_anthropic_requires_key_and_version_with_anthropic_errors(http: httpx.Client) -> None:
    no_key = http.post("/v1/messages", json=messages_body(), headers={"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401
    assert no_key.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "x-api-key header is required"},
    }
    no_version = http.post("/v1/messages", json=messages_body(), headers={"x-api-key": "k"})
    assert no_version.status_code == 400
    assert no_version.json()["error"]["type"] == "invalid_request_error"
    no_max = http.post(
        "/v1/messages", json={"model": "c", "messages": [{"role": "user", "content": "x"}]}, headers=ANTHROPIC_HEADERS
    )
    assert no_max.status_code == 400 and "max_tokens" in no_max.json()["error"]["message"]


def test_anthropic_message_with_usage(http: httpx.Client) -> None:
    message = http.post("/v1/messages", json=messages_body(system="be brief"), headers=ANTHROPIC_HEADERS).json()
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"][0]["text"].startswith("Fake reply from claude-sonnet-4-5: hello")
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] == 4  # ceil(len("be brief" + "hello") / 4)
    assert message["usage"]["output_tokens"] == 16


def test_anthropic_stream_has_the_real_event_sequence(http: httpx.Client) -> None:
    text = http.post("/v1/messages", json=messages_body(stream=True, max_tokens=3), headers=ANTHROPIC_HEADERS).text
    events = parse_events(text)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["usage"]["input_tokens"] == 2
    assert events[-2][1]["usage"] == {"output_tokens": 3}
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_anthropic_tool_use_blocks(http: httpx.Client) -> None:
    body = messages_body(tools=[WEATHER], tool_choice={"type": "any"})
    message = http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS).json()
    assert message["stop_reason"] == "tool_use"
    assert [b["type"] for b in message["content"]] == ["text", "tool_use"]
    assert message["content"][1]["input"] == {"city": "fake-city"}
    streamed = parse_events(http.post("/v1/messages", json={**body, "stream": True}, headers=ANTHROPIC_HEADERS).text)
    partial = "".join(
        d["delta"]["partial_json"]
        for n, d in streamed
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"city": "fake-city"}
    after_result = messages_body(
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "use get_weather"},
            {"role": "assistant", "content": message["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": message["content"][1]["id"], "content": "sunny"}],
            },
        ],
    )
    final = http.post("/v1/messages", json=after_result, headers=ANTHROPIC_HEADERS).json()
    assert final["stop_reason"] == "end_turn"


def test_anthropic_injected_error_format(http: httpx.Client) -> None:
    response = http.post("/v1/messages", json=messages_body(model="c@status=529"), headers=ANTHROPIC_HEADERS)
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"


def test_azure_needs_api_version_and_api_key(http: httpx.Client) -> None:
    path = "/openai/deployments/dep/chat/completions"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert http.post(path, json=body, headers={"api-key": "k"}).status_code == 404
    no_key = http.post(path, params={"api-version": "2024-10-21"}, json=body)
    assert no_key.status_code == 401
    assert set(no_key.json()["error"]) == {"code", "message"}
    ok = http.post(path, params={"api-version": "2024-10-21"}, json=body, headers={"api-key": "k"}).json()
    assert ok["model"] == "dep"


def test_azure_with_the_openai_sdk(fake_url: str) -> None:
    client: Any = openai.AzureOpenAI(
        azure_endpoint=fake_url, api_key="azure-key", api_version="2024-10-21", max_retries=0
    )
    reply = client.chat.completions.create(model="gpt-4o-deployment", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content.startswith("Fake reply from gpt-4o-deployment:")
    vectors = client.embeddings.create(model="embed-deployment", input=["a", "b"], dimensions=4)
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 4


def test_anthropic_models_list_format(http: httpx.Client) -> None:
    listed = http.get("/v1/models", headers=ANTHROPIC_HEADERS).json()
    assert listed["has_more"] is False and listed["data"][0]["type"] == "model"
