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
from tfy_gateway.gateway.limits.state import Admission, Batch, Probe, Settlement

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

    async def reserve(self, batch: Batch) -> Admission:
        return self.reserve_now(batch)

    async def adjust(self, settlement: Settlement, ticket: str | None = None) -> tuple[int, ...]:
        return self.adjust_now(settlement)

    async def read(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        return self.read_now(probes)

    async def scan(self, prefix: str, bucket: int, span: int) -> list[tuple[str, int]]:
        self._drop_expired()
        return [
            (key, counter.window(bucket, span)) for key, counter in self._counters.items() if key.startswith(prefix)
        ]

    def reserve_now(self, batch: Batch) -> Admission:
        self._drop_expired()
        counters = self._counters
        group, buckets, needs = batch.counters, batch.buckets, batch.needs
        keys, spans, limits = group.keys, group.spans, group.limits
        found = [counters.get(key) for key in keys]
        used: list[int] = []
        oldest: list[int | None] = []  # before this request's amounts (see below)
        refused: list[int] = []
        frees: list[int | None] = []
        admitted = True
        for position, counter in enumerate(found):
            held = 0
            first = None
            if counter is not None:  # `Counter.window` and `Counter.oldest` in one pass
                floor = buckets[position] - spans[position]
                for index, amount in counter.buckets.items():
                    if index > floor:
                        held += amount
                        if amount and (first is None or index < first):
                            first = index
                if held > MAX_AMOUNT:
                    held = MAX_AMOUNT
            used.append(held)
            oldest.append(first)
            limit = limits[position]
            if limit is not None and held + (need := needs[position]) > limit:
                refused.append(position)
                fits_alone = need <= limit
                excess = held + need - limit
                frees.append(
                    counter.frees(buckets[position], spans[position], excess) if counter and fits_alone else None
                )
                admitted = admitted and (batch.dry or not group.enforced[position])
        if admitted and not batch.dry:
            self._add_all(batch, found, oldest)
        return Admission(admitted, tuple(used), tuple(refused), tuple(frees), tuple(oldest))

    def hold_now(self, batch: Batch) -> list[int] | None:
        """`reserve_now` for the request path's common case, every counter having room: adds every
        amount and returns what each checked window held before (`Admission.used`; 0 for a counter
        whose limit is None: it is never checked, so its window is not summed), building no Admission
        and finding no oldest bucket (`oldest_now` finds one when asked). None, with nothing changed, when
        a check fails, the batch is dry or names a counter twice: `reserve_now` gives the whole answer."""
        group = batch.counters
        if batch.dry or not group.distinct:
            return None
        self._drop_expired()
        get = self._counters.get
        found = [get(key) for key in group.keys]
        used: list[int] = []
        # A batch's columns have one length (`state.Batch`). No `strict=` in these zips: any keyword
        # sends the call down zip's slow path, ~1.5k instructions a call (callgrind).
        for counter, bucket, span, limit, need in zip(  # noqa: B905
            found, batch.buckets, group.spans, group.limits, batch.needs
        ):
            held = 0
            if limit is not None:
                if counter is not None:
                    held = counter.window(bucket, span)
                if held + need > limit:
                    return None
            used.append(held)
        self._add(batch, found)
        return used

    def oldest_now(self, key: str, bucket: int, span: int) -> int | None:
        """The oldest bucket of the window of `bucket` holding something (`Admission.oldest`)."""
        counter = self._counters.get(key)
        return counter.oldest(bucket, span) if counter is not None else None

    def _add(self, batch: Batch, found: list[Counter | None]) -> None:
        """Add every amount of an admitted batch (`found`: each counter before, None if absent)."""
        counters, dirty, expiry = self._counters, self._dirty, self._expiry
        group = batch.counters
        for key, bucket, span, amount, expires_at, counter in zip(  # noqa: B905 (see hold_now)
            group.keys, batch.buckets, group.spans, batch.amounts, batch.expiries, found
        ):
            if not amount:
                continue
            if counter is None:
                counter = counters.get(key)  # one key twice: the first one made it
                if counter is None:
                    counter = counters[key] = Counter()
            held = counter.buckets
            if bucket in held:
                total = held[bucket] + amount
                held[bucket] = total if 0 <= total <= MAX_AMOUNT else bounded(total)
            else:
                floor = bucket - span
                for index in [index for index in held if index <= floor]:
                    del held[index]
                held[bucket] = bounded(amount)
            if expires_at > counter.expires_at:
                counter.expires_at = expires_at
                if not math.isinf(expires_at):
                    heapq.heappush(expiry, (expires_at, key))
            dirty.add(key)

    def _add_all(self, batch: Batch, found: list[Counter | None], oldest: list[int | None]) -> None:
        """`_add`; `oldest` (per counter, before) becomes what it is after."""
        self._add(batch, found)
        counters, group, buckets = self._counters, batch.counters, batch.buckets
        keys, spans = group.keys, group.spans
        if not group.distinct:  # one counter under two positions: each reads it as it ends up
            for position, key in enumerate(keys):
                counter = counters.get(key)
                oldest[position] = counter.oldest(buckets[position], spans[position]) if counter is not None else None
            return
        for position, amount in enumerate(batch.amounts):
            if not amount:
                continue
            bucket, counter = buckets[position], counters[keys[position]]
            first = oldest[position]
            if counter.buckets[bucket] and (first is None or bucket < first):
                oldest[position] = bucket
            elif not counter.buckets[bucket] and first == bucket:
                oldest[position] = counter.oldest(bucket, spans[position])

    def adjust_now(self, settlement: Settlement) -> tuple[int, ...]:
        group, buckets = settlement.counters, settlement.buckets
        counters, keys, dirty = self._counters, group.keys, self._dirty
        for key, bucket, delta in zip(keys, buckets, settlement.deltas):  # noqa: B905 (see hold_now)
            if delta and (counter := counters.get(key)) is not None:
                held = counter.buckets
                if bucket in held:
                    total = held[bucket] + delta
                    held[bucket] = total if 0 <= total <= MAX_AMOUNT else bounded(total)
                    dirty.add(key)
        watched = settlement.watched
        if not watched:
            return ()
        spans = group.spans
        totals: list[int] = []
        for position in watched:
            counter = counters.get(keys[position])
            totals.append(counter.window(buckets[position], spans[position]) if counter is not None else 0)
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
