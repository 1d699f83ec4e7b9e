"""OpenAI chat <-> Anthropic Messages: pure conversions, the adapter against the fake provider, and the
same through MemoryTransport."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gateway.providers.conftest import SECRET_KEY, anthropic_target, json_reply, recorded, sse_reply
from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    CallOptions,
    InvalidRequest,
    MemoryTransport,
    Timeouts,
    UnsupportedEndpoint,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamResponse,
    UpstreamStream,
    call,
)
from tfy_gateway.gateway.providers.openai_anthropic import to_anthropic_request, to_openai_response

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CHAT: dict[str, Any] = {
    "model": "anthropic-main/claude",
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}],
}


def test_request_mapping_system_tools_and_tool_results() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "rule one"},
            {"role": "developer", "content": [{"type": "text", "text": "rule two"}]},
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rainy"}]},
            {"role": "user", "content": "thanks"},
        ],
        "max_completion_tokens": 50,
        "stop": "END",
        "temperature": 0.7,
        "user": "alice",
        "tools": [TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    request = to_anthropic_request(body, "claude-x")
    assert request["model"] == "claude-x" and request["max_tokens"] == 50
    assert request["system"] == "rule one\n\nrule two"
    assert request["stop_sequences"] == ["END"] and request["temperature"] == 0.7
    assert request["metadata"] == {"user_id": "alice"}
    assert request["tools"] == [
        {"name": "get_weather", "description": "weather", "input_schema": TOOL["function"]["parameters"]}
    ]
    assert request["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    roles = [m["role"] for m in request["messages"]]
    assert roles == ["user", "assistant", "user"]  # tool results and the next user text share one turn
    assistant = request["messages"][1]["content"]
    assert assistant[0] == {"type": "text", "text": "Checking."}
    assert assistant[1] == {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
    results = request["messages"][2]["content"]
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]
    assert results[1] == {"type": "tool_result", "tool_use_id": "call_2", "content": "rainy"}
    assert request["messages"][0]["content"] == "weather in Paris and Rome?"


def test_request_mapping_defaults_and_errors() -> None:
    plain = to_anthropic_request({"messages": [{"role": "user", "content": "x"}]}, "c")
    assert plain["max_tokens"] == 4096 and "system" not in plain and "tools" not in plain
    forced = to_anthropic_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
        "c",
    )
    assert forced["tool_choice"] == {"type": "tool", "name": "get_weather"}
    image = to_anthropic_request(
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
            ]
        },
        "c",
    )
    assert image["messages"][0]["content"][0]["source"] == {"type": "base64", "media_type": "image/png", "data": "AAAA"}
    with pytest.raises(InvalidRequest, match=r"messages\[0\].role 'robot'"):
        to_anthropic_request({"messages": [{"role": "robot", "content": "x"}]}, "c")
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        to_anthropic_request(
            {
                "messages": [
                    {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{oops"}}]}
                ]
            },
            "c",
        )


def test_response_mapping_text_tools_usage() -> None:
    message = {
        "id": "msg_1",
        "model": "claude-x",
        "stop_reason": "tool_use",
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "usage": {
            "input_tokens": 10,
            "output_tokens": 7,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 5,
        },
    }
    body, usage = to_openai_response(message)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["reasoning_content"] == "hmm"
    assert choice["message"]["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    ]
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.cache_write_tokens) == (
        115,
        7,
        100,
        5,
    )
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 100}
    assert (
        to_openai_response({"content": [], "stop_reason": "max_tokens"})[0]["choices"][0]["finish_reason"] == "length"
    )


async def test_chat_via_messages_api(transport: AiohttpTransport, fake_url: str) -> None:
    result = await call(transport, anthropic_target(fake_url), "chat", CHAT)
    assert isinstance(result, UpstreamResponse) and result.body is not None
    assert result.body["object"] == "chat.completion"
    assert result.body["choices"][0]["message"]["content"].startswith("Fake reply from claude-sonnet-4-5: hello")
    assert result.body["choices"][0]["finish_reason"] == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (4, 16)
    seen = recorded(fake_url)[-1]
    assert seen["path"] == "/v1/messages" and seen["body"]["system"] == "be brief"
    assert seen["headers"]["anthropic-version"] == "2023-06-01"
    assert seen["headers"]["x-api-key"].startswith("sha256:")


async def test_cached_tokens_count_into_prompt_tokens(transport: AiohttpTransport, fake_url: str) -> None:
    result = await call(transport, anthropic_target(fake_url, "claude@cached_tokens=3"), "chat", CHAT)
    assert isinstance(result, UpstreamResponse)
    assert (result.usage.prompt_tokens, result.usage.cached_tokens) == (4, 3)


async def test_stream_converted_to_openai_chunks(transport: AiohttpTransport, fake_url: str) -> None:
    whole = await call(transport, anthropic_target(fake_url), "chat", CHAT)
    stream = await call(transport, anthropic_target(fake_url), "chat", {**CHAT, "stream": True})
    assert isinstance(whole, UpstreamResponse) and whole.body is not None
    assert isinstance(stream, UpstreamStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    assert chunks[-1] == b"data: [DONE]\n\n"
    events = [json.loads(c[6:]) for c in chunks[:-1]]
    assert all(e["object"] == "chat.completion.chunk" and e["id"].startswith("msg_") for e in events)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert text == whole.body["choices"][0]["message"]["content"]
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in e for e in events)  # the client did not ask for it
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (whole.usage.prompt_tokens, 16)
    assert stream.ttft is not None and stream.completed


async def test_stream_usage_chunk_when_asked(transport: AiohttpTransport, fake_url: str) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 2}
    stream = await call(transport, anthropic_target(fake_url), "chat", body)
    assert isinstance(stream, UpstreamStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    usage_chunk = json.loads(chunks[-2][6:])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    assert stream.finish_reason == "length"


async def test_tool_calls_both_directions(transport: AiohttpTransport, fake_url: str) -> None:
    ask: dict[str, Any] = {"messages": [{"role": "user", "content": "use get_weather for Paris"}], "tools": [TOOL]}
    result = await call(transport, anthropic_target(fake_url), "chat", ask)
    assert isinstance(result, UpstreamResponse) and result.body is not None
    message = result.body["choices"][0]["message"]
    assert result.body["choices"][0]["finish_reason"] == "tool_calls"
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "fake-city"}

    stream = await call(transport, anthropic_target(fake_url), "chat", {**ask, "stream": True})
    assert isinstance(stream, UpstreamStream)
    async with stream:
        events = [json.loads(c[6:]) for c in [chunk async for chunk in stream][:-1]]
    deltas = [tc for e in events for tc in e["choices"][0]["delta"].get("tool_calls") or []]
    assert deltas[0]["index"] == 0 and deltas[0]["id"].startswith("toolu_")
    assert deltas[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(d["function"]["arguments"] for d in deltas)) == {"city": "fake-city"}
    assert stream.finish_reason == "tool_calls"

    follow_up = {
        "tools": [TOOL],
        "messages": [
            *ask["messages"],
            message,
            {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "sunny"},
        ],
    }
    final = await call(transport, anthropic_target(fake_url), "chat", follow_up)
    assert isinstance(final, UpstreamResponse) and final.body is not None
    assert final.body["choices"][0]["finish_reason"] == "stop"
    sent = recorded(fake_url)[-1]["body"]["messages"]
    assert sent[1]["content"][1]["type"] == "tool_use" and sent[2]["content"][0]["type"] == "tool_result"


async def test_errors_and_unsupported_endpoint(transport: AiohttpTransport, fake_url: str) -> None:
    with pytest.raises(UpstreamError) as limited:
        await call(transport, anthropic_target(fake_url, "claude@retry_after=1.5"), "chat", CHAT)
    assert limited.value.status == 429 and limited.value.retry_after == 1.5
    assert limited.value.error_type == "rate_limit_error" and limited.value.provider == "anthropic"
    with pytest.raises(UnsupportedEndpoint) as unsupported:
        await call(transport, anthropic_target(fake_url), "embeddings", {"input": "x"})
    assert unsupported.value.status == 400
    stream = await call(transport, anthropic_target(fake_url, "claude@drop_after=3"), "chat", {**CHAT, "stream": True})
    assert isinstance(stream, UpstreamStream)
    with pytest.raises(UpstreamConnectionError):
        async for _ in stream:
            pass


# --- the same translation through MemoryTransport: no sockets -------------------------------------------

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_mem",
    "type": "message",
    "model": "claude-x",
    "content": [{"type": "text", "text": "hi back"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 2},
}


async def test_memory_chat_request_and_response() -> None:
    transport = MemoryTransport(lambda request: json_reply(200, ANTHROPIC_MESSAGE))
    target = anthropic_target("http://anthropic.test", "claude-x", api_version="2024-01-01")
    result = await call(transport, target, "chat", CHAT, CallOptions(timeouts=Timeouts.within(7)))
    assert isinstance(result, UpstreamResponse) and result.body is not None
    assert result.body["choices"][0]["message"] == {"role": "assistant", "content": "hi back", "refusal": None}
    assert result.body["id"] == "msg_mem" and result.usage.total_tokens == 7
    (sent,) = transport.requests
    assert sent.url == "http://anthropic.test/v1/messages" and sent.timeouts == Timeouts.within(7)
    assert sent.headers["anthropic-version"] == "2024-01-01" and sent.headers["x-api-key"] == SECRET_KEY
    assert sent.headers["accept"] == "application/json"
    assert json.loads(sent.body) == {
        "model": "claude-x",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 4096,
        "system": "be brief",
    }


async def test_memory_stream_translated_across_read_boundaries() -> None:
    events: list[tuple[str, Any]] = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_s", "usage": {"input_tokens": 3}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hel"}}),
        ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "lo"}}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    transport = MemoryTransport(lambda request: sse_reply(events), chunk_size=5)
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    stream = await call(transport, anthropic_target("http://anthropic.test"), "chat", body)
    assert isinstance(stream, UpstreamStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    assert chunks[-1] == b"data: [DONE]\n\n"
    parsed = [json.loads(c[6:]) for c in chunks[:-1]]
    assert "".join(p["choices"][0]["delta"].get("content") or "" for p in parsed if p["choices"]) == "Hello"
    assert parsed[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert stream.completed and stream.finish_reason == "stop" and stream.ttft is not None
    assert transport.requests[0].headers["accept"] == "text/event-stream"
    assert transport.streams[0].closed and transport.streams[0].drained  # ended properly: kept for reuse


async def test_memory_stream_cut_before_message_stop() -> None:
    start = ("message_start", {"type": "message_start", "message": {"id": "m"}})
    delta = ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}})
    transport = MemoryTransport(lambda request: sse_reply([start, delta]))
    stream = await call(transport, anthropic_target("http://anthropic.test"), "chat", {**CHAT, "stream": True})
    assert isinstance(stream, UpstreamStream)
    with pytest.raises(UpstreamConnectionError, match="closed the stream before message_stop"):
        async for _ in stream:
            pass
    assert not stream.completed and transport.streams[0].closed and transport.streams[0].drained is False
