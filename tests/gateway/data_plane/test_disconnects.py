"""`DisconnectWatch` (and `unless_disconnected`, a watch of its own): a client that goes away cancels the
work; a quick request starts no watcher; one timer serves every request under way, and stops with them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers import eventually
from tfy_gateway.gateway.data_plane.asgi import ClientGone
from tfy_gateway.gateway.data_plane.disconnects import DisconnectWatch, unless_disconnected


class Connection:
    """The ASGI `receive` of a request whose body was read: it answers only when the client leaves."""

    def __init__(self) -> None:
        self.left = asyncio.Event()
        self.receives = 0

    async def receive(self) -> dict[str, Any]:
        self.receives += 1
        await self.left.wait()
        return {"type": "http.disconnect"}


async def test_a_quick_request_never_starts_a_watcher() -> None:
    connection = Connection()
    tasks_before = len(asyncio.all_tasks())

    async def work() -> str:
        assert len(asyncio.all_tasks()) == tasks_before  # no watcher task beside this one
        return "answer"

    assert await unless_disconnected(connection.receive, work(), lambda: False, after_s=30) == "answer"
    await asyncio.sleep(0)
    assert connection.receives == 0 and len(asyncio.all_tasks()) == tasks_before


async def test_a_client_gone_during_long_work_cancels_it() -> None:
    connection = Connection()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # work that only ends when cancelled
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def leave() -> None:
        await started.wait()
        connection.left.set()  # before the watcher starts: noticed when it does

    leaving = asyncio.ensure_future(leave())
    with pytest.raises(ClientGone):
        await asyncio.wait_for(unless_disconnected(connection.receive, work(), lambda: False, after_s=0.01), 60)
    await leaving
    assert cancelled.is_set() and connection.receives == 1


async def test_the_end_of_the_response_is_not_a_client_gone() -> None:
    connection = Connection()
    asked = asyncio.Event()

    def completed() -> bool:
        asked.set()
        return True  # the response is complete: the disconnect is its end, not the client leaving

    async def work() -> str:
        await eventually(lambda: connection.receives == 1, "the watcher waiting on receive")
        connection.left.set()  # what receive reports once the response is complete
        await asked.wait()  # the watcher saw it and asked whether the response was complete
        return "done"

    answer = unless_disconnected(connection.receive, work(), completed, after_s=0.01)
    assert await asyncio.wait_for(answer, 60) == "done"
    assert connection.receives == 1


async def test_one_watch_serves_many_requests_and_stops_ticking_without_any() -> None:
    watch = DisconnectWatch(asyncio.get_running_loop(), after_s=0.01)
    staying, leaving = Connection(), Connection()
    release = asyncio.Event()
    cancelled = asyncio.Event()

    async def long_work() -> str:
        await release.wait()
        return "answer"

    async def abandoned_work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    quick = await watch.run(Connection().receive, asyncio.sleep(0, "quick"), lambda: False)
    kept = asyncio.ensure_future(watch.run(staying.receive, long_work(), lambda: False))
    left = asyncio.ensure_future(watch.run(leaving.receive, abandoned_work(), lambda: False))
    await eventually(lambda: staying.receives == 1 and leaving.receives == 1, "both long requests watched")
    leaving.left.set()
    with pytest.raises(ClientGone):
        await asyncio.wait_for(left, 60)
    assert cancelled.is_set() and not kept.done()  # only the request whose client left
    release.set()
    assert quick == "quick" and await asyncio.wait_for(kept, 60) == "answer"
    await eventually(lambda: not watch.ticking, "the watch's timer stopped once no request is under way")
