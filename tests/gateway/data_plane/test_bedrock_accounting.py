"""Bedrock answers are charged like every other provider's: from Bedrock's own usage fields at the
catalog's Bedrock price when the answer is whole, estimated from what was sent when the stream was cut,
dropped or broken off by an exception frame."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.inprocess import InProcessGateway, running_gateway
from tests.helpers import eventually

PRICED = "anthropic.claude-3-5-sonnet-20240620-v1:0"  # catalog price: $0.003 in, $0.015 out per 1000
PROMPT = [{"role": "user", "content": "tell me a long story " * 10}]


def integration(name: str, model_id: str) -> dict[str, Any]:
    entry = {"type": "integration/model/bedrock", "name": name, "model_id": model_id, "model_types": ["chat"]}
    if "@" in model_id:  # the fake's knobs make the id unknown to the catalog: the same price, set explicitly
        entry["cost"] = {"metric": "per_1000_tokens", "value": {"input": 0.003, "output": 0.015}}
    return entry


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with running_gateway(tmp_path / "data") as running:
        await running.apply(
            {
                "name": "bedrock",
                "type": "provider-account/aws-bedrock",
                "region": "us-west-2",
                "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:bedrock:API_KEY"},
                "integrations": [
                    integration("sonnet", PRICED),
                    integration("cut", f"{PRICED}@tokens=50,cut_after=2"),
                    integration("dropped", f"{PRICED}@tokens=50,drop_after=10"),
                    integration("broken", f"{PRICED}@tokens=50,error_after=10"),
                ],
            }
        )
        yield running


async def stream(gateway: InProcessGateway, model: str) -> tuple[httpx.Response, list[str]]:
    body = {"model": model, "messages": PROMPT, "stream": True}
    lines: list[str] = []
    async with gateway.http.stream("POST", "/api/llm/chat/completions", json=body, headers=gateway.auth()) as response:
        lines.extend([line async for line in response.aiter_lines() if line])
    return response, lines


async def record_of(gateway: InProcessGateway, request_id: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        answer = await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())
        return next((r for r in answer.json()["data"] if r["id"] == request_id), None)

    return await eventually(find, f"the log record {request_id}", timeout=20)


def price(record: dict[str, Any]) -> float:
    return float(record["prompt_tokens"] * 0.003 / 1000 + record["completion_tokens"] * 0.015 / 1000)


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_whole_answer_is_charged_from_bedrocks_usage_at_the_bedrock_price(
    gateway: InProcessGateway, streamed: bool
) -> None:
    if streamed:
        response, lines = await stream(gateway, "bedrock/sonnet")
        assert lines[-1] == "data: [DONE]"
    else:
        body = {"model": "bedrock/sonnet", "messages": PROMPT}
        response = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
        assert response.status_code == 200
    record = await record_of(gateway, response.headers["x-tfy-request-id"])
    assert record["status"] == 200 and record["usage_estimated"] is False
    assert (record["prompt_tokens"], record["completion_tokens"]) == (53, 16)  # what the fake's usage said
    assert record["cost"] == pytest.approx(price(record))


@pytest.mark.parametrize(
    ("model", "says"),
    [
        ("bedrock/cut", "before it finished"),
        ("bedrock/dropped", "broke off the stream"),
        ("bedrock/broken", "injected stream error after 10 tokens"),
    ],
)
async def test_an_unfinished_stream_is_charged_for_what_was_sent(
    gateway: InProcessGateway, model: str, says: str
) -> None:
    response, lines = await stream(gateway, model)
    assert response.status_code == 200
    assert "data: [DONE]" not in lines and '"error"' in lines[-1] and says in lines[-1]
    record = await record_of(gateway, response.headers["x-tfy-request-id"])
    assert record["status"] >= 400 and record["usage_estimated"] is True
    assert record["completion_tokens"] >= 2 and record["cost"] == pytest.approx(price(record)) and record["cost"] > 0
