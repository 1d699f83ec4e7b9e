"""Each phase of an attempt's `Timeouts` (connect, first token, read, total), plain and streamed, in process.

The upstream is a MemoryTransport whose steps wait on events the test never sets (or, for the total
deadline, an endless stream): the limit under test is then the only way a call can end, however
slow the machine; every other limit is a minute, far beyond it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.gateway.providers.conftest import json_reply, openai_target
from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    CallOptions,
    HttpRequest,
    HttpResponse,
    MemoryTransport,
    Timeouts,
    Trickle,
    UpstreamResponse,
    UpstreamStream,
    UpstreamStreamCut,
    UpstreamTimeout,
    call,
)
from tfy_gateway.gateway.providers.aiohttp_transport import client_timeout

CHAT: dict[str, Any] = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}
TARGET = openai_target("http://openai.test", "gpt-4o-mini")
COMPLETION = {"object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}}
SSE = {"content-type": "text/event-stream"}
MINUTE = 60.0
SHORT = 0.05


def event(content: str) -> bytes:
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def never() -> None:
    await asyncio.Event().wait()


async def never_connects(request: HttpRequest) -> None:
    await never()


async def first_then_silence() -> AsyncIterator[bytes]:
    yield event("a")
    await never()


async def silence() -> AsyncIterator[bytes]:
    await never()
    yield b""


async def endless() -> AsyncIterator[bytes]:
    """An answer that never ends: a piece every few milliseconds, so only a total limit stops it."""
    while True:
        yield event("x")
        await asyncio.sleep(0.005)


def trickling(pieces: AsyncIterator[bytes], content_type: str = "text/event-stream") -> MemoryTransport:
    return MemoryTransport(lambda request: Trickle(200, {"content-type": content_type}, pieces))


async def fails(transport: MemoryTransport, body: dict[str, Any], timeouts: Timeouts) -> UpstreamTimeout:
    with pytest.raises(UpstreamTimeout) as timed_out:
        await call(transport, TARGET, "chat", body, CallOptions(timeouts=timeouts))
    return timed_out.value


async def cut_after_first_chunk(transport: MemoryTransport, timeouts: Timeouts) -> tuple[UpstreamStreamCut, int]:
    """A stream that started (its first chunk arrived) and was then cut; the error and the chunks seen."""
    stream = await call(transport, TARGET, "chat", STREAM, CallOptions(timeouts=timeouts))
    assert isinstance(stream, UpstreamStream)
    received = 0
    with pytest.raises(UpstreamStreamCut) as cut:
        async for _ in stream:
            received += 1
    assert transport.streams[0].closed and transport.streams[0].drained is False  # the connection is dropped
    return cut.value, received


@pytest.mark.parametrize("body", [CHAT, STREAM], ids=["plain", "stream"])
async def test_a_slow_connect_trips_the_connect_limit(body: dict[str, Any]) -> None:
    transport = MemoryTransport(lambda request: json_reply(200, COMPLETION), connect=never_connects)
    timeouts = Timeouts(connect=SHORT, first_token=MINUTE, read=MINUTE, total=MINUTE)
    error = await fails(transport, body, timeouts)
    assert (error.status, error.phase) == (504, "connect")
    assert error.message == "openai at openai.test:80: no connection within 0.05s"


async def test_a_connect_within_its_limit_goes_on_to_the_answer() -> None:
    connected = asyncio.Event()

    async def connecting(request: HttpRequest) -> None:
        connected.set()

    transport = MemoryTransport(lambda request: json_reply(200, COMPLETION), connect=connecting)
    answer = await call(transport, TARGET, "chat", CHAT, CallOptions(timeouts=Timeouts(connect=MINUTE)))
    assert isinstance(answer, UpstreamResponse) and connected.is_set()


async def test_a_slow_first_chunk_trips_the_first_token_limit() -> None:
    timeouts = Timeouts(connect=MINUTE, first_token=SHORT, read=MINUTE, total=MINUTE)
    error = await fails(trickling(silence()), STREAM, timeouts)
    assert (error.status, error.phase) == (504, "first_token")
    assert error.message == "openai sent no first token within 0.05s"


async def test_a_plain_answers_first_token_is_its_whole_body() -> None:
    # Half the body arrives at once, the rest never: a plain call has no first token before its end.
    half = Trickle(200, {"content-type": "application/json"}, first_then_silence())
    timeouts = Timeouts(connect=MINUTE, first_token=SHORT, read=MINUTE, total=MINUTE)
    error = await fails(MemoryTransport(lambda request: half), CHAT, timeouts)
    assert error.phase == "first_token" and error.message == "openai at openai.test:80 did not answer within 0.05s"


@pytest.mark.parametrize("body", [CHAT, STREAM], ids=["plain", "stream"])
async def test_no_headers_in_time_trips_the_read_limit(body: dict[str, Any]) -> None:
    async def silent(request: HttpRequest) -> HttpResponse:
        await never()
        raise AssertionError("unreachable")

    timeouts = Timeouts(connect=MINUTE, first_token=MINUTE, read=SHORT, total=MINUTE)
    error = await fails(MemoryTransport(silent), body, timeouts)
    assert (error.status, error.phase) == (504, "read")
    assert error.message == "openai at openai.test:80 sent nothing for 0.05s"


async def test_a_stall_mid_stream_trips_the_read_limit_and_cuts_the_stream() -> None:
    timeouts = Timeouts(connect=MINUTE, first_token=MINUTE, read=SHORT, total=MINUTE)
    cut, received = await cut_after_first_chunk(trickling(first_then_silence()), timeouts)
    assert received == 1 and cut.status == 502
    assert cut.message == "openai broke off the stream: openai at openai.test:80 sent nothing for 0.05s"


async def test_a_stream_that_never_ends_trips_the_total_limit() -> None:
    timeouts = Timeouts(connect=MINUTE, first_token=MINUTE, read=MINUTE, total=0.2)
    cut, received = await cut_after_first_chunk(trickling(endless()), timeouts)
    assert received > 1  # it flowed, without any silence, until the deadline
    assert cut.message == "openai broke off the stream: openai at openai.test:80 did not finish answering within 0.2s"


async def test_a_plain_answer_that_never_ends_trips_the_total_limit() -> None:
    timeouts = Timeouts(connect=MINUTE, first_token=MINUTE, read=MINUTE, total=0.2)
    error = await fails(trickling(endless(), "application/json"), CHAT, timeouts)
    assert (error.status, error.phase) == (504, "total")
    assert error.message == "openai at openai.test:80 did not finish answering within 0.2s"


def test_the_aiohttp_timeout_of_each_phase() -> None:
    within = Timeouts.within(30)
    # A plain call: one bound on the whole exchange (its first token is its body), as before.
    assert client_timeout(within, streaming=False) == (aiohttp.ClientTimeout(total=30), "first_token")
    # A stream: connect and each silence; its first token is its reader's, and it may run for hours.
    stream_limit = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=30)
    assert client_timeout(within, streaming=True) == (stream_limit, "total")
    phases = Timeouts(connect=1, first_token=5, read=2, total=600)
    assert client_timeout(phases, streaming=False) == (
        aiohttp.ClientTimeout(total=5, sock_connect=1, sock_read=2),
        "first_token",
    )
    assert client_timeout(phases, streaming=True) == (
        aiohttp.ClientTimeout(total=600, sock_connect=1, sock_read=2),
        "total",
    )
    assert client_timeout(Timeouts(), streaming=True) == (None, "total")


async def test_aiohttp_reports_the_same_phases_on_a_real_socket() -> None:
    """The production transport over loopback: no headers in time; a stall after the first chunk; a
    stream past its total limit."""
    release = asyncio.Event()  # set when the test ends: until then the server holds every answer open

    async def upstream(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/silent/"):
            await release.wait()
        response = web.StreamResponse(headers=SSE)
        await response.prepare(request)
        await response.write(event("a"))
        await release.wait()
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", upstream)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    target, silent = openai_target(base), openai_target(base, base_url=f"{base}/silent/v1")
    try:
        async with AiohttpTransport() as transport:
            stalls = CallOptions(timeouts=Timeouts(connect=MINUTE, first_token=MINUTE, read=0.2))
            with pytest.raises(UpstreamTimeout) as no_headers:
                await call(transport, silent, "chat", STREAM, stalls)
            assert no_headers.value.phase == "read" and "sent nothing for 0.2s" in no_headers.value.message
            for options, expected in (
                (stalls, "sent nothing for 0.2s"),
                (CallOptions(timeouts=Timeouts(first_token=MINUTE, read=MINUTE, total=0.3)), "within 0.3s"),
            ):
                stream = await call(transport, target, "chat", STREAM, options)
                assert isinstance(stream, UpstreamStream)
                with pytest.raises(UpstreamStreamCut, match=expected):
                    async for _ in stream:
                        pass
    finally:
        release.set()
        await server.close()
