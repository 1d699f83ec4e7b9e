"""InProcessTransport: the fake provider without sockets answers as it does over HTTP, streams as the
app writes, and a closed connection, a dropped one and a timeout behave as on a socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.gateway.providers.conftest import anthropic_target, azure_target, openai_target
from tests.helpers import eventually
from tfy_gateway.fakeprovider import create_fake_provider_app
from tfy_gateway.fakeprovider.app import STATE_KEY
from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    CallOptions,
    FormFile,
    HttpRequest,
    HttpResponse,
    TransportConnectError,
    TransportTimeout,
    UpstreamConnectionError,
    UpstreamStream,
    UpstreamTimeout,
    call,
)
from tfy_gateway.gateway.providers.inprocess_transport import _HIGH_WATER, InProcessTransport
from tfy_gateway.gateway.providers.timeouts import NO_TIMEOUTS, Timeouts
from tfy_gateway.gateway.providers.transport import ResponseTooLarge

ORIGIN = "http://fake-provider.test"
CHAT: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
JSON = {"content-type": "application/json", "authorization": "Bearer sk-any"}


@pytest.fixture
def fake() -> web.Application:
    return create_fake_provider_app()


@pytest.fixture
async def inprocess(fake: web.Application) -> AsyncIterator[InProcessTransport]:
    async with InProcessTransport(fake, origin=ORIGIN) as transport:
        yield transport


def stats(fake: web.Application) -> dict[str, int]:
    state = fake[STATE_KEY]
    return {"requests": state.served, "disconnects": state.disconnects}


def chat_request(path: str = "/v1/chat/completions", timeouts: Timeouts = NO_TIMEOUTS, **body: Any) -> HttpRequest:
    payload = {"model": "gpt-4o", **CHAT, **body}
    return HttpRequest(ORIGIN + path, JSON, json.dumps(payload).encode(), timeouts=timeouts)


def comparable(answer: HttpResponse) -> tuple[int, str, str | None, Any]:
    """What must match between the two transports (`created` is the second the answer was made)."""
    body: Any = answer.body
    if answer.content_type == "application/json":
        body = json.loads(answer.body)
        body.pop("created", None)
    elif answer.content_type == "text/event-stream":
        body = [line for line in answer.body.decode().splitlines() if line]
        body = [json.loads(line[6:]) if line.startswith("data: {") else line for line in body]
        for event in body:
            if isinstance(event, dict):
                event.pop("created", None)
    return answer.status, answer.content_type, answer.headers.get("retry-after"), body


REQUESTS: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("/v1/chat/completions", {"model": "gpt-4o", **CHAT, "max_tokens": 5}, None),
    (
        "/v1/chat/completions",
        {"model": "gpt-4o", **CHAT, "stream": True, "stream_options": {"include_usage": True}},
        None,
    ),
    ("/v1/chat/completions", {"model": "gpt-4o@status=429,retry_after=3", **CHAT}, None),
    ("/v1/messages", {"model": "claude-sonnet-4-5", **CHAT, "max_tokens": 7}, {"anthropic-version": "2023-06-01"}),
    (
        "/v1/messages",
        {"model": "claude-sonnet-4-5", **CHAT, "max_tokens": 7, "stream": True},
        {"anthropic-version": "2023-06-01"},
    ),
    ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", CHAT, {"api-key": "k"}),
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"]}, None),
    ("/v1/chat/completions", {"model": "gpt-4o", **CHAT, "stream": True, "tools": [], "n": "bad"}, None),
]


async def test_answers_are_those_the_fake_provider_gives_over_http(
    inprocess: InProcessTransport, fake_url: str, transport: AiohttpTransport
) -> None:
    for path, body, headers in REQUESTS:
        given = {**JSON, "x-api-key": "k", **(headers or {})}
        raw = json.dumps(body).encode()
        over_http = await transport.post(HttpRequest(fake_url + path, given, raw))
        in_process = await inprocess.post(HttpRequest(ORIGIN + path, given, raw))
        assert comparable(in_process) == comparable(over_http), path
    form = {"model": "whisper-1", "file": FormFile("hello.wav", b"RIFF....WAVEfmt ", "audio/wav")}
    over_http = await transport.post(HttpRequest(fake_url + "/v1/audio/transcriptions", {}, form=form))
    in_process = await inprocess.post(HttpRequest(ORIGIN + "/v1/audio/transcriptions", {}, form=form))
    assert over_http.status == 200 and comparable(in_process) == comparable(over_http)


async def test_the_adapters_work_over_it_for_every_wire_format(inprocess: InProcessTransport) -> None:
    for target in (openai_target(ORIGIN), anthropic_target(ORIGIN), azure_target(ORIGIN)):
        answer = await call(inprocess, target, "chat", {**CHAT, "max_tokens": 4})
        assert not isinstance(answer, UpstreamStream) and answer.usage.completion_tokens == 4, target.provider
        stream = await call(inprocess, target, "chat", {**CHAT, "max_tokens": 4, "stream": True})
        assert isinstance(stream, UpstreamStream)
        async with stream:
            events = [event async for event in stream]
        assert stream.completed and stream.usage is not None and stream.usage.completion_tokens == 4
        assert events[-1].strip() == b"data: [DONE]", target.provider


async def test_a_stream_is_read_as_the_app_writes_it() -> None:
    go_on = asyncio.Event()

    async def two_parts(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first")
        await go_on.wait()
        await response.write(b"second")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/x", two_parts)
    async with InProcessTransport(app, origin=ORIGIN) as transport:
        stream = await transport.open_stream(HttpRequest(ORIGIN + "/x", {}, b""))
        assert stream.status == 200
        assert await stream.read() == b"first"  # while the app still waits to write the rest
        go_on.set()
        assert await stream.read() == b"second"
        assert await stream.read() == b""
        await stream.aclose(drain=True)


async def test_an_app_writing_faster_than_it_is_read_waits() -> None:
    finished = asyncio.Event()
    piece = b"x" * 16_384

    async def flood(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(64):  # 1 MB
            await response.write(piece)
        await response.write_eof()
        finished.set()
        return response

    app = web.Application()
    app.router.add_post("/x", flood)
    async with InProcessTransport(app, origin=ORIGIN) as transport:
        stream = await transport.open_stream(HttpRequest(ORIGIN + "/x", {}, b""))
        first = await stream.read()
        # The app wrote on until its writes had to wait (aiohttp waits once 64 KB are in its buffer).
        assert len(first) <= _HIGH_WATER + 65_536 + len(piece) and not finished.is_set()
        total = len(first)
        while data := await stream.read():
            total += len(data)
        assert total == 64 * len(piece) and finished.is_set()


async def test_closing_a_stream_early_cancels_the_apps_handler(
    inprocess: InProcessTransport, fake: web.Application
) -> None:
    endless = chat_request(model="gpt-4o@tokens=30000,tpot_ms=10", stream=True)
    stream = await inprocess.open_stream(endless)
    assert stream.status == 200 and await stream.read()
    await stream.aclose()
    await eventually(lambda: stats(fake)["disconnects"], "the fake provider noticing")
    assert stats(fake) == {"requests": 1, "disconnects": 1}


async def test_leaving_a_call_that_waits_for_its_answer_cancels_it(
    inprocess: InProcessTransport, fake: web.Application
) -> None:
    waiting = asyncio.ensure_future(inprocess.post(chat_request(model="gpt-4o@latency_ms=600000")))
    await eventually(lambda: fake[STATE_KEY].requests, "the call reaching the fake provider")
    waiting.cancel()
    await eventually(lambda: stats(fake)["disconnects"], "the fake provider noticing")
    assert stats(fake) == {"requests": 1, "disconnects": 1}


async def test_a_dropped_connection_cuts_the_stream_and_a_clean_early_end_does_not(
    inprocess: InProcessTransport,
) -> None:
    dropped = await call(inprocess, openai_target(ORIGIN, "m@tokens=10,drop_after=3"), "chat", {**CHAT, "stream": True})
    assert isinstance(dropped, UpstreamStream)
    received = []
    with pytest.raises(UpstreamConnectionError, match="closed the connection before its answer ended"):
        async for chunk in dropped:
            received.append(chunk)
    assert received and not dropped.completed
    stream = await inprocess.open_stream(chat_request(model="m@tokens=10,cut_after=3", stream=True))
    body = b""
    while data := await stream.read():
        body += data
    assert body.count(b"data: {") == 4 and b"[DONE]" not in body  # the role chunk and 3 tokens, then the end


async def test_timeouts_are_those_of_the_request_each_named_by_its_phase(
    inprocess: InProcessTransport, fake: web.Application
) -> None:
    stalled, dripping = "m@latency_ms=600000", "m@tokens=3,tpot_ms=600000"  # answers, tokens in ten minutes
    cases: list[tuple[str, bool, Timeouts, str]] = [
        (stalled, False, Timeouts(read=0.05), "read"),  # no headers
        (stalled, False, Timeouts(first_token=0.05, read=60), "first_token"),  # a plain call's body is its first
        (stalled, False, Timeouts(total=0.05), "total"),
        (stalled, True, Timeouts(read=0.05), "read"),  # a stream's headers
        (stalled, True, Timeouts(total=0.05, read=60), "total"),
    ]
    for model, stream, timeouts, phase in cases:
        with pytest.raises(TransportTimeout) as expired:
            request = chat_request(model=model, stream=stream, timeouts=timeouts)
            await (inprocess.open_stream(request) if stream else inprocess.post(request))
        assert expired.value.phase == phase, (timeouts, stream)
    for timeouts, phase in ((Timeouts(read=0.05), "read"), (Timeouts(total=0.3, read=60), "total")):
        opened = await inprocess.open_stream(chat_request(model=dripping, stream=True, timeouts=timeouts))
        assert await opened.read()  # the first token comes at once
        with pytest.raises(TransportTimeout) as expired:  # the second in ten minutes
            await opened.read()
        assert expired.value.phase == phase
        await opened.aclose()
    await eventually(lambda: stats(fake)["disconnects"] == len(cases) + 2, "the fake provider noticing")
    with pytest.raises(UpstreamTimeout) as slow:
        target = openai_target(ORIGIN, "m@latency_ms=400")
        await call(inprocess, target, "chat", CHAT, CallOptions(timeouts=Timeouts.within(0.05)))
    assert slow.value.status == 504


async def test_another_origin_is_a_refused_connection(inprocess: InProcessTransport) -> None:
    for url in ("http://127.0.0.1:9/v1/chat/completions", "https://fake-provider.test/v1/chat/completions"):
        with pytest.raises(TransportConnectError):
            await inprocess.post(HttpRequest(url, JSON, b"{}"))
    with pytest.raises(UpstreamConnectionError, match="cannot connect to openai"):
        await call(inprocess, openai_target("http://elsewhere.test"), "chat", CHAT)
    with pytest.raises(ValueError, match="scheme://host"):
        InProcessTransport(web.Application(), origin="http://fake-provider.test/v1")


async def test_an_oversized_answer_is_refused_and_a_closed_transport_serves_nothing() -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        if request.path == "/declared":
            return web.Response(body=b"x" * 4096)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(8):
            await response.write(b"x" * 1024)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/{name}", big)
    transport = InProcessTransport(app, origin=ORIGIN, max_response_bytes=2048)
    for path in ("/declared", "/chunked"):
        with pytest.raises(ResponseTooLarge):
            await transport.post(HttpRequest(ORIGIN + path, {}, b""))
    await transport.aclose()
    await transport.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await transport.post(HttpRequest(ORIGIN + "/declared", {}, b""))
