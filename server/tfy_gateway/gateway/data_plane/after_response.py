"""`AfterResponse`: the accounting of answered requests (request-log record, metrics), done while the
event loop would otherwise wait, not between a request and its answer.

At one request at a time the loop's work is the client's latency: whatever runs between an answer's
last byte and the next request's upstream call (the next request is usually already waiting in its
socket by then) delays that next request. A request's log record and metrics decide nothing about
any answer, so the pipeline hands them here once its response is out, and they run while a later
request waits for its provider (`while_waiting`: after that request's upstream call was written),
or, when no request comes, on a short timer. Whoever reads what they produce drains them first
(`drain`): `/metrics`, the request-log queries (through the log writer's flush), shutdown. Work runs
once, in the order it was handed over; a failure is logged and never stops the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

IDLE_S = 0.002
"""How long accounting waits for a request's upstream wait to run in before the timer runs it:
short enough that anything polling for a record finds it at once, long enough for a closed loop's
next request to arrive (tens of microseconds)."""

Work = Callable[[], None]


class AfterResponse:
    """A FIFO of accounting work, run by `while_waiting`, `drain` or the idle timer (see the module)."""

    __slots__ = ("_hop", "_loop", "_queue", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: deque[Work] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._hop = False  # a `while_waiting` run is scheduled

    def defer(self, work: Work) -> None:
        """Run `work` later, after the work handed over before it."""
        self._queue.append(work)
        if self._timer is None:
            self._timer = self._loop.call_later(IDLE_S, self._on_timer)

    def while_waiting(self) -> None:
        """The current task is about to await its upstream call: run what is queued once that call's
        request was written (two turns of the loop: the transport writes from a task it starts)."""
        if self._queue and not self._hop:
            self._hop = True
            self._loop.call_soon(self._loop.call_soon, self._waiting)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def drain(self) -> None:
        """Run everything queued now (for readers of what it produces, and at shutdown)."""
        queue = self._queue
        while queue:
            work = queue.popleft()
            try:
                work()
            except Exception:
                logger.exception("accounting for an answered request failed")

    def _waiting(self) -> None:
        self._hop = False
        self.drain()

    def _on_timer(self) -> None:
        self._timer = None
        self.drain()
