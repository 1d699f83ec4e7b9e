"""`/responses` against an AWS Bedrock account (the fake provider in Bedrock's Converse wire format),
translated to chat and back like every wire format without a Responses API: plain, streamed (the
SDK's accumulation) and a function tool round trip, with the usage and its catalog price in the
request log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway.data_plane.test_responses import TOOLS
from tests.gateway.inprocess import GATEWAY_URL, InProcessGateway, running_gateway

MODEL = "bedrock-key/claude"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with running_gateway(tmp_path / "data") as running:
        await running.apply(
            {
                "name": "bedrock-key",
                "type": "provider-account/aws-bedrock",
                "region": "us-east-1",
                "auth_data": {"type": "api-key", "api_key": "bedrock-api-key-0123"},
                "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
                "integrations": [
                    {
                        "type": "integration/model/bedrock",
                        "name": "claude",
                        "model_id": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                        "model_types": ["chat"],
                    }
                ],
            }
        )
        yield running


def sdk(gateway: InProcessGateway) -> openai.AsyncOpenAI:
    http = gateway.client()
    return openai.AsyncOpenAI(base_url=GATEWAY_URL + "/api/llm", api_key=gateway.token, max_retries=0, http_client=http)


async def last_log(gateway: InProcessGateway) -> dict[str, Any]:
    response = await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())
    record: dict[str, Any] = response.json()["data"][0]
    return record


async def test_plain_and_streamed_responses_from_bedrock(gateway: InProcessGateway) -> None:
    client = sdk(gateway)
    plain = await client.responses.create(model=MODEL, input="hello there", instructions="Be brief.")
    assert plain.status == "completed" and plain.output_text
    assert plain.usage is not None and plain.usage.output_tokens > 0
    assert "/converse" in gateway.provider_requests()[-1]["path"]
    record = await last_log(gateway)
    assert record["endpoint"] == "responses" and record["completion_tokens"] == plain.usage.output_tokens
    price = {"input": 0.003, "output": 0.015}  # the catalog's, per 1000 tokens of this model on Bedrock
    cost = (record["prompt_tokens"] * price["input"] + record["completion_tokens"] * price["output"]) / 1000
    assert record["cost"] == pytest.approx(cost) and cost > 0
    deltas: list[str] = []
    async with client.responses.stream(model=MODEL, input="stream this") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = await stream.get_final_response()
    assert final.status == "completed" and final.output_text == "".join(deltas) != ""
    assert "/converse-stream" in gateway.provider_requests()[-1]["path"]
    record = await last_log(gateway)
    assert record["stream"] and not record["usage_estimated"]
    assert final.usage is not None and record["completion_tokens"] == final.usage.output_tokens


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_a_function_tool_round_trip_with_bedrock(gateway: InProcessGateway, stream: bool) -> None:
    client = sdk(gateway)
    question: list[Any] = [{"role": "user", "content": "What is the weather? Use get_weather."}]
    if stream:
        async with client.responses.stream(model=MODEL, input=question, tools=TOOLS) as events:
            async for _ in events:
                pass
            first = await events.get_final_response()
    else:
        first = await client.responses.create(model=MODEL, input=question, tools=TOOLS)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert isinstance(json.loads(calls[0].arguments), dict)
    follow_up: list[Any] = [
        *question,
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"},
    ]
    second = await client.responses.create(model=MODEL, input=follow_up, tools=TOOLS)
    assert second.status == "completed" and second.output_text
    assert "sunny, 21 C" in json.dumps(gateway.provider_requests()[-1]["body"])
