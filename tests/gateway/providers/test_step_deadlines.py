"""`providers.deadlines.Deadlines.wait`: a step bounded by its phase's limit, and never a lost cancellation."""

from __future__ import annotations

import asyncio

import pytest

from tfy_gateway.gateway.providers import Timeouts
from tfy_gateway.gateway.providers.deadlines import Deadlines
from tfy_gateway.gateway.providers.transport import TransportTimeout


async def test_a_cancellation_that_lands_as_the_step_completes_is_not_lost() -> None:
    """The client leaves (its task is cancelled) in the same turn of the loop as a chunk arrives:
    the wait must end in CancelledError, not hand back the chunk (asyncio.wait_for on Python <= 3.11
    did, and an endless stream then outlived its client)."""
    deadlines = Deadlines(Timeouts(read=30.0), streaming=True)
    loop = asyncio.get_running_loop()
    chunk: asyncio.Future[bytes] = loop.create_future()
    waiting = asyncio.ensure_future(deadlines.wait(chunk, "read"))
    await asyncio.sleep(0)  # the wait is now suspended on the chunk
    chunk.set_result(b"data: {}\n\n")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_step_past_its_phases_limit_is_a_timeout_naming_the_phase() -> None:
    deadlines = Deadlines(Timeouts(read=0.01), streaming=True)
    never: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    with pytest.raises(TransportTimeout) as expired:
        await deadlines.wait(never, "read")
    assert expired.value.phase == "read"
