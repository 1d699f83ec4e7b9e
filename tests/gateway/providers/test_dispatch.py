"""`call()` over MemoryTransport: request building and the mapping of every failure, without sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.gateway.providers.conftest import SECRET_KEY, json_reply, openai_target, sse_reply
from tfy_gateway.gateway.providers import (
    CallOptions,
    FormFile,
    HttpRequest,
    HttpResponse,
    MemoryTransport,
    Timeouts,
    TransportConnectError,
    TransportError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamResponse,
    UpstreamStream,
    UpstreamTimeout,
    call,
)

CHAT: dict[str, Any] = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
TARGET = openai_target("http://openai.test", "gpt-4o-mini")
COMPLETION = {"object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}}


def failing(exc: TransportError) -> MemoryTransport:
    def handler(request: HttpRequest) -> HttpResponse:
        raise exc

    return MemoryTransport(handler)


async def test_request_body_headers_and_override() -> None:
    transport = MemoryTransport(lambda request: json_reply(200, COMPLETION))
    target = openai_target(
        "http://openai.test",
        "gpt-4o-mini",
        base_url="http://openai.test/v1/",
        extra_headers={"x-team": "a", "x-debug": "1"},
    )
    body = dict(CHAT)
    override = {"set": {"X-Team": "b"}, "remove": ["x-debug"]}
    result = await call(
        transport, target, "chat", body, CallOptions(headers_override=override, timeouts=Timeouts.within(3))
    )
    assert isinstance(result, UpstreamResponse) and result.usage.total_tokens == 5
    assert body == CHAT  # untouched, reusable for a fallback
    (sent,) = transport.requests
    assert (
        sent.url == "http://openai.test/v1/chat/completions"
        and sent.timeouts == Timeouts.within(3)
        and sent.form is None
    )
    assert json.loads(sent.body) == {**CHAT, "model": "gpt-4o-mini"}
    assert sent.headers == {
        "content-type": "application/json",
        "accept": "application/json",
        "authorization": f"Bearer {SECRET_KEY}",
        "X-Team": "b",
    }


async def test_transcription_is_a_form_and_speech_stays_bytes() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/audio/speech"):
            return HttpResponse(200, {"Content-Type": "audio/wav; rate=8000"}, b"RIFF....")
        return json_reply(200, {"text": "hello"})

    transport = MemoryTransport(handler)
    body = {"model": "whisper", "file": ("a.wav", b"abc", "audio/wav"), "temperature": 0.5, "prompt": None}
    text = await call(transport, TARGET, "transcriptions", body)
    assert isinstance(text, UpstreamResponse) and text.body == {"text": "hello"}
    sent = transport.requests[0]
    assert sent.form == {"model": "gpt-4o-mini", "file": FormFile("a.wav", b"abc", "audio/wav"), "temperature": "0.5"}
    assert "content-type" not in sent.headers  # the multipart boundary is the transport's business
    speech = await call(transport, TARGET, "speech", {"input": "hi", "voice": "a"})
    assert isinstance(speech, UpstreamResponse)
    assert speech.body is None and speech.content == b"RIFF...." and speech.content_type == "audio/wav"


async def test_error_body_becomes_upstream_error_with_retry_after() -> None:
    error = {"error": {"message": f"slow down, {SECRET_KEY}", "type": "rate_limit_exceeded"}}
    transport = MemoryTransport(lambda request: json_reply(429, error, {"Retry-After": "3"}))
    with pytest.raises(UpstreamError) as limited:
        await call(transport, TARGET, "chat", CHAT)
    assert (limited.value.status, limited.value.retry_after, limited.value.error_type) == (
        429,
        3.0,
        "rate_limit_exceeded",
    )
    assert SECRET_KEY not in limited.value.message and limited.value.provider == "openai"
    millis = MemoryTransport(lambda request: HttpResponse(503, {"retry-after-ms": "250"}, b"overloaded"))
    with pytest.raises(UpstreamError) as busy:
        await call(millis, TARGET, "chat", {**CHAT, "stream": True})  # before the first byte: same mapping
    assert (busy.value.status, busy.value.retry_after, busy.value.message) == (503, 0.25, "overloaded")
    assert millis.streams[0].closed


async def test_invalid_json_from_upstream_is_a_502() -> None:
    transport = MemoryTransport(lambda request: HttpResponse(200, {"content-type": "application/json"}, b"[1]"))
    with pytest.raises(UpstreamError, match="not an object") as failed:
        await call(transport, TARGET, "embeddings", {"input": "x"})
    assert failed.value.status == 502


async def test_transport_failures_map_to_502_and_504() -> None:
    for body in (CHAT, {**CHAT, "stream": True}):
        with pytest.raises(UpstreamConnectionError) as refused:
            await call(failing(TransportConnectError("Connection refused")), TARGET, "chat", body)
        assert refused.value.status == 502
        assert refused.value.message == "cannot connect to openai at openai.test:80: Connection refused"
        with pytest.raises(UpstreamConnectionError, match="failed: ServerDisconnectedError"):
            await call(failing(TransportError("ServerDisconnectedError")), TARGET, "chat", body)


async def test_timeouts_are_504s_that_name_their_phase() -> None:
    async def slow(request: HttpRequest) -> HttpResponse:
        await asyncio.Event().wait()  # never answers: the timeout under test always comes first
        return json_reply(200, COMPLETION)

    with pytest.raises(UpstreamTimeout) as slow_answer:
        await call(MemoryTransport(slow), TARGET, "chat", CHAT, CallOptions(timeouts=Timeouts.within(0.05)))
    assert slow_answer.value.status == 504 and "did not answer within 0.05s" in slow_answer.value.message
    assert slow_answer.value.phase == "first_token"  # a plain answer's first token is its whole body
    stream_body = {**CHAT, "stream": True}
    with pytest.raises(UpstreamTimeout) as no_token:
        await call(MemoryTransport(slow), TARGET, "chat", stream_body, CallOptions(timeouts=Timeouts(first_token=0.05)))
    assert no_token.value.phase == "first_token" and "no first token within 0.05s" in no_token.value.message
    with pytest.raises(UpstreamTimeout) as silent:
        limits = Timeouts(first_token=60, read=0.05)
        await call(MemoryTransport(slow), TARGET, "chat", stream_body, CallOptions(timeouts=limits))
    assert silent.value.status == 504 and silent.value.phase == "read"


async def test_stream_returns_after_the_first_chunk_and_strips_injected_usage() -> None:
    def chunk(content: str | None, finish: str | None = None) -> dict[str, Any]:
        delta = {"content": content} if content is not None else {}
        return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    usage = {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    events = [("", chunk("a")), ("", chunk("b")), ("", chunk(None, "stop")), ("", usage)]
    transport = MemoryTransport(lambda request: sse_reply(events, done=True), chunk_size=4)
    stream = await call(transport, TARGET, "chat", {**CHAT, "stream": True})
    assert isinstance(stream, UpstreamStream) and stream.ttft is not None  # first chunk already buffered
    assert json.loads(transport.requests[0].body)["stream_options"] == {"include_usage": True}
    async with stream:
        chunks = [c async for c in stream]
    assert len(chunks) == 4 and chunks[-1] == b"data: [DONE]\n\n"  # the usage-only chunk was ours
    assert stream.usage is not None and stream.usage.completion_tokens == 2
    assert stream.completed and stream.finish_reason == "stop" and transport.streams[0].drained
