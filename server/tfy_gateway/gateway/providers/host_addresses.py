"""`HostAddresses`: an upstream host's addresses, looked up once per `TTL_S` and shared by concurrent callers.

Every new upstream connection needs its host's addresses, and a lookup goes through the event loop's
default executor (a handful of threads) to the system resolver. After a quiet spell a burst of calls
opens many connections to one host at once: without a cache each would queue its own lookup of the
same name (aiohttp's client kept its answers for 300 s for the same reason). Failed lookups are not
kept: the next connection asks again.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

TTL_S = 300.0
"""How long a host's addresses are reused (aiohttp's ttl_dns_cache, which the gateway used before)."""

Address = tuple[int, Any]  # (address family, socket address) as getaddrinfo gives them


class HostAddresses:
    """Addresses per (host, port), for one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ttl_s: float = TTL_S) -> None:
        self._loop = loop
        self._ttl_s = ttl_s
        self._known: dict[tuple[str, int], tuple[float, list[Address]]] = {}
        self._asking: dict[tuple[str, int], asyncio.Future[list[Address]]] = {}

    async def of(self, host: str, port: int) -> list[Address]:
        """`host`'s addresses in the resolver's order (socket.gaierror, an OSError, when it has none)."""
        key = (host, port)
        known = self._known.get(key)
        if known is not None and known[0] > self._loop.time():
            return known[1]
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.ensure_future(self._look_up(key))
        # One caller giving up (its own time limit, a cancelled request) must not cancel the others' lookup.
        return await asyncio.shield(asking)

    async def _look_up(self, key: tuple[str, int]) -> list[Address]:
        try:
            infos = await self._loop.getaddrinfo(key[0], key[1], type=socket.SOCK_STREAM)
        finally:
            del self._asking[key]
        addresses: list[Address] = [(family, sockaddr) for family, _, _, _, sockaddr in infos]
        if addresses:
            self._known[key] = (self._loop.time() + self._ttl_s, addresses)
        return addresses
