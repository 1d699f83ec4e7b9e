"""`HostAddresses`: one lookup per host for concurrent callers, reused until its time is up, failures
never kept; and the lean HTTP/1.1 client's new connections go through it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.gateway.providers.conftest import serving
from tfy_gateway.gateway.providers.host_addresses import HostAddresses
from tfy_gateway.gateway.providers.http1_client import Http1Client, Limits


class CountingLookups:
    """Stands in for the loop's getaddrinfo: counts the lookups, answers the real one (or fails first)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, failures: int = 0) -> None:
        self.real = loop.getaddrinfo
        self.hosts: list[str] = []
        self.failures = failures
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, host: str, port: int, **options: Any) -> Any:
        self.hosts.append(host)
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await self.real(host, port, **options)


@contextlib.contextmanager
def counted(*, failures: int = 0, held: bool = False) -> Iterator[CountingLookups]:
    """The running loop's lookups counted for the block (`held`: each waits for `release`)."""
    loop = asyncio.get_running_loop()
    lookups = CountingLookups(loop, failures)
    if held:
        lookups.release.clear()
    loop.getaddrinfo = lookups  # type: ignore[method-assign]
    try:
        yield lookups
    finally:
        del loop.getaddrinfo  # type: ignore[method-assign]


async def test_concurrent_callers_share_one_lookup_reused_until_its_time_is_up() -> None:
    loop = asyncio.get_running_loop()
    with counted(held=True) as lookups:
        addresses = HostAddresses(loop)
        waiting = [asyncio.ensure_future(addresses.of("localhost", 80)) for _ in range(5)]
        await asyncio.sleep(0)
        lookups.release.set()
        answers = await asyncio.gather(*waiting)
        assert lookups.hosts == ["localhost"] and all(answer == answers[0] and answer for answer in answers)
        assert await addresses.of("localhost", 80) == answers[0] and lookups.hosts == ["localhost"]
        expired = HostAddresses(loop, ttl_s=0.0)
        await expired.of("localhost", 80)
        await expired.of("localhost", 80)
        assert lookups.hosts == ["localhost"] * 3


async def test_a_failed_lookup_is_not_kept() -> None:
    with counted(failures=1) as lookups:
        addresses = HostAddresses(asyncio.get_running_loop())
        with pytest.raises(OSError):
            await addresses.of("localhost", 80)
        assert await addresses.of("localhost", 80)
        assert lookups.hosts == ["localhost"] * 2


async def test_one_caller_giving_up_does_not_cancel_the_others_lookup() -> None:
    with counted(held=True) as lookups:
        addresses = HostAddresses(asyncio.get_running_loop())
        impatient = asyncio.ensure_future(addresses.of("localhost", 80))
        patient = asyncio.ensure_future(addresses.of("localhost", 80))
        await asyncio.sleep(0)
        impatient.cancel()
        lookups.release.set()
        assert await patient
        assert impatient.cancelled() and lookups.hosts == ["localhost"]


async def test_new_connections_of_the_client_look_their_host_up_once() -> None:
    async def closing(request: web.Request) -> web.Response:
        return web.json_response({}, headers={"Connection": "close"})  # every call needs a new connection

    no_limits = Limits(None, None, None, "total")
    with counted() as lookups:
        async with serving(closing) as server:
            client = Http1Client(1 << 20)
            url = f"http://localhost:{server.port}/v1/x"
            try:
                answers = await asyncio.gather(*(client.post(url, {}, b"{}", no_limits) for _ in range(4)))
                answers.append(await client.post(url, {}, b"{}", no_limits))
            finally:
                client.close()
    assert [answer.status for answer in answers] == [200] * 5
    assert lookups.hosts.count("localhost") == 1
