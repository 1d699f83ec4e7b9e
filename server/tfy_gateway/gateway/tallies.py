"""Label children that count in plain numbers and reach their Prometheus child when /metrics renders.

A Prometheus child takes a lock and re-checks its metric on every `inc` and `observe` (2.5 and 3.8 µs
here, a dozen per data-plane request). The data plane writes its children only from the event loop,
so a child of its own can count without a lock; `flush` adds what it counted to the Prometheus child
just before a rendering reads it, so /metrics shows exactly what the Prometheus child alone would
have shown (a histogram's observations land in the bucket its `observe` picks: the first upper bound
at or above the value; a NaN in none, its sum NaN).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable
from typing import Any


class Tally:
    """A counter's label child: `inc` as Prometheus', counted until `flush`."""

    __slots__ = ("_child", "_pending")

    def __init__(self, child: Any) -> None:
        self._child = child
        self._pending = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self._pending += amount

    def flush(self) -> None:
        if self._pending:
            self._child.inc(self._pending)
            self._pending = 0.0


class Spread:
    """A histogram's label child: `observe` as Prometheus', counted per bucket until `flush`."""

    __slots__ = ("_bounds", "_child", "_counts", "_observed", "_sum")

    def __init__(self, child: Any, upper_bounds: list[float]) -> None:
        self._child = child
        self._bounds = upper_bounds  # ascending, +Inf last (prometheus_client's own list)
        self._counts = [0] * len(upper_bounds)
        self._sum = 0.0
        self._observed = False

    def observe(self, amount: float) -> None:
        self._sum += amount
        self._observed = True
        if amount == amount:  # NaN falls in no bucket, as in prometheus_client
            self._counts[bisect_left(self._bounds, amount)] += 1

    def flush(self) -> None:
        """Into the Prometheus child's own sum and bucket values (prometheus_client has no public call
        that adds a count to a bucket; tests/gateway/test_tallies.py pins the rendering to its own)."""
        if not self._observed:
            return
        child = self._child
        child._sum.inc(self._sum)
        for position, count in enumerate(self._counts):
            if count:
                child._buckets[position].inc(count)
                self._counts[position] = 0
        self._sum = 0.0
        self._observed = False


class Level:
    """A gauge's value kept as a plain number (in-flight requests), read by the gauge when it renders."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1

    def get(self) -> float:
        return float(self.value)


MAX_SHAPES = 4096


class ShapeCache:
    """Request shapes -> what they write (`data_plane.request_series`), for one configuration at a time:
    a shape's labels come from the configuration, so a new one starts the cache over. Past `MAX_SHAPES`
    it starts over too (a guard: the labels are bounded by the configuration already)."""

    __slots__ = ("_config", "_found")

    def __init__(self) -> None:
        self._config: object = None
        self._found: dict[Hashable, Any] = {}

    def get(self, config: object, shape: Hashable) -> Any:
        """What `put` kept for `shape` under `config`, or None."""
        if config is not self._config:
            self._config = config
            self._found = {}
            return None
        return self._found.get(shape)

    def under(self, config: object) -> dict[Hashable, Any]:
        """What is kept for `config`, to look up several shapes at once (`put` adds to it)."""
        if config is not self._config:
            self._config = config
            self._found = {}
        return self._found

    def put(self, shape: Hashable, found: Any) -> None:
        if len(self._found) >= MAX_SHAPES:
            self._found = {}
        self._found[shape] = found
