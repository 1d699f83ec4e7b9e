"""CoarseDeadlines on its own, AiohttpTransport handing it a plain call's long overall limit, and a
stream's long first-token limit watched by it too (directly or through a DeferredTransport)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.gateway.providers.conftest import openai_target, serving
from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    HttpRequest,
    Timeouts,
    TransportTimeout,
    UpstreamTimeout,
    aiohttp_transport,
    coarse_deadlines,
    stream,
)
from tfy_gateway.gateway.providers.coarse_deadlines import CoarseDeadlines
from tfy_gateway.gateway.providers.deferred_transport import DeferredTransport
from tfy_gateway.gateway.providers.http1_client import Http1Client, Limits
from tfy_gateway.gateway.providers.openai_compatible import OpenAIChunks

TICK = 0.01


async def test_a_call_past_its_deadline_is_cancelled_and_reported_as_a_timeout() -> None:
    deadlines = CoarseDeadlines(asyncio.get_running_loop(), tick_s=TICK)
    deadline = deadlines.start(0.02)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.Event().wait()  # never set: only the deadline ends this wait
    assert deadlines.timed_out(deadline)
    deadlines.finish(deadline)
    if sys.version_info >= (3, 11):
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]  # absorbed, not leaked
    deadlines.close()


async def test_a_call_that_finishes_in_time_is_left_alone_and_the_ticks_stop() -> None:
    deadlines = CoarseDeadlines(asyncio.get_running_loop(), tick_s=TICK)
    deadline = deadlines.start(60.0)
    ticked = asyncio.Event()
    asyncio.get_running_loop().call_later(3 * TICK, ticked.set)  # a few ticks run while the call is in flight
    await ticked.wait()
    deadlines.finish(deadline)
    assert not deadline.expired and not deadlines.timed_out(deadline)
    while deadlines._ticker is not None:  # the next tick finds nothing in flight and schedules no other
        await asyncio.sleep(TICK)
    deadlines.close()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() arrived in Python 3.11")
async def test_a_cancellation_of_someone_elses_beside_the_deadline_is_not_swallowed() -> None:
    deadlines = CoarseDeadlines(asyncio.get_running_loop(), tick_s=60.0)
    task = asyncio.current_task()
    assert task is not None
    deadline = deadlines.start(0.0)
    deadlines._tick()  # the deadline passed: its tick cancels the task...
    task.cancel()  # ...and the client goes away in the same turn of the loop
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(0)
    assert deadline.expired and not deadlines.timed_out(deadline)  # the caller re-raises: the other one stands
    assert task.uncancel() == 0
    deadlines.close()


@contextlib.asynccontextmanager
async def silent_upstream(release: asyncio.Event, *, stream: bool = False) -> AsyncIterator[str]:
    """An upstream that answers nothing until `release`; a `stream`: its headers, then nothing."""

    async def hold(request: web.Request) -> web.StreamResponse:
        if not stream:
            await release.wait()
            return web.json_response({})
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await release.wait()
        return response

    async with serving(hold) as server:
        try:
            yield f"http://127.0.0.1:{server.port}/v1/chat/completions"
        finally:
            release.set()  # before the server closes: it waits for the held answers


async def test_a_plain_calls_long_limit_is_watched_without_an_aiohttp_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the threshold lowered so a test can wait for it: the limit that would be aiohttp's
    ClientTimeout(total=...) is CoarseDeadlines' instead, and still ends the call with its phase."""
    monkeypatch.setattr(aiohttp_transport, "COARSE_FROM_S", 0.05)
    monkeypatch.setattr(coarse_deadlines, "TICK_S", TICK)
    sent: list[dict[str, Any]] = []
    post = aiohttp.ClientSession.post

    def spy(self: aiohttp.ClientSession, url: Any, **options: Any) -> Any:
        sent.append(options)
        return post(self, url, **options)

    monkeypatch.setattr(aiohttp.ClientSession, "post", spy)
    async with silent_upstream(asyncio.Event()) as url, AiohttpTransport(http1=False) as transport:
        request = HttpRequest(url, {}, b"{}", timeouts=Timeouts.within(0.1))
        with pytest.raises(TransportTimeout) as expired:
            await transport.post(request)
        assert expired.value.phase == "first_token"
        assert "timeout" not in sent[0]
        assert transport._deadlines is not None and not transport._deadlines._pending
        # A short limit (under the threshold) stays aiohttp's own, exact one.
        short = HttpRequest(url, {}, b"{}", timeouts=Timeouts.within(0.03))
        with pytest.raises(TransportTimeout):
            await transport.post(short)
        assert sent[1]["timeout"] == aiohttp.ClientTimeout(total=0.03)


async def test_the_lean_clients_long_limit_is_watched_without_a_timer_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same for a plain POST on the lean HTTP/1.1 client: no total of its own under the coarse
    watch, which still ends the call with its phase; a short limit stays the client's, exact."""
    monkeypatch.setattr(aiohttp_transport, "COARSE_FROM_S", 0.05)
    monkeypatch.setattr(coarse_deadlines, "TICK_S", TICK)
    given: list[Limits] = []
    post = Http1Client.post

    async def spy(self: Http1Client, url: str, headers: Any, body: bytes, limits: Limits) -> Any:
        given.append(limits)
        return await post(self, url, headers, body, limits)

    monkeypatch.setattr(Http1Client, "post", spy)
    long = Timeouts.within(0.1)
    async with silent_upstream(asyncio.Event()) as url, AiohttpTransport() as transport:
        with pytest.raises(TransportTimeout) as expired:
            await transport.post(HttpRequest(url, {}, b"{}", timeouts=long))
        assert expired.value.phase == "first_token"
        assert given[0].total is None
        assert transport._deadlines is not None and not transport._deadlines._pending
        with pytest.raises(TransportTimeout) as short:
            await transport.post(HttpRequest(url, {}, b"{}", timeouts=Timeouts.within(0.03)))
        assert short.value.phase == "first_token" and given[1].total == 0.03
        # The limits the transport keeps per Timeouts are each call's own, whichever came before.
        for timeouts, total in ((long, None), (Timeouts.within(0.03), 0.03), (Timeouts.within(0.1), None)):
            with pytest.raises(TransportTimeout):
                await transport.post(HttpRequest(url, {}, b"{}", timeouts=timeouts))
            assert given[-1].total == total


async def test_a_cancelled_plain_call_stays_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coarse_deadlines, "TICK_S", TICK)
    async with silent_upstream(asyncio.Event()) as url, AiohttpTransport() as transport:
        call = asyncio.ensure_future(transport.post(HttpRequest(url, {}, b"{}", timeouts=Timeouts.within(600))))
        while transport._deadlines is None or not transport._deadlines._pending:
            await asyncio.sleep(TICK)  # until the call is in flight
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert not transport._deadlines._pending


async def test_a_streams_long_first_token_limit_is_watched_by_the_transports_deadlines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the threshold lowered so a test can wait for it: no anyio timer, the same first_token timeout."""
    monkeypatch.setattr(stream, "COARSE_FROM_S", 0.05)
    monkeypatch.setattr(coarse_deadlines, "TICK_S", TICK)
    timers: list[float] = []
    fail_after = stream.anyio.fail_after

    def spy(delay: float) -> Any:
        timers.append(delay)
        return fail_after(delay)

    monkeypatch.setattr(stream.anyio, "fail_after", spy)
    async with silent_upstream(asyncio.Event(), stream=True) as url, AiohttpTransport() as direct:
        target = openai_target(url.removesuffix("/v1/chat/completions"))
        deferred = DeferredTransport(AiohttpTransport)
        for transport in (direct, deferred, direct, deferred):  # a first call builds the session: anyio's timer
            request = HttpRequest(url, {}, b"{}", timeouts=Timeouts(first_token=0.1))
            with pytest.raises(UpstreamTimeout) as expired:
                await stream.start_stream(transport, target, request, OpenAIChunks(target, strip_usage=False))
            assert expired.value.phase == "first_token"
        await deferred.aclose()
        assert timers == [0.1, 0.1]  # the first call of each transport; their second ones watched coarsely
        assert direct._deadlines is not None and not direct._deadlines._pending
        # A short limit (under the threshold) keeps its own exact timer.
        short = HttpRequest(url, {}, b"{}", timeouts=Timeouts(first_token=0.03))
        with pytest.raises(UpstreamTimeout):
            await stream.start_stream(direct, target, short, OpenAIChunks(target, strip_usage=False))
        assert timers == [0.1, 0.1, 0.03]
