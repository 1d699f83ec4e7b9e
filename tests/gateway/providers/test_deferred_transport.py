"""DeferredTransport: the real transport is built once, on first use (or warm()), and closed with it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tfy_gateway.gateway.providers import DeferredTransport, HttpRequest, HttpResponse, MemoryTransport


class Built(MemoryTransport):
    """A MemoryTransport that records the thread it was built in and whether it was closed."""

    def __init__(self) -> None:
        super().__init__(lambda request: HttpResponse(200, {}, request.body))
        self.thread = threading.current_thread()
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class Factory:
    def __init__(self) -> None:
        self.built: list[Built] = []

    def __call__(self) -> Built:
        self.built.append(Built())
        return self.built[-1]


async def test_builds_once_in_a_worker_thread_on_first_call() -> None:
    factory = Factory()
    transport = DeferredTransport(factory)
    assert factory.built == []
    answers = await asyncio.gather(*(transport.post(HttpRequest("http://x", {}, b"%d" % n)) for n in range(5)))
    assert [answer.body for answer in answers] == [b"%d" % n for n in range(5)]
    assert len(factory.built) == 1
    assert factory.built[0].thread is not threading.main_thread()
    await transport.aclose()
    assert factory.built[0].closed


async def test_warm_builds_ahead_and_close_waits_for_the_build() -> None:
    factory = Factory()
    transport = DeferredTransport(factory)
    transport.warm()
    await transport.aclose()
    assert len(factory.built) == 1 and factory.built[0].closed
    with pytest.raises(RuntimeError, match="closed"):
        await transport.post(HttpRequest("http://x", {}))


async def test_close_without_use_builds_nothing() -> None:
    factory = Factory()
    await DeferredTransport(factory).aclose()
    assert factory.built == []
