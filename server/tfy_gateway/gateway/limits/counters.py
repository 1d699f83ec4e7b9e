"""`WindowCounters`: the sliding-window counters of every rate limit, in memory, owned by one data plane.

A counter is a few buckets (index -> amount). Check-and-reserve is done by the caller in one
synchronous step on the event loop, so it is atomic there: nothing else runs between reading a
counter and adding to it. Memory stays bounded: per period, counters are kept in the order of their
newest bucket, and adding to any counter drops, from the front, those whose newest bucket no longer
counts (nothing is left of them in any window). An expired counter is simply absent, which reads as 0.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from tfy_gateway.gateway.limits.window import Period

Clock = Callable[[], float]
"""Epoch seconds; tests pass a controllable one."""


class _Counter:
    __slots__ = ("buckets", "newest")

    def __init__(self, newest: int) -> None:
        self.buckets: dict[int, int] = {}
        self.newest = newest


class WindowCounters:
    """Counters per (period, key); `key` is any hashable value chosen by the limiter."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._tables: dict[Period, OrderedDict[Hashable, _Counter]] = {}
        # The newest bucket seen per period: a clock that steps back never moves a window backwards.
        self._latest: dict[Period, int] = {}

    def current(self, period: Period, now: float) -> int:
        """The current bucket of `period` at `now`, never earlier than one already used."""
        index = period.index(now)
        latest = self._latest.get(period)
        if latest is not None and index < latest:
            return latest
        self._latest[period] = index
        return index

    def used(self, period: Period, key: Hashable, current: int) -> int:
        counter = self._counter(period, key)
        if counter is None:
            return 0
        return sum(amount for bucket, amount in counter.buckets.items() if period.counts(bucket, current))

    def frees_at(self, period: Period, key: Hashable, current: int, excess: int) -> float | None:
        """When at least `excess` of what the window holds will have expired, or None if it never will."""
        counter = self._counter(period, key)
        if counter is None or excess <= 0:
            return None if excess > 0 else 0.0
        freed = 0
        for bucket in sorted(counter.buckets):
            if period.counts(bucket, current):
                freed += counter.buckets[bucket]
                if freed >= excess:
                    return period.expires_at(bucket)
        return None

    def add(self, period: Period, key: Hashable, current: int, amount: int) -> None:
        table = self._tables.setdefault(period, OrderedDict())
        counter = table.get(key)
        if counter is None:
            counter = table[key] = _Counter(current)
        elif current > counter.newest:
            counter.newest = current
            table.move_to_end(key)
            for bucket in [b for b in counter.buckets if not period.counts(b, current)]:
                del counter.buckets[bucket]
        counter.buckets[current] = counter.buckets.get(current, 0) + amount
        self._drop_expired(table, period, current)

    def adjust(self, period: Period, key: Hashable, bucket: int, delta: int) -> None:
        """Correct what `bucket` holds (settling a reservation); a bucket that is gone no longer matters."""
        counter = self._counter(period, key)
        if counter is None or bucket not in counter.buckets:
            return
        counter.buckets[bucket] = max(0, counter.buckets[bucket] + delta)

    def __len__(self) -> int:
        """Live counters (expired ones may linger until the next `add` of their period)."""
        return sum(len(table) for table in self._tables.values())

    def _counter(self, period: Period, key: Hashable) -> _Counter | None:
        table = self._tables.get(period)
        return table.get(key) if table is not None else None

    @staticmethod
    def _drop_expired(table: OrderedDict[Hashable, _Counter], period: Period, current: int) -> None:
        while table:
            key, counter = next(iter(table.items()))
            if period.counts(counter.newest, current):
                return
            del table[key]
