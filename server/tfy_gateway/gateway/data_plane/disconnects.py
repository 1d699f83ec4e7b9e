"""`DisconnectWatch`: notice clients that go away, with one timer for every request under way.

A request that runs longer than `after_s` gets a task that waits on its `receive` for the client
leaving (asgi.WATCH_AFTER_S says why most requests never need one). A timer per request did that at
the cost of a libuv timer handle armed and closed for every request, ~4 µs of a ~55 µs request, for
the few that last that long. Here requests join the current *generation* (a dict) and one timer ticks
every `after_s / 2` while any request is under way: at each tick the generations age by one, and the
requests that joined before the last two ticks (under way for at least `after_s`, less than 1.5
`after_s`) get their watcher. A request that ends leaves its generation (one dict removal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tfy_gateway.gateway.data_plane.asgi import WATCH_AFTER_S, ClientGone, Receive

T = TypeVar("T")
AGES = 3  # a generation is watched at its third tick: after at least two half-periods


async def unless_disconnected(
    receive: Receive, work: Awaitable[T], completed: Callable[[], bool], *, after_s: float = WATCH_AFTER_S
) -> T:
    """`work` under a watch of its own (the data plane shares one, `DataPlane.disconnects`)."""
    return await DisconnectWatch(asyncio.get_running_loop(), after_s).run(receive, work, completed)


class _Watched:
    """One request under way: what its watcher needs, and whether the client left."""

    __slots__ = ("completed", "generation", "gone", "receive", "task", "watcher")

    def __init__(
        self,
        receive: Receive,
        completed: Callable[[], bool],
        task: asyncio.Task[Any],
        generation: dict[int, _Watched],
    ) -> None:
        self.receive = receive
        self.completed = completed
        self.task = task
        self.generation = generation
        self.gone = False
        self.watcher: asyncio.Task[None] | None = None

    async def watch(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        if not self.completed():
            self.gone = True
            self.task.cancel()


class DisconnectWatch:
    """`run(receive, work, completed)`: `work`, cancelled (ClientGone) if the client leaves first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, after_s: float) -> None:
        self._loop = loop
        self._tick_s = after_s / 2
        # Youngest first; each holds the requests that joined between two ticks, by id.
        self._generations: list[dict[int, _Watched]] = [{} for _ in range(AGES)]
        self._timer: asyncio.TimerHandle | None = None

    async def run(self, receive: Receive, work: Awaitable[T], completed: Callable[[], bool]) -> T:
        """Await `work` in the current task; cancelling it closes the upstream connection, which is how
        an abandoned request stops the provider's generation. Call it only after the request body was
        read; `completed()` tells the response's own end (which `receive` reports too) from a client
        leaving."""
        task = asyncio.current_task(self._loop)
        assert task is not None
        generation = self._generations[0]
        watched = _Watched(receive, completed, task, generation)
        key = id(watched)
        generation[key] = watched
        if self._timer is None:
            self._timer = self._loop.call_later(self._tick_s, self._tick)
        try:
            return await work
        except asyncio.CancelledError:
            if not watched.gone:
                raise
            uncancel = getattr(task, "uncancel", None)  # Python >= 3.11
            if uncancel is not None:
                uncancel()
            raise ClientGone from None
        finally:
            watched.generation.pop(key, None)
            if watched.watcher is not None:
                watched.watcher.cancel()

    @property
    def ticking(self) -> bool:
        """True while a request is under way (the timer stops once none is)."""
        return self._timer is not None

    def _tick(self) -> None:
        generations = self._generations
        due = generations.pop()
        for watched in due.values():
            watched.watcher = self._loop.create_task(watched.watch())
        generations.insert(0, {})
        self._timer = self._loop.call_later(self._tick_s, self._tick) if any(generations) else None
