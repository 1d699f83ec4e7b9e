"""The openai SDK through the gateway against AWS Bedrock accounts answered by the fake provider in
Bedrock's own wire format (Converse JSON, ConverseStream event-stream frames), in process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway.inprocess import GATEWAY_URL, InProcessGateway, running_gateway

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def bedrock_account(name: str, auth: dict[str, Any], model_id: str = MODEL_ID, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "provider-account/aws-bedrock",
        "region": "us-east-1",
        "auth_data": auth,
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            {"type": "integration/model/bedrock", "name": "claude", "model_id": model_id, "model_types": ["chat"]}
        ],
        **extra,
    }


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with running_gateway(tmp_path / "data") as running:
        await running.apply(bedrock_account("bedrock-key", {"type": "api-key", "api_key": "bedrock-api-key-0123"}))
        keys = {
            "type": "access-key-based",
            "access_key_id": "AKIDEXAMPLE",
            "secret_access_key": "wJalrXUtnFEMI/K7MDENG",
        }
        await running.apply(bedrock_account("bedrock-sigv4", keys))
        yield running


def sdk(gateway: InProcessGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=GATEWAY_URL + "/api/llm", api_key=gateway.token, max_retries=0, http_client=gateway.client()
    )


def bedrock_requests(gateway: InProcessGateway) -> list[dict[str, Any]]:
    return [r for r in gateway.provider_requests() if r["path"].startswith("/model/")]


@pytest.mark.parametrize("account", ["bedrock-key", "bedrock-sigv4"])
async def test_plain_chat_with_system_prompt_and_usage(gateway: InProcessGateway, account: str) -> None:
    messages: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]
    raw = await sdk(gateway).chat.completions.with_raw_response.create(
        model=f"{account}/claude", messages=messages, max_tokens=5
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == "Fake reply from anthropic.claude-3-5-sonnet-20240620-v1:0: hello"
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 5
    assert answer.usage.prompt_tokens == 5  # ceil(len("Be brief." + "hello there") / 4)
    assert float(raw.headers["x-tfy-cost"]) > 0  # priced from the catalog's Bedrock prices
    sent = bedrock_requests(gateway)[-1]
    assert sent["path"] == f"/model/{MODEL_ID}/converse"
    assert sent["body"]["system"] == [{"text": "Be brief."}]
    assert sent["body"]["inferenceConfig"] == {"maxTokens": 5}
    assert ("x-amz-date" in sent["headers"]) == (account == "bedrock-sigv4")  # signed by SigV4


async def test_streamed_chat_with_usage(gateway: InProcessGateway) -> None:
    stream = await sdk(gateway).chat.completions.create(
        model="bedrock-key/claude",
        messages=[{"role": "user", "content": "stream please"}],
        max_tokens=7,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Fake reply from anthropic.claude-3-5-sonnet-20240620-v1:0: stream please lorem"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    assert bedrock_requests(gateway)[-1]["path"].endswith("/converse-stream")


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_and_their_results(gateway: InProcessGateway, stream: bool) -> None:
    client = sdk(gateway)
    ask: Any = [{"role": "user", "content": "what is the weather in Paris?"}]
    options: Any = {"model": "bedrock-sigv4/claude", "tools": [WEATHER_TOOL], "tool_choice": "required"}
    if stream:
        calls: dict[int, dict[str, str]] = {}
        finish = None
        async for chunk in await client.chat.completions.create(messages=ask, stream=True, **options):
            for call in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                entry["name"] += (call.function.name or "") if call.function else ""
                entry["arguments"] += (call.function.arguments or "") if call.function else ""
            finish = (chunk.choices[0].finish_reason if chunk.choices else None) or finish
        assert finish == "tool_calls" and list(calls) == [0]
        call_id, name, arguments = calls[0]["id"], calls[0]["name"], calls[0]["arguments"]
    else:
        answer = await client.chat.completions.create(messages=ask, **options)
        assert answer.choices[0].finish_reason == "tool_calls"
        tool_call: Any = answer.choices[0].message.tool_calls[0]  # type: ignore[index]
        call_id, name, arguments = tool_call.id, tool_call.function.name, tool_call.function.arguments
    assert name == "get_weather" and json.loads(arguments) == {"city": "fake-city"}
    assert call_id.startswith("tooluse_")
    follow_up: Any = [
        *ask,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "sunny"},
    ]
    answer = await client.chat.completions.create(
        model="bedrock-sigv4/claude", messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    sent = bedrock_requests(gateway)[-1]["body"]["messages"]
    assert [turn["role"] for turn in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == [{"toolUse": {"toolUseId": call_id, "name": name, "input": {"city": "fake-city"}}}]
    assert sent[2]["content"] == [{"toolResult": {"toolUseId": call_id, "content": [{"text": "sunny"}]}}]


async def test_bedrock_error_reaches_the_client_in_the_envelope(gateway: InProcessGateway) -> None:
    await gateway.apply(bedrock_account("bedrock-busy", {"type": "api-key", "api_key": "k"}, "fake@status=429"))
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk(gateway).chat.completions.create(
            model="bedrock-busy/claude", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 429
    assert "fake provider: injected error (status 429)" in caught.value.message
    envelope = caught.value.response.json()
    assert envelope["status"] == "failure" and envelope["error_origin_level"] == "api_error"
    assert "fake provider: injected error (status 429)" in envelope["error"]["message"]
    assert envelope["error"]["type"] == "rate_limit_error"  # from the ThrottlingException the fake sent


async def test_an_exception_frame_mid_stream_ends_the_stream_with_the_providers_message(
    gateway: InProcessGateway,
) -> None:
    await gateway.apply(bedrock_account("bedrock-flaky", {"type": "api-key", "api_key": "k"}, "fake@error_after=3"))
    response = await gateway.http.post(
        "/api/llm/chat/completions",
        json={"model": "bedrock-flaky/claude", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers=gateway.auth(),
    )
    assert response.status_code == 200
    assert "injected stream error after 3 tokens" in response.text
    assert "data: [DONE]" not in response.text


@pytest.mark.parametrize(("status", "falls_back"), [(429, True), (503, True), (400, False)])
async def test_fallback_follows_the_bedrock_errors_status(
    gateway: InProcessGateway, status: int, falls_back: bool
) -> None:
    await gateway.apply(bedrock_account("bedrock-down", {"type": "api-key", "api_key": "k"}, f"fake@status={status}"))
    await gateway.apply(
        {
            "name": "bedrock-fallback",
            "type": "gateway-load-balancing-config",
            "rules": [
                {
                    "id": "bedrock",
                    "type": "priority-based-routing",
                    "when": {"models": ["bedrock-down/claude"]},
                    "load_balance_targets": [
                        {"target": "bedrock-down/claude", "priority": 0},
                        {"target": "bedrock-key/claude", "priority": 1},
                    ],
                }
            ],
        }
    )
    response = await gateway.http.post(
        "/api/llm/chat/completions",
        json={"model": "bedrock-down/claude", "messages": [{"role": "user", "content": "hi"}]},
        headers=gateway.auth(),
    )
    if falls_back:
        assert response.status_code == 200 and response.headers["x-tfy-resolved-model"] == "bedrock-key/claude"
    else:
        assert response.status_code == 400
        assert f"injected error (status {status})" in response.json()["error"]["message"]


async def test_assumed_role_accounts_apply_but_their_models_say_why_they_cannot_answer(
    gateway: InProcessGateway,
) -> None:
    role = {"type": "assumed-role-based", "assumed_role_arn": "arn:aws:iam::123456789012:role/bedrock"}
    await gateway.apply(bedrock_account("bedrock-role", role))
    response = await gateway.http.post(
        "/api/llm/chat/completions",
        json={"model": "bedrock-role/claude", "messages": [{"role": "user", "content": "hi"}]},
        headers=gateway.auth(),
    )
    assert response.status_code >= 500
    message = response.json()["error"]["message"]
    assert "assumed-role-based" in message and "STS" in message and "access-key-based" in message
