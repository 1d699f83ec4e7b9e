"""The OpenAI-compatible adapter against the fake provider over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import pytest

from tests.gateway.providers.conftest import SECRET_KEY, openai_target, recorded, stats
from tests.helpers import free_port
from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    CallOptions,
    Timeouts,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamResponse,
    UpstreamStream,
    UpstreamTimeout,
    call,
)
from tfy_gateway.gateway.providers.base import UpstreamTarget
from tfy_gateway.gateway.providers.openai_compatible import form_fields
from tfy_gateway.gateway.providers.transport import FormFile, TracedHeaders
from tfy_gateway.gateway.providers.wire import JSON_HEADERS, SSE_HEADERS, build_headers

CHAT: dict[str, Any] = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}


def events(chunks: list[bytes]) -> list[Any]:
    out = []
    for chunk in chunks:
        assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
        payload = chunk[6:-2]
        out.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    return out


async def collect(stream: UpstreamStream) -> list[Any]:
    async with stream:
        return events([chunk async for chunk in stream])


async def test_chat_non_stream_maps_model_and_keeps_body(transport: AiohttpTransport, fake_url: str) -> None:
    body = dict(CHAT)
    result = await call(transport, openai_target(fake_url, "gpt-4o-mini"), "chat", body)
    assert isinstance(result, UpstreamResponse)
    assert result.status == 200
    assert result.body is not None and result.body["model"] == "gpt-4o-mini"
    assert result.body["choices"][0]["message"]["content"].startswith("Fake reply from gpt-4o-mini: hello there")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (3, 16)
    assert body == CHAT  # not mutated: the same body can go to a fallback target
    seen = recorded(fake_url)[-1]
    assert seen["body"]["model"] == "gpt-4o-mini"
    assert (
        seen["headers"]["authorization"] == "sha256:" + hashlib.sha256(f"Bearer {SECRET_KEY}".encode()).hexdigest()[:12]
    )


async def test_stream_strips_the_injected_usage_chunk(transport: AiohttpTransport, fake_url: str) -> None:
    stream = await call(transport, openai_target(fake_url), "chat", {**CHAT, "stream": True})
    assert isinstance(stream, UpstreamStream)
    received = await collect(stream)
    assert received[-1] == "[DONE]"
    assert all(event["choices"] for event in received[:-1])  # no usage-only chunk reached the client
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in received[:-1])
    assert len(text.split()) == 16
    assert stream.usage is not None and stream.usage.completion_tokens == 16 and stream.usage.prompt_tokens == 3
    assert stream.finish_reason == "stop" and stream.completed
    assert stream.ttft is not None and stream.duration is not None and stream.ttft <= stream.duration
    assert recorded(fake_url)[-1]["body"]["stream_options"] == {"include_usage": True}


async def test_stream_keeps_usage_when_the_client_asked(transport: AiohttpTransport, fake_url: str) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    stream = await call(transport, openai_target(fake_url, knobs="tokens=3"), "chat", body)
    assert isinstance(stream, UpstreamStream)
    received = await collect(stream)
    assert received[-2]["choices"] == [] and received[-2]["usage"]["completion_tokens"] == 3
    assert stream.usage is not None and stream.usage.total_tokens == 6


async def test_tool_calls_non_stream_and_stream(transport: AiohttpTransport, fake_url: str) -> None:
    body = {**CHAT, "tools": [TOOL], "tool_choice": "required"}
    result = await call(transport, openai_target(fake_url), "chat", body)
    assert isinstance(result, UpstreamResponse) and result.body is not None
    tool_call = result.body["choices"][0]["message"]["tool_calls"][0]
    assert tool_call["function"]["name"] == "lookup"
    stream = await call(transport, openai_target(fake_url), "chat", {**body, "stream": True})
    assert isinstance(stream, UpstreamStream)
    received = await collect(stream)
    arguments = "".join(
        tc["function"].get("arguments", "")
        for e in received[:-1]
        for tc in e["choices"][0]["delta"].get("tool_calls") or []
    )
    assert json.loads(arguments) == json.loads(tool_call["function"]["arguments"]) == {"q": "fake-q"}
    assert stream.finish_reason == "tool_calls"


async def test_embeddings_string_and_list(transport: AiohttpTransport, fake_url: str) -> None:
    target = openai_target(fake_url, "text-embedding-3-small")
    single = await call(transport, target, "embeddings", {"model": "x", "input": "hello", "dimensions": 4})
    batch = await call(transport, target, "embeddings", {"model": "x", "input": ["hello", "world"], "dimensions": 4})
    assert isinstance(single, UpstreamResponse) and isinstance(batch, UpstreamResponse)
    assert single.body is not None and batch.body is not None
    assert len(single.body["data"]) == 1 and len(batch.body["data"]) == 2
    assert single.body["data"][0]["embedding"] == batch.body["data"][0]["embedding"]
    assert batch.usage.prompt_tokens == 3 and batch.usage.completion_tokens == 0


async def test_completions_stream_and_binary_speech(transport: AiohttpTransport, fake_url: str) -> None:
    stream = await call(
        transport,
        openai_target(fake_url),
        "completions",
        {"model": "x", "prompt": "hi", "max_tokens": 2, "stream": True},
    )
    assert isinstance(stream, UpstreamStream)
    received = await collect(stream)
    assert "".join(e["choices"][0]["text"] for e in received[:-1] if e["choices"]) == "Fake reply"
    assert stream.usage is not None and stream.usage.completion_tokens == 2
    speech = await call(transport, openai_target(fake_url), "speech", {"model": "tts", "input": "hi", "voice": "a"})
    assert isinstance(speech, UpstreamResponse)
    assert speech.body is None and speech.content is not None and speech.content.startswith(b"RIFF")
    text = await call(
        transport,
        openai_target(fake_url),
        "transcriptions",
        {"model": "whisper", "file": ("a.wav", b"abc", "audio/wav")},
    )
    assert isinstance(text, UpstreamResponse) and text.body is not None
    assert text.body["text"] == "Fake transcription of a.wav (3 bytes)."


async def test_headers_extra_and_override(transport: AiohttpTransport, fake_url: str) -> None:
    target = openai_target(fake_url, extra_headers={"x-team": "backend", "x-internal-debug": "1"})
    override = {"set": {"x-region": "us-east-1"}, "remove": ["X-Internal-Debug"]}
    await call(transport, target, "chat", CHAT, CallOptions(headers_override=override))
    headers = recorded(fake_url)[-1]["headers"]
    assert headers["x-team"] == "backend" and headers["x-region"] == "us-east-1"
    assert "x-internal-debug" not in headers


async def test_upstream_500_and_429_with_retry_after(transport: AiohttpTransport, fake_url: str) -> None:
    with pytest.raises(UpstreamError) as failed:
        await call(transport, openai_target(fake_url, "m@status=500"), "chat", CHAT)
    assert failed.value.status == 500 and failed.value.provider == "openai"
    assert "injected error" in failed.value.message
    with pytest.raises(UpstreamError) as limited:
        await call(transport, openai_target(fake_url, "m@retry_after=2"), "chat", {**CHAT, "stream": True})
    assert limited.value.status == 429 and limited.value.retry_after == 2.0
    assert limited.value.error_type == "rate_limit_exceeded"


async def test_wrong_key_error_never_contains_the_key(transport: AiohttpTransport, fake_url: str) -> None:
    target = openai_target(fake_url, knobs="api_key=sk-the-right-one-42")
    with pytest.raises(UpstreamError) as denied:
        await call(transport, target, "chat", CHAT)
    assert denied.value.status == 401
    assert SECRET_KEY not in str(denied.value) and "sk-the-right" not in repr(denied.value)
    good = openai_target(
        fake_url, knobs="api_key=sk-the-right-one-42", auth_headers={"authorization": "Bearer sk-the-right-one-42"}
    )
    assert isinstance(await call(transport, good, "chat", CHAT), UpstreamResponse)


async def test_connection_refused_is_a_502_class_error(transport: AiohttpTransport) -> None:
    target = openai_target(f"http://127.0.0.1:{free_port()}")
    for body in (CHAT, {**CHAT, "stream": True}):
        with pytest.raises(UpstreamConnectionError) as refused:
            await call(transport, target, "chat", body)
        assert refused.value.status == 502 and "cannot connect to openai at 127.0.0.1" in refused.value.message


async def test_timeouts(transport: AiohttpTransport, fake_url: str) -> None:
    with pytest.raises(UpstreamTimeout) as slow:
        await call(
            transport,
            openai_target(fake_url, "m@latency_ms=400"),
            "chat",
            CHAT,
            CallOptions(timeouts=Timeouts.within(0.1)),
        )
    assert slow.value.status == 504
    with pytest.raises(UpstreamTimeout) as no_first_token:
        await call(
            transport,
            openai_target(fake_url, "m@ttft_ms=400"),
            "chat",
            {**CHAT, "stream": True},
            CallOptions(timeouts=Timeouts(connect=5, first_token=0.1, read=5)),
        )
    assert no_first_token.value.status == 504 and no_first_token.value.phase == "first_token"


async def test_closing_the_stream_cancels_upstream(transport: AiohttpTransport, fake_url: str) -> None:
    # 30000 tokens at 10 ms: five minutes, so the stream cannot end on its own before the check.
    model = "m@tokens=30000,tpot_ms=10"
    stream = await call(transport, openai_target(fake_url, model), "chat", {**CHAT, "stream": True})
    assert isinstance(stream, UpstreamStream)
    for _ in range(3):
        await stream.__anext__()
    await stream.aclose()
    deadline = time.monotonic() + 60  # a hang guard: the fake notices on its next write, 10 ms later
    while stats(fake_url)["disconnects"] == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.025)  # not time.sleep: the loop must run for the socket to close
    assert stats(fake_url)["disconnects"] == 1
    assert not stream.completed


async def test_mid_stream_drop_raises_connection_error(transport: AiohttpTransport, fake_url: str) -> None:
    stream = await call(
        transport, openai_target(fake_url, "m@tokens=10,drop_after=3"), "chat", {**CHAT, "stream": True}
    )
    assert isinstance(stream, UpstreamStream)
    received = []
    with pytest.raises(UpstreamConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) >= 1 and not stream.completed


async def test_pooled_connection_is_reused_after_a_full_stream(transport: AiohttpTransport, fake_url: str) -> None:
    for _ in range(3):
        stream = await call(transport, openai_target(fake_url), "chat", {**CHAT, "stream": True})
        assert isinstance(stream, UpstreamStream)
        await collect(stream)
    ports = {r["client_port"] for r in recorded(fake_url)}
    assert len(ports) == 1  # one keep-alive connection served all three streams


def test_a_repeated_form_field_is_sent_once_per_value() -> None:
    fields = form_fields(
        {
            "model": "m",
            "timestamp_granularities[]": ["word", "segment"],
            "image[]": [("a.png", b"a", "image/png"), ("b.png", b"b", "image/png")],
            "n": 2,
            "user": None,
        }
    )
    assert fields == {
        "model": "m",
        "timestamp_granularities[]": ("word", "segment"),
        "image[]": (FormFile("a.png", b"a", "image/png"), FormFile("b.png", b"b", "image/png")),
        "n": "2",
    }


def test_a_plain_calls_headers_are_the_targets_shared_ones_and_an_added_header_makes_new_ones() -> None:
    target = UpstreamTarget(
        "openai",
        "openai",
        "http://x/v1",
        "gpt-4o",
        auth_headers={"authorization": "Bearer k"},
        extra_headers={"x-a": "1"},
    )
    plain = build_headers(JSON_HEADERS, target, None)
    assert plain is build_headers(JSON_HEADERS, target, None, {}) is target.json_headers
    assert dict(plain) == {**JSON_HEADERS, "authorization": "Bearer k", "x-a": "1"}
    assert dict(build_headers(SSE_HEADERS, target, None)) == {**SSE_HEADERS, "authorization": "Bearer k", "x-a": "1"}
    with pytest.raises(TypeError):
        plain["x-b"] = "2"  # type: ignore[index]
    traced = build_headers(JSON_HEADERS, target, None, {"traceparent": "00-1-2-01"})
    overridden = build_headers(JSON_HEADERS, target, {"set": {"X-A": "2"}})
    assert traced == {**plain, "traceparent": "00-1-2-01"} and overridden == {
        **JSON_HEADERS,
        "authorization": "Bearer k",
        "X-A": "2",
    }
    assert dict(plain) == {**JSON_HEADERS, "authorization": "Bearer k", "x-a": "1"}  # untouched by either


def test_a_trace_context_follows_the_targets_shared_headers_in_one_mapping() -> None:
    target = UpstreamTarget("openai", "openai", "http://x/v1", "gpt-4o", auth_headers={"authorization": "Bearer k"})
    for base, shared in ((JSON_HEADERS, target.json_headers), (SSE_HEADERS, target.sse_headers)):
        trace = {"traceparent": "00-1-2-01", "accept": "text/plain"}  # a shared name keeps its place, as in a dict
        traced = build_headers(base, target, None, trace)
        assert isinstance(traced, TracedHeaders) and traced.shared is shared
        expected = {**shared, **trace}
        assert list(traced.items()) == list(expected.items()) and len(traced) == len(expected)
        assert traced == expected and traced.get("traceparent") == "00-1-2-01" and "x-b" not in traced
