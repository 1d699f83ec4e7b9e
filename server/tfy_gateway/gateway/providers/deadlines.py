"""`Deadlines`: one upstream attempt's `Timeouts` enforced on the event loop's clock.

For transports that do not hand the limits to a network library (`MemoryTransport`,
`InProcessTransport`): each step of the exchange is awaited through `wait(step, phase)`, bounded by
its phase's limit and by what is left of the attempt's overall deadline (total; for a plain call
first_token too), and an expiry raises `TransportTimeout` naming the phase whose limit it was, as
`AiohttpTransport` reports aiohttp's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import anyio

from tfy_gateway.gateway.providers.timeouts import Phase, Timeouts
from tfy_gateway.gateway.providers.transport import TransportTimeout

T = TypeVar("T")


class Deadlines:
    """One attempt's limits on the loop's clock, from its start (the object's creation)."""

    def __init__(self, timeouts: Timeouts, *, streaming: bool) -> None:
        self._timeouts = timeouts
        limit, self._overall = timeouts.overall(streaming=streaming)
        self._loop = asyncio.get_running_loop()
        self._deadline = None if limit is None else self._loop.time() + limit

    async def wait(self, step: Awaitable[T], phase: Phase) -> T:
        limit, expiring = self._timeouts.limit(phase), phase
        if self._deadline is not None:
            left = self._deadline - self._loop.time()
            if limit is None or left <= limit:
                limit, expiring = left, self._overall
        if limit is None:
            return await step
        try:
            # A cancel scope, not asyncio.wait_for: up to Python 3.11 wait_for returns the step's result when
            # a cancellation (a client that left) lands as the step completes, and the cancellation is lost.
            with anyio.fail_after(max(limit, 0.0)):
                return await step
        except TimeoutError:
            raise TransportTimeout(expiring) from None
