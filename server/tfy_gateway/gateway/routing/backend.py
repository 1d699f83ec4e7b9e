"""State that replicas must share: sticky pins and health marks.

The interface is synchronous and tiny on purpose: `Router.plan` runs on the hot path and must not
await. A shared (e.g. Redis) implementation keeps a local view that it refreshes in the background
and writes through asynchronously. Times are in the Router's clock; a backend shared between
processes must be used with a wall clock (`Router(clock=time.time)`).
"""

from __future__ import annotations

from typing import Protocol


class RoutingBackend(Protocol):
    def sticky_get(self, key: str, now: float) -> str | None:
        """The target pinned under `key`, or None if there is none or it expired."""

    def sticky_set(self, key: str, target: str, ttl_s: float, now: float) -> None:
        """Pin `key` to `target` until `now + ttl_s`."""

    def mark_unhealthy(self, target: str, until: float) -> None:
        """Keep `target` out of selection until `until` (a later mark extends, never shortens)."""

    def unhealthy_until(self, target: str) -> float | None:
        """When `target`'s unhealthy mark ends, or None if it was never marked."""


class MemoryBackend:
    """The default backend: one process, plain dicts, expired entries dropped on read."""

    def __init__(self, max_sticky_keys: int = 100_000) -> None:
        self._sticky: dict[str, tuple[str, float]] = {}
        self._unhealthy: dict[str, float] = {}
        self._max_sticky_keys = max_sticky_keys

    def sticky_get(self, key: str, now: float) -> str | None:
        entry = self._sticky.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._sticky[key]
            return None
        return entry[0]

    def sticky_set(self, key: str, target: str, ttl_s: float, now: float) -> None:
        if len(self._sticky) >= self._max_sticky_keys and key not in self._sticky:
            self._evict(now)
        self._sticky[key] = (target, now + ttl_s)

    def mark_unhealthy(self, target: str, until: float) -> None:
        if until > self._unhealthy.get(target, float("-inf")):
            self._unhealthy[target] = until

    def unhealthy_until(self, target: str) -> float | None:
        return self._unhealthy.get(target)

    def _evict(self, now: float) -> None:
        """Drop expired pins; if none expired, drop the oldest insertion (bounded memory)."""
        expired = [key for key, (_, until) in self._sticky.items() if until <= now]
        for key in expired:
            del self._sticky[key]
        if not expired and self._sticky:
            del self._sticky[next(iter(self._sticky))]
