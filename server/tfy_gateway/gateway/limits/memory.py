"""`MemoryLimitState`: the limit counters of one gateway process, in memory.

`reserve` runs without an `await` between reading and adding, so on the event loop it is atomic:
nothing else runs in between. Memory stays bounded: every counter carries the time at which it is
empty (its `expires_at`), a heap orders counters by that time, and each call first drops those whose
time has passed. An expired counter is simply absent, which reads as 0.

Counters that changed are remembered as dirty, so a journal (`journal.LimitJournal`) can persist them
behind the requests, and a restart loads them back.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT, bounded
from tfy_gateway.gateway.limits.state import Adjustment, Admission, Charge, Probe

Clock = Callable[[], float]
"""Epoch seconds; tests pass a controllable one."""


@dataclass(slots=True)
class Counter:
    buckets: dict[int, int] = field(default_factory=dict)
    expires_at: float = 0.0

    def window(self, bucket: int, span: int) -> int:
        floor = bucket - span
        total = 0
        for index, amount in self.buckets.items():
            if index > floor:
                total += amount
        return total if total <= MAX_AMOUNT else MAX_AMOUNT

    def frees(self, bucket: int, span: int, excess: int) -> int | None:
        """The oldest bucket of the window whose expiry (with all older ones) frees `excess`."""
        freed = 0
        for index in sorted(self.buckets):
            if index > bucket - span:
                freed += self.buckets[index]
                if freed >= excess:
                    return index
        return None

    def oldest(self, bucket: int, span: int) -> int | None:
        floor = bucket - span
        found: int | None = None
        for index, amount in self.buckets.items():
            if amount and index > floor and (found is None or index < found):
                found = index
        return found


class MemoryLimitState:
    """Counters by key; see `state.LimitState` for the contract."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._counters: dict[str, Counter] = {}
        self._expiry: list[tuple[float, str]] = []
        self._dirty: set[str] = set()

    async def reserve(self, charges: Sequence[Charge]) -> Admission:
        return self.reserve_now(charges)

    async def adjust(self, adjustments: Sequence[Adjustment], ticket: str | None = None) -> tuple[int, ...]:
        return self.adjust_now(adjustments)

    async def read(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        return self.read_now(probes)

    async def scan(self, prefix: str, bucket: int, span: int) -> list[tuple[str, int]]:
        self._drop_expired()
        return [
            (key, counter.window(bucket, span)) for key, counter in self._counters.items() if key.startswith(prefix)
        ]

    def reserve_now(self, charges: Sequence[Charge]) -> Admission:
        self._drop_expired()
        counters = self._counters
        used: list[int] = []
        refused: list[int] = []
        frees: list[int | None] = []
        admitted = True
        for position, charge in enumerate(charges):
            counter = counters.get(charge.key)
            held = counter.window(charge.bucket, charge.span) if counter is not None else 0
            used.append(held)
            if charge.limit is not None and held + charge.need > charge.limit:
                refused.append(position)
                excess = held + charge.need - charge.limit
                fits_alone = charge.need <= charge.limit
                frees.append(counter.frees(charge.bucket, charge.span, excess) if counter and fits_alone else None)
                admitted = admitted and not charge.enforce
        oldest: list[int | None] = []
        for charge in charges:
            if admitted and charge.amount:
                self._add(charge)
            counter = counters.get(charge.key)
            oldest.append(counter.oldest(charge.bucket, charge.span) if counter is not None else None)
        return Admission(admitted, tuple(used), tuple(refused), tuple(frees), tuple(oldest))

    def adjust_now(self, adjustments: Sequence[Adjustment]) -> tuple[int, ...]:
        totals: list[int] = []
        for adjustment in adjustments:
            counter = self._counters.get(adjustment.key)
            if counter is None:
                totals.append(0)
                continue
            if adjustment.delta and adjustment.bucket in counter.buckets:
                counter.buckets[adjustment.bucket] = bounded(counter.buckets[adjustment.bucket] + adjustment.delta)
                self._dirty.add(adjustment.key)
            totals.append(counter.window(adjustment.bucket, adjustment.span))
        return tuple(totals)

    def read_now(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        self._drop_expired()
        counters = self._counters
        return tuple(
            counter.window(probe.bucket, probe.span) if (counter := counters.get(probe.key)) is not None else 0
            for probe in probes
        )

    def __len__(self) -> int:
        """Live counters (expired ones are dropped by the next call)."""
        return len(self._counters)

    # --- persistence (journal.LimitJournal) ---------------------------------------------------

    def take_dirty(self) -> tuple[list[tuple[str, dict[int, int], float]], list[str]]:
        """Copies of the counters changed since the last call, and the keys that expired meanwhile."""
        changed, gone = [], []
        for key in self._dirty:
            counter = self._counters.get(key)
            if counter is None:
                gone.append(key)
            else:
                changed.append((key, dict(counter.buckets), counter.expires_at))
        self._dirty.clear()
        return changed, gone

    def mark_dirty(self, keys: Iterable[str]) -> None:
        """Counters whose last write failed: the next `take_dirty` returns them again."""
        self._dirty.update(keys)

    def load(self, rows: Iterable[tuple[str, dict[int, int], float]]) -> None:
        now = self.clock()
        for key, buckets, expires_at in rows:
            if expires_at > now:
                self._counters[key] = Counter({index: bounded(amount) for index, amount in buckets.items()}, expires_at)
                heapq.heappush(self._expiry, (expires_at, key))

    # --- internals ------------------------------------------------------------------------------

    def _add(self, charge: Charge) -> None:
        counter = self._counters.get(charge.key)
        if counter is None:
            counter = self._counters[charge.key] = Counter()
        buckets = counter.buckets
        if charge.bucket in buckets:
            buckets[charge.bucket] = bounded(buckets[charge.bucket] + charge.amount)
        else:
            floor = charge.bucket - charge.span
            for index in [index for index in buckets if index <= floor]:
                del buckets[index]
            buckets[charge.bucket] = bounded(charge.amount)
        if charge.expires_at > counter.expires_at:
            counter.expires_at = charge.expires_at
            if not math.isinf(charge.expires_at):
                heapq.heappush(self._expiry, (charge.expires_at, charge.key))
        self._dirty.add(charge.key)

    def _drop_expired(self) -> None:
        expiry = self._expiry
        if not expiry:
            return
        now = self.clock()
        while expiry and expiry[0][0] <= now:
            expires_at, key = heapq.heappop(expiry)
            counter = self._counters.get(key)
            # A counter charged again since this entry was pushed has a later entry of its own.
            if counter is not None and counter.expires_at <= expires_at:
                del self._counters[key]
                self._dirty.add(key)
