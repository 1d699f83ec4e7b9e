"""`POST /responses` with the real openai SDK, through the whole pipeline: passed through to an
OpenAI-compatible target, translated to chat and back for Anthropic and Azure OpenAI targets; plain,
streamed (the SDK's own accumulation) and with a function tool; usage and cost in the request log,
rate limits and budgets counting it, and what does not translate refused with a 400 naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway.data_plane.conftest import EVERYONE, SECRET, DataPlane
from tests.gateway.inprocess import FAKE_ORIGIN, GATEWAY_URL, running_gateway
from tests.helpers import eventually

PRICE = {"input": 0.003, "output": 0.015}
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
# Each target: (model, the path the fake provider saw, the wire format that carried it).
TARGETS = [
    pytest.param("fake/gpt-4o", "/v1/responses", id="openai"),
    pytest.param("rclaude/sonnet", "/v1/messages", id="anthropic"),
    pytest.param("razure/gpt-4o", "/openai/deployments/gpt-4o-deployment/chat/completions", id="azure"),
]


async def priced_accounts(dp: DataPlane) -> None:
    """A priced Anthropic account and an Azure OpenAI account, both on the fake provider."""
    await dp.apply(
        {
            "name": "rclaude",
            "type": "provider-account/anthropic",
            "base_url": f"{FAKE_ORIGIN}/v1",
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
            "integrations": [
                {
                    "type": "integration/model/anthropic",
                    "name": "sonnet",
                    "model_id": "claude-sonnet-4-5",
                    "model_types": ["chat"],
                    "cost": {"metric": "per_1000_tokens", "value": PRICE},
                }
            ],
        }
    )
    await dp.apply(
        {
            "name": "razure",
            "type": "provider-account/azure-openai",
            "azure_endpoint": FAKE_ORIGIN,
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
            "integrations": [
                {
                    "type": "integration/model/azure-openai",
                    "name": "gpt-4o",
                    "model_id": "gpt-4o-deployment",
                    "api_version": "2024-10-21",
                    "model_types": ["chat"],
                    "cost": {"metric": "per_1000_tokens", "value": PRICE},
                }
            ],
        }
    )


def sdk(dp: DataPlane) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=dp.base, api_key=dp.token, max_retries=0, http_client=dp.http)


async def logged(dp: DataPlane, request_id: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        return next((r for r in (await dp.logs(limit=500))["data"] if r["id"] == request_id), None)

    return await eventually(find, f"the request log record of {request_id}")


def expected_cost(model: str, record: dict[str, Any]) -> float:
    price = {"input": 0.0025, "output": 0.01} if model.startswith("fake/") else PRICE
    return (record["prompt_tokens"] * price["input"] + record["completion_tokens"] * price["output"]) / 1000


@pytest.mark.parametrize(("model", "path"), TARGETS)
async def test_a_plain_response_with_usage_and_cost_in_the_request_log(dp: DataPlane, model: str, path: str) -> None:
    await priced_accounts(dp)
    raw = await sdk(dp).responses.with_raw_response.create(
        model=model, input="hello there", instructions="Answer briefly.", max_output_tokens=64, temperature=0.5
    )
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output_text.startswith("Fake reply from") and "hello there" in response.output_text
    assert response.usage is not None and response.usage.output_tokens == 16
    assert raw.headers["x-tfy-resolved-model"] == model
    seen = dp.gateway.provider_requests()[-1]
    assert seen["path"] == path
    assert "Answer briefly." in json.dumps(seen["body"])  # the instructions reached the provider
    record = await logged(dp, raw.headers["x-tfy-request-id"])
    assert record["endpoint"] == "responses" and record["status"] == 200 and not record["usage_estimated"]
    assert (record["prompt_tokens"], record["completion_tokens"]) == (
        response.usage.input_tokens,
        response.usage.output_tokens,
    )
    assert record["cost"] == pytest.approx(expected_cost(model, record))


@pytest.mark.parametrize(("model", "path"), TARGETS)
async def test_a_streamed_response_accumulates_in_the_sdk_and_is_logged(dp: DataPlane, model: str, path: str) -> None:
    await priced_accounts(dp)
    client = sdk(dp)
    kinds: list[str] = []
    deltas: list[str] = []
    async with client.responses.stream(model=model, input="stream this please") as stream:
        async for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = await stream.get_final_response()
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert final.status == "completed" and final.output_text == "".join(deltas)
    assert final.output_text.startswith("Fake reply from") and "stream this please" in final.output_text
    assert final.usage is not None and final.usage.output_tokens == 16
    assert dp.gateway.provider_requests()[-1]["path"] == path
    records = [r for r in (await dp.logs(limit=50))["data"] if r["endpoint"] == "responses"]
    record = records[0]
    assert record["stream"] and record["status"] == 200 and not record["usage_estimated"]
    assert (record["prompt_tokens"], record["completion_tokens"]) == (final.usage.input_tokens, 16)
    assert record["cost"] == pytest.approx(expected_cost(model, record))


@pytest.mark.parametrize(("model", "path"), TARGETS)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_a_function_tool_round_trip(dp: DataPlane, model: str, path: str, stream: bool) -> None:
    await priced_accounts(dp)
    client = sdk(dp)
    question = [{"role": "user", "content": "What is the weather? Use get_weather."}]
    if stream:
        async with client.responses.stream(model=model, input=question, tools=TOOLS) as events:
            arguments = [
                event.delta async for event in events if event.type == "response.function_call_arguments.delta"
            ]
            first = await events.get_final_response()
        calls = [item for item in first.output if item.type == "function_call"]
        assert calls and "".join(arguments) == calls[0].arguments
    else:
        first = await client.responses.create(model=model, input=question, tools=TOOLS)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].status == "completed"
    assert json.loads(calls[0].arguments) == {"city": "fake-city"}
    follow_up: list[Any] = [
        *question,
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"},
    ]
    second = await client.responses.create(model=model, input=follow_up, tools=TOOLS)
    assert second.status == "completed" and second.output_text.startswith("Fake reply from")
    sent = json.dumps(dp.gateway.provider_requests()[-1]["body"])
    assert calls[0].call_id in sent and "sunny, 21 C" in sent  # the tool's answer reached the provider


async def test_a_rate_limit_counts_responses_requests_streamed_or_not(dp: DataPlane) -> None:
    await priced_accounts(dp)
    rule = {"id": "responses-2", "when": {"models": ["rclaude/sonnet"]}, "limit_to": 2, "unit": "requests_per_minute"}
    await dp.apply({"name": "limits", "type": "gateway-rate-limiting-config", "rules": [rule]})
    client = sdk(dp)
    await client.responses.create(model="rclaude/sonnet", input="one")
    async for _ in await client.responses.create(model="rclaude/sonnet", input="two", stream=True):
        pass
    with pytest.raises(openai.RateLimitError) as refused:
        await client.responses.create(model="rclaude/sonnet", input="three")
    assert "responses-2" in str(refused.value.body)
    chat = await dp.chat("rclaude/sonnet")
    assert chat.status_code == 429  # the same counter: chat and responses share the limit


async def test_a_budget_is_charged_the_logged_cost_of_responses(dp: DataPlane) -> None:
    await priced_accounts(dp)
    rule = {"id": "responses-budget", "when": {"models": ["rclaude/sonnet"]}, "limit_to": 5, "unit": "cost_per_day"}
    await dp.apply({"name": "budgets", "type": "gateway-budget-config", "rules": [rule]})
    client = sdk(dp)
    await client.responses.create(model="rclaude/sonnet", input="one", max_output_tokens=8)
    async for _ in await client.responses.create(model="rclaude/sonnet", input="two", stream=True):
        pass
    records = [r for r in (await dp.logs(limit=50))["data"] if r["endpoint"] == "responses"]
    assert len(records) == 2 and records[-1]["completion_tokens"] == 8  # max_output_tokens reached Anthropic
    usage = await dp.http.get("/api/svc/v1/llm-gateway/config/budget/usage", headers=dp.auth())
    assert usage.status_code == 200, usage.text
    entry = next(e for e in usage.json()["matched"] if e["name"] == "responses-budget")
    spent = entry["entities"][0]["periods"]["cost_per_day"]["used"]
    assert spent == pytest.approx(sum(r["cost"] for r in records))


async def test_what_does_not_translate_is_a_400_naming_it_while_openai_gets_it_as_sent(dp: DataPlane) -> None:
    await priced_accounts(dp)
    client = sdk(dp)
    before = len(dp.gateway.provider_requests())
    with pytest.raises(openai.BadRequestError) as web_search:
        await client.responses.create(model="rclaude/sonnet", input="news?", tools=[{"type": "web_search"}])
    assert web_search.value.param == "tools[0].type" and "web_search" in web_search.value.message
    with pytest.raises(openai.BadRequestError) as previous:
        await client.responses.create(model="razure/gpt-4o", input="and then?", previous_response_id="resp_1")
    assert previous.value.param == "previous_response_id"
    assert len(dp.gateway.provider_requests()) == before  # refused before any provider call
    passed = await client.responses.create(model="fake/gpt-4o", input="news?", tools=[{"type": "web_search"}])
    assert passed.status == "completed"
    assert dp.gateway.provider_requests()[-1]["body"]["tools"] == [{"type": "web_search"}]


async def test_bad_bodies_are_refused_with_the_field_named(dp: DataPlane) -> None:
    for body, param in [
        ({"model": "fake/gpt-4o"}, "input"),
        ({"model": "fake/gpt-4o", "input": 5}, "input"),
        ({"model": "fake/gpt-4o", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "fake/gpt-4o", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "fake/gpt-4o", "input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
    ]:
        response = await dp.post("responses", body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("provider", "model_id"),
    [("openai", "gpt-4o@cut_after=3"), ("anthropic", "claude-sonnet-4-5@drop_after=3")],
    ids=["passed-through", "translated"],
)
async def test_a_responses_stream_cut_short_reaches_the_sdk_as_an_error_and_is_charged_an_estimate(
    dp: DataPlane, provider: str, model_id: str
) -> None:
    await dp.apply(
        {
            "name": "cutting",
            "type": f"provider-account/{provider}",
            "base_url": f"{FAKE_ORIGIN}/v1",
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
            "integrations": [
                {"type": f"integration/model/{provider}", "name": "m", "model_id": model_id, "model_types": ["chat"]}
            ],
        }
    )
    kinds: list[str] = []
    with pytest.raises(openai.APIError, match="cut short"):
        async for event in await sdk(dp).responses.create(model="cutting/m", input="hi", stream=True):
            kinds.append(event.type)
    assert kinds[0] == "response.created" and kinds.count("response.output_text.delta") >= 1
    assert "response.completed" not in kinds
    record = (await dp.logs(limit=5))["data"][0]
    assert record["endpoint"] == "responses" and record["status"] == 502 and record["usage_estimated"]
    assert record["completion_tokens"] >= kinds.count("response.output_text.delta")


async def test_stored_responses_are_not_served_and_say_why(dp: DataPlane) -> None:
    client = sdk(dp)
    with pytest.raises(openai.NotFoundError, match="stores no responses"):
        await client.responses.retrieve("resp_123")
    with pytest.raises(openai.NotFoundError, match="stores no responses"):
        await client.responses.delete("resp_123")
    listing = await dp.http.get(dp.base + "/responses", headers=dp.auth())
    assert listing.status_code == 405


@pytest.mark.parametrize("model", ["fake/gpt-4o", "claude/sonnet"], ids=["passed-through", "translated"])
async def test_a_streamed_responses_text_is_logged_when_bodies_are(dp: DataPlane, model: str) -> None:
    logging_on = {"x-tfy-logging-config": '{"enabled": true}'}
    http = dp.gateway.client(headers=logging_on)
    client = openai.AsyncOpenAI(base_url=dp.base, api_key=dp.token, max_retries=0, http_client=http)
    async with client.responses.stream(model=model, input="remember pineapple-42") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    record = (await dp.logs(limit=5))["data"][0]
    assert "pineapple-42" in record["request_body"] and record["response_body"] == final.output_text


async def test_a_failing_openai_target_falls_back_to_a_translated_anthropic_one(dp: DataPlane) -> None:
    """One /responses body, two wire formats: passed through to the first target (a 500), then
    translated to chat for the fallback, which answers."""
    await priced_accounts(dp)
    targets = [
        {"target": "fake/broken", "priority": 0},
        {"target": "rclaude/sonnet", "priority": 1},
    ]
    rule = {"id": "resp-fallback", "type": "priority-based-routing", "when": {"models": ["writer"]}}
    await dp.apply(
        {
            "name": "routing",
            "type": "gateway-load-balancing-config",
            "rules": [{**rule, "load_balance_targets": targets}],
        }
    )
    raw = await sdk(dp).responses.with_raw_response.create(model="writer", input="hello there")
    assert raw.parse().output_text.startswith("Fake reply from claude")
    assert raw.headers["x-tfy-resolved-model"] == "rclaude/sonnet"
    paths = [r["path"] for r in dp.gateway.provider_requests()[-2:]]
    assert paths == ["/v1/responses", "/v1/messages"]
    record = await logged(dp, raw.headers["x-tfy-request-id"])
    tried = [t[0] for t in record["tries"]]  # the broken target is retried (the default retry config), then left
    assert record["fallbacks"] == 1 and tried[-1] == "rclaude/sonnet" and set(tried[:-1]) == {"fake/broken"}


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("groq", "/v1/responses"),
        ("mistral-ai", "/v1/chat/completions"),
        ("self-hosted-model", "/v1/chat/completions"),
    ],
)
async def test_only_providers_that_document_responses_get_it_passed_through(
    tmp_path: Path, provider: str, path: str
) -> None:
    """Every OpenAI-compatible provider speaks chat; only some speak /responses (a pass-through to the
    others would be a 404), so those get it translated to chat. Offline: each provider's own address
    is answered by the fake provider."""
    integration: dict[str, Any] = {"type": f"integration/model/{provider}", "name": "m", "model_types": ["chat"]}
    account: dict[str, Any] = {"name": "compat", "type": f"provider-account/{provider}", "collaborators": EVERYONE}
    if provider == "self-hosted-model":
        integration |= {
            "hosted_model_name": "gpt-4o",
            "url": "https://vllm.example/v1",
            "model_server": "openai-compatible",
        }
    else:
        integration["model_id"] = "gpt-4o"
        account["auth_data"] = {"type": "api-key", "api_key": "tfy-secret://local:compat:API_KEY"}
    async with running_gateway(tmp_path / "data") as gateway:
        await gateway.apply({**account, "integrations": [integration]})
        http = gateway.client()
        client = openai.AsyncOpenAI(
            base_url=GATEWAY_URL + "/api/llm", api_key=gateway.token, max_retries=0, http_client=http
        )
        response = await client.responses.create(model="compat/m", input="hello there", tools=TOOLS)
        assert response.status == "completed" and response.output_text.startswith("Fake reply from")
        assert gateway.provider_requests()[-1]["path"] == path


async def test_a_client_that_stops_at_response_completed_finds_its_request_logged(dp: DataPlane) -> None:
    """The upstream keeps its connection open 1.5 s after `response.completed`; the client stops there
    and reads its logs at once: the gateway held the event back until the request was recorded."""
    await dp.apply(
        {
            "name": "lingering",
            "type": "provider-account/openai",
            "base_url": f"{FAKE_ORIGIN}/v1",
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
            "integrations": [
                {"type": "integration/model/openai", "name": "m", "model_id": "gpt-4o@tokens=5,linger_ms=1500"}
                | {"model_types": ["chat"]}
            ],
        }
    )
    body = {"model": "lingering/m", "input": "hi", "stream": True}
    async with dp.http.stream("POST", dp.base + "/responses", json=body, headers=dp.auth()) as response:
        request_id = response.headers["x-tfy-request-id"]
        async for line in response.aiter_lines():
            if line == "event: response.completed":
                break
    logged = {r["id"]: r for r in (await dp.logs())["data"]}  # no waiting: read-your-writes
    assert request_id in logged, "the stream was not recorded before the client saw response.completed"
    assert logged[request_id]["status"] == 200 and logged[request_id]["completion_tokens"] == 5
