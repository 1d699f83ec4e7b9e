"""The outbox's notion of time: the system clock, or a manual one tests move forward.

Retries wait for an absolute due time (`sleep_until`), so a test can advance a `ManualClock` past a
backoff delay and the worker wakes at once, with no real waiting and no fixed sleeps.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now() >= deadline`."""
        ...


class SystemClock:
    """Wall-clock time (`time.time`) with asyncio sleeps."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """Time that moves only when `advance` is called; sleepers wake when their deadline is passed."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._moved.set()

    async def sleep_until(self, deadline: float) -> None:
        while self._now < deadline:
            self._moved.clear()
            await self._moved.wait()
