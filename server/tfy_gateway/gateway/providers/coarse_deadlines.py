"""`CoarseDeadlines`: long upstream time limits checked by one shared timer instead of one per call.

The gateway's own limit (`upstream_timeout_s`, 600 s by default) bounds every plain upstream call, and
it almost never fires. Handing it to aiohttp as a `ClientTimeout` costs each call a loop timer, a
timeout handle and a timer context entered around every read: about 12 µs of CPU per call (a sixth
of aiohttp's own work for a small answer). Here a call costs one entry in a set; a timer ticking once
a second, only while calls are in flight, cancels the task of a call past its deadline. A second of
slack is what aiohttp itself allows for such limits: it rounds a timeout of 5 s or more up to the
next whole second (`ClientTimeout.ceil_threshold`), so only limits of at least `COARSE_FROM_S` come
here; shorter ones stay aiohttp's, exact.
"""

from __future__ import annotations

import asyncio

COARSE_FROM_S = 5.0
"""Limits from this long on are checked once a second (aiohttp's own ceil_threshold)."""
TICK_S = 1.0


class Deadline:
    """One call's deadline: the task to cancel, when, and whether it was cancelled for it."""

    __slots__ = ("cancelling", "expired", "task", "when")

    def __init__(self, task: asyncio.Task[object], when: float) -> None:
        self.task = task
        self.when = when
        self.expired = False
        # Cancellations already asked of the task (Python >= 3.11): one of those is not ours to absorb.
        cancelling = getattr(task, "cancelling", None)
        self.cancelling: int = cancelling() if cancelling is not None else 0


def coarse_deadlines_of(transport: object) -> CoarseDeadlines | None:
    """The shared deadline watch of `transport` when it keeps one (`AiohttpTransport`, and a
    `DeferredTransport` once built), for limits a caller of the transport watches itself (a stream's
    first token); None: the caller needs its own timer."""
    deadlines = getattr(transport, "coarse_deadlines", None)
    return deadlines if isinstance(deadlines, CoarseDeadlines) else None


class CoarseDeadlines:
    """The deadlines of the calls in flight on one event loop (create it inside that loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tick_s: float | None = None) -> None:
        self._loop = loop
        self._tick_s = TICK_S if tick_s is None else tick_s
        self._pending: set[Deadline] = set()
        self._ticker: asyncio.TimerHandle | None = None

    def start(self, seconds: float) -> Deadline:
        """Watch the current task for `seconds` (give it back with `finish`)."""
        task = asyncio.current_task(self._loop)
        if task is None:
            raise RuntimeError("a deadline needs a task to cancel")
        deadline = Deadline(task, self._loop.time() + seconds)
        self._pending.add(deadline)
        if self._ticker is None:
            self._ticker = self._loop.call_later(self._tick_s, self._tick)
        return deadline

    def finish(self, deadline: Deadline) -> None:
        self._pending.discard(deadline)

    def timed_out(self, deadline: Deadline) -> bool:
        """After a CancelledError: True when it was this deadline's (the task is uncancelled, so the
        caller raises its timeout instead); False when someone else cancelled the task too."""
        if not deadline.expired:
            return False
        uncancel = getattr(deadline.task, "uncancel", None)  # Python >= 3.11
        return uncancel is None or uncancel() <= deadline.cancelling

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._pending.clear()

    def _tick(self) -> None:
        now = self._loop.time()
        for deadline in [d for d in self._pending if d.when <= now]:
            self._pending.discard(deadline)
            deadline.expired = True
            deadline.task.cancel()
        # Ticks stop while nothing is in flight: an idle gateway runs no timer.
        self._ticker = self._loop.call_later(self._tick_s, self._tick) if self._pending else None
