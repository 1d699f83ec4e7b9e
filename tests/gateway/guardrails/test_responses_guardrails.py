"""Guardrails on `/responses`, as on chat: input checks read `instructions` and the input items' text;
output checks (and rewrites) read the message items, non-streamed and streamed (a held stream's
deltas, `.done` events and final Response all carry the rewritten text), for a passed-through and a
translated target alike. Driven with the openai SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.gateway.guardrails.test_stage_inprocess import PII, REDACT, apply, config, group, logs, rule
from tests.gateway.inprocess import GATEWAY_URL, InProcessGateway, running_gateway

EMAIL = "alice@example.com"
MODELS = ["openai-main/gpt-4o", "anthropic-main/claude-sonnet"]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with running_gateway(tmp_path / "data", watch_interval_s=0) as running:
        assert (await apply(running, group(PII, REDACT))).status_code == 200
        inputs = rule("block-pii", ["guards/pii"], when={"metadata": {"check": "input"}})
        outputs = rule("redact-out", [], ["guards/redact"], when={"metadata": {"check": "output"}})
        assert (await apply(running, config(inputs, outputs))).status_code == 200
        yield running


def client(gateway: InProcessGateway, check: str) -> openai.AsyncOpenAI:
    headers = {"x-tfy-metadata": f'{{"check": "{check}"}}'}
    http = gateway.client(headers=headers)
    return openai.AsyncOpenAI(base_url=GATEWAY_URL + "/api/llm", api_key=gateway.token, max_retries=0, http_client=http)


@pytest.mark.parametrize("model", MODELS)
async def test_an_input_guardrail_blocks_text_in_instructions_and_input_items(
    gateway: InProcessGateway, model: str
) -> None:
    sdk = client(gateway, "input")
    before = gateway.provider_stats()["requests"]
    with pytest.raises(openai.BadRequestError):
        await sdk.responses.create(model=model, input="hello", instructions=f"Reply to {EMAIL}.")
    items = [{"role": "user", "content": [{"type": "input_text", "text": f"mail {EMAIL}"}]}]
    with pytest.raises(openai.BadRequestError):
        await sdk.responses.create(model=model, input=items)  # type: ignore[arg-type]
    output = [{"type": "function_call_output", "call_id": "c1", "output": f"found {EMAIL}"}]
    with pytest.raises(openai.BadRequestError):
        await sdk.responses.create(model=model, input=output)  # type: ignore[arg-type]
    assert gateway.provider_stats()["requests"] == before  # blocked before any provider call
    assert (await sdk.responses.create(model=model, input="hello")).status == "completed"
    blocked = [r for r in await logs(gateway) if r["endpoint"] == "responses" and r["status"] == 400]
    assert len(blocked) == 3


@pytest.mark.parametrize("model", MODELS)
async def test_an_output_guardrail_rewrites_a_response_plain_and_streamed(
    gateway: InProcessGateway, model: str
) -> None:
    sdk = client(gateway, "output")
    plain = await sdk.responses.create(model=model, input=f"write to {EMAIL} now")
    assert "write to" in plain.output_text and EMAIL not in plain.output_text
    deltas: list[str] = []
    done: list[str] = []
    async with sdk.responses.stream(model=model, input=f"write to {EMAIL} now") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.output_text.done":
                done.append(event.text)
        final = await stream.get_final_response()
    assert "write to" in final.output_text and EMAIL not in final.output_text
    assert "".join(deltas) == final.output_text == done[0]
    assert final.output_text == plain.output_text
