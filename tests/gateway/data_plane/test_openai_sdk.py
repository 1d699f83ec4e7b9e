"""The real `openai` SDK (sync and async, streaming and not) against a gateway subprocess, over HTTP.

(The other data-plane tests run the gateway in process; this module keeps the whole stack real.)"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.gateway.data_plane.conftest import DataPlaneProcess as DataPlane
from tests.helpers import SUBPROCESS_TIMEOUT_S

MESSAGES = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def dp(dp_process: DataPlane) -> DataPlane:
    """A real gateway process (one for the module)."""
    return dp_process


_CLIENTS: dict[str, openai.OpenAI] = {}
"""One SDK client per base URL, closed with the module (a client left to the garbage collector leaves
its socket open, a ResourceWarning that fails whichever later test is running when it is collected)."""


@pytest.fixture(scope="module", autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.popitem()[1].close()


def client(dp: DataPlane, suffix: str = "") -> openai.OpenAI:
    base = dp.base + suffix
    if base not in _CLIENTS:
        _CLIENTS[base] = openai.OpenAI(base_url=base, api_key=dp.token, max_retries=0)
    return _CLIENTS[base]


def test_chat_completion_with_headers(dp: DataPlane) -> None:
    raw = client(dp).chat.completions.with_raw_response.create(model="fake/gpt-4o", messages=MESSAGES, max_tokens=5)
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("Fake reply from gpt-4o")
    assert completion.usage.completion_tokens == 5
    assert raw.headers["x-tfy-resolved-model"] == "fake/gpt-4o"
    assert isinstance(json.loads(raw.headers["x-tfy-applied-configurations"]), dict)
    timing = dict(part.strip().split(";dur=") for part in raw.headers["server-timing"].split(","))
    assert set(timing) == {"gateway", "provider", "total"}
    assert float(timing["gateway"]) + float(timing["provider"]) == pytest.approx(float(timing["total"]), abs=0.01)
    assert float(raw.headers["x-tfy-cost"]) > 0


@pytest.mark.parametrize("suffix", ["/v1", "/api/inference/openai"])
def test_aliases_serve_the_same_api(dp: DataPlane, suffix: str) -> None:
    answer = client(dp, suffix).chat.completions.create(model="fake/gpt-4o", messages=MESSAGES, max_tokens=3)
    assert answer.usage.completion_tokens == 3
    assert "fake/gpt-4o" in [model.id for model in client(dp, suffix).models.list()]


def test_streaming_with_include_usage(dp: DataPlane) -> None:
    stream = client(dp).chat.completions.create(
        model="fake/gpt-4o", messages=MESSAGES, max_tokens=6, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Fake reply")
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6


def test_streaming_without_include_usage_has_no_usage_chunk(dp: DataPlane) -> None:
    chunks = list(client(dp).chat.completions.create(model="fake/gpt-4o", messages=MESSAGES, max_tokens=4, stream=True))
    assert chunks and all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_tool_calls_streamed_and_not(dp: DataPlane) -> None:
    options = {"model": "fake/gpt-4o", "messages": MESSAGES, "tools": [WEATHER_TOOL], "tool_choice": "required"}
    answer = client(dp).chat.completions.create(**options)
    call = answer.choices[0].message.tool_calls[0]
    assert answer.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    arguments = ""
    names = set()
    for chunk in client(dp).chat.completions.create(**options, stream=True):
        for tool_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            names.add(tool_call.function.name)
            arguments += tool_call.function.arguments or ""
    assert "get_weather" in names and json.loads(arguments) == json.loads(call.function.arguments)


def test_embeddings_string_and_list(dp: DataPlane) -> None:
    single = client(dp).embeddings.create(model="fake/embed", input="one text")
    many = client(dp).embeddings.create(model="fake/embed", input=["a", "b", "c"])
    assert len(single.data) == 1 and len(many.data) == 3 and many.usage.prompt_tokens > 0


def test_completions_and_models(dp: DataPlane) -> None:
    answer = client(dp).completions.create(model="fake/gpt-4o", prompt="Say hi", max_tokens=4)
    assert answer.choices[0].text and answer.usage.completion_tokens == 4
    ids = [model.id for model in client(dp).models.list()]
    assert {"fake/gpt-4o", "fake/embed", "down/gpt-4o"} <= set(ids)


async def test_async_client_streaming_and_not(dp: DataPlane) -> None:
    async with openai.AsyncOpenAI(base_url=dp.base, api_key=dp.token, max_retries=0) as aclient:
        answer = await aclient.chat.completions.create(model="fake/gpt-4o", messages=MESSAGES, max_tokens=3)
        stream = await aclient.chat.completions.create(
            model="fake/gpt-4o", messages=MESSAGES, max_tokens=3, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert answer.usage.completion_tokens == 3
    assert chunks[-1].usage.completion_tokens == 3


def test_sdk_raises_the_platform_errors(dp: DataPlane) -> None:
    anonymous = openai.OpenAI(base_url=dp.base, api_key="tfy_not_a_real_token_123", max_retries=0)
    with anonymous, pytest.raises(openai.AuthenticationError):
        anonymous.models.list()
    with pytest.raises(openai.NotFoundError, match="The model `fake/nope` does not exist") as unknown:
        client(dp).chat.completions.create(model="fake/nope", messages=MESSAGES)
    assert (unknown.value.code, unknown.value.param) == ("model_not_found", "model")
    user_token = dp.add_user("sdk-nobody@example.com")
    user = openai.OpenAI(base_url=dp.base, api_key=user_token, max_retries=0)
    with user, pytest.raises(openai.PermissionDeniedError, match="not authorized to access model private/gpt-4o"):
        user.chat.completions.create(model="private/gpt-4o", messages=MESSAGES)


def test_curl(dp: DataPlane) -> None:
    body = json.dumps({"model": "fake/gpt-4o", "messages": MESSAGES, "max_tokens": 2})
    headers = ["-H", f"Authorization: Bearer {dp.token}", "-H", "Content-Type: application/json"]
    result = subprocess.run(
        ["curl", "-sS", "-i", f"{dp.base}/chat/completions", *headers, "-d", body],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=True,
    )
    head, _, payload = result.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200") and "x-tfy-resolved-model: fake/gpt-4o" in head
    assert json.loads(payload)["usage"]["completion_tokens"] == 2


RESPONSE_TOOL: Any = {"type": "function", **WEATHER_TOOL["function"]}


@pytest.mark.parametrize("model", ["fake/gpt-4o", "claude/sonnet"], ids=["passed-through", "translated"])
def test_responses_plain_streamed_and_with_a_tool_over_http(dp: DataPlane, model: str) -> None:
    """The Responses API over a real socket: the gateway's aiohttp transport, its SSE relay and uvicorn."""
    sdk = client(dp)
    plain = sdk.responses.create(model=model, input="hello there", max_output_tokens=6)
    assert plain.status == "incomplete" and plain.usage is not None and plain.usage.output_tokens == 6
    assert plain.incomplete_details is not None and plain.incomplete_details.reason == "max_output_tokens"
    with sdk.responses.stream(model=model, input="hello there") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.status == "completed" and final.output_text == "".join(deltas)
    called = sdk.responses.create(model=model, input="Use get_weather.", tools=[RESPONSE_TOOL])
    calls = [item for item in called.output if item.type == "function_call"]
    assert len(calls) == 1 and json.loads(calls[0].arguments) == {"city": "fake-city"}
