"""`RedisLimitState`: the limit counters in Redis, shared by every gateway replica.

Each call is one Lua script (`redis_scripts`), so a check-and-add over all of a request's charges is
atomic across replicas and costs one round trip; nothing is read into Python and written back.
Scripts run by EVALSHA, loaded again on NOSCRIPT, all by `redis_batch.ScriptBatcher` (pipelined with
concurrent requests' calls on the link's own connection; reservations and settlements as operations of
one batch script).

Key layout: `<prefix>:{limits}:<counter key>`, the counter key being the limiter's JSON
(`limiter.counter_key`). Every counter carries the one hash tag `{limits}`, so on Redis Cluster all
of them live in one slot and one script may touch any set of them: exact cross-rule atomicity, at
the price of one shard holding all the limit counters (they are small: a few buckets per entity).
Tagging per rule or per entity would spread them over shards but split a request's charges over
several scripts, and a request could then be counted by one rule and refused by another; we keep
exactness. `scan` walks the keyspace with SCAN MATCH (the prefix's glob characters escaped): a
control-plane read, never on the request path.

Each reservation that holds something carries a ticket, `<prefix>:{limits}#hold:<ticket>` (same slot),
set by its reserve script and deleted by its settlement. When a caller gives up on Redis (its
timeout, from the moment it called), what it sent may still run later: the `Reconciler` undoes such
a reservation, or applies such a settlement exactly once, as soon as Redis answers again.

Errors surface as `StateStoreDown` (from `RedisLink`); `failover.FailoverLimitState` applies the
failure policy on top.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, NamedTuple, cast

from redis.commands.core import AsyncScript

from tfy_gateway.gateway.limits import redis_scripts
from tfy_gateway.gateway.limits.bounds import bounded
from tfy_gateway.gateway.limits.reconcile import Reconciler, Unsettled
from tfy_gateway.gateway.limits.redis_batch import ScriptBatcher, Shared
from tfy_gateway.gateway.limits.state import Adjustment, Admission, Batch, Counters, Probe, Settlement
from tfy_gateway.gateway.shared.redis import RedisLink, StateStoreDown, escape_glob

SCAN_BATCH = 500
MARKER_TTL_MS = 24 * 3600 * 1000
"""How long a reservation's hold marker (or a cancelled one's tombstone) lives: longer than any request
and any outage it must outlast; a settlement after it counts nothing more (the hold keeps its estimate)."""


def limits_prefix(prefix: str) -> str:
    """Where the counters of a deployment live; `prefix` tells deployments sharing a Redis apart."""
    return f"{prefix}:{{limits}}:"


def _expiry(expires_at: float) -> str:
    return "inf" if math.isinf(expires_at) else str(math.ceil(expires_at * 1000))


class _Prepared(NamedTuple):
    """What `RedisLimitState` sends for one `Counters` at one set of buckets, but the amounts."""

    prefix: str
    buckets: object
    keys: list[str]
    shared: Shared  # the keys and their arguments, sent once per batch call whatever the requests


def _static(counters: Counters, batch: Batch, *, dry: bool) -> list[str | int]:
    """Per counter: bucket, span, limit ('' = none), enforce ('1'/'0'; '0' for a dry run), expiry."""
    args: list[str | int] = []
    for bucket, span, limit, enforce, expires_at in zip(
        batch.buckets, counters.spans, counters.limits, counters.enforced, batch.expiries, strict=True
    ):
        args += (bucket, span, "" if limit is None else limit, "1" if enforce and not dry else "0", _expiry(expires_at))
    return args


class RedisLimitState:
    """`LimitState` over one Redis (or one Cluster slot); see `state.LimitState` for the contract."""

    def __init__(self, link: RedisLink, *, prefix: str = "tfy-gateway") -> None:
        self.link = link
        self.prefix = limits_prefix(prefix)
        self._markers = f"{prefix}:{{limits}}#hold:"
        client = link.client
        self._batch = client.register_script(redis_scripts.BATCH)
        alone = {"r": client.register_script(redis_scripts.RESERVE), "a": client.register_script(redis_scripts.ADJUST)}
        self._cancel = client.register_script(redis_scripts.CANCEL)
        self._read = client.register_script(redis_scripts.READ)
        self._merge = client.register_script(redis_scripts.MERGE)
        self._batcher = ScriptBatcher(link, alone)
        # Tickets: unique across replicas and restarts (a random run id), cheap per request (a count).
        self._run_id = os.urandom(6).hex()
        self._tickets = itertools.count()
        self.reconciler = Reconciler(self._reconcile)
        link.on_recovery(self.reconciler.kick)

    async def reserve(self, batch: Batch) -> Admission:
        counters = batch.counters
        if not counters.keys:
            return Admission(True, ())
        shared = self._prepared(batch)
        fixed = "1" if counters.fixed_expiry else ""
        holds = not batch.dry and any(batch.amounts)
        ticket = on_lost = None
        keys: list[str] = []  # the request's own: its hold marker, if any
        args: list[str | int]
        if holds:  # a reservation that holds anything gets a ticket, its hold marker the last key
            ticket = f"{self._run_id}.{next(self._tickets)}"
            keys = [self._markers + ticket]
            args = [MARKER_TTL_MS, fixed, *batch.amounts, *batch.needs]
            on_lost = partial(self._given_up, ticket, batch)
        elif batch.dry:  # checked only: nothing added, nothing refused
            shared = Shared(shared.keys, _static(counters, batch, dry=True))
            args = ["", fixed, *(0 for _ in counters.keys), *batch.needs]
        else:
            args = ["", fixed, *batch.amounts, *batch.needs]
        reply = await self._run("reserve", self._batch, keys, args, on_lost=on_lost, op="r", shared=shared)
        admitted, used, refused, frees, oldest = reply
        if admitted == -1:  # only seen by a caller that gave up meanwhile
            raise StateStoreDown("the reservation was cancelled before it ran")
        held = ticket if admitted else None
        return Admission(bool(admitted), tuple(used), tuple(refused), tuple(frees), tuple(oldest), held)

    def _prepared(self, batch: Batch) -> Shared:
        """The counters' keys and their arguments but the amounts, built once per `Counters` and
        buckets (a plan's, for every request until its next sub-bucket starts)."""
        counters = batch.counters
        known = counters.prepared
        if isinstance(known, _Prepared) and known.prefix is self.prefix and known.buckets is batch.buckets:
            return known.shared
        keys = [self.prefix + key for key in counters.keys]
        shared = Shared(keys, _static(counters, batch, dry=False))
        counters.prepared = _Prepared(self.prefix, batch.buckets, keys, shared)
        return shared

    async def adjust(self, settlement: Settlement, ticket: str | None = None) -> tuple[int, ...]:
        """With a ticket, also when there is nothing to correct: the settlement deletes the marker."""
        watched = settlement.watched
        sent = [i for i, delta in enumerate(settlement.deltas) if delta or i in watched]
        if not sent and ticket is None:
            return ()
        counters, buckets, deltas = settlement.counters, settlement.buckets, settlement.deltas
        known = counters.prepared  # the keys its reservation prepared (the same Counters)
        if isinstance(known, _Prepared) and known.prefix is self.prefix:
            prefixed = known.keys
            keys = [prefixed[i] for i in sent]
        else:
            keys = [self.prefix + counters.keys[i] for i in sent]
        spans = counters.spans
        args: list[str | int] = ["1" if ticket is not None else ""]
        for i in sent:  # a span only where the total is wanted: the script reads no other counter
            args += (buckets[i], spans[i] if i in watched else "", deltas[i])
        if ticket is not None:
            keys.append(self._marker(ticket))
        try:
            totals = await self._run("adjust", self._batch, keys, args, op="a")
        except BaseException:
            if ticket is not None:  # perhaps not applied: again once Redis answers (it counts once)
                self.reconciler.settle(ticket, settlement.adjustments())
            raise
        # the totals come in the order sent; `watched` may list its positions in another
        by_position = dict(zip((i for i in sent if i in watched), totals, strict=True))
        return tuple(by_position[position] for position in watched)

    async def stop(self) -> None:
        """Finish a reconciliation under way (bounded by Redis's timeout per call)."""
        await self.reconciler.stop()

    def _given_up(self, ticket: str, batch: Batch) -> None:
        """A reservation went out and its caller gave up: give it back once Redis answers."""
        counters = batch.counters
        undo = tuple(
            Adjustment(counters.keys[i], batch.buckets[i], counters.spans[i], -bounded(amount))
            for i, amount in enumerate(batch.amounts)
            if amount
        )
        self.reconciler.cancel(ticket, undo)

    def _marker(self, ticket: str) -> str:
        """The hold marker's key: the counters' hash tag (same slot), outside their prefix (no scan
        of counters ever meets one)."""
        return f"{self._markers}{ticket}"

    async def _settle(self, adjustments: tuple[Adjustment, ...], ticket: str | None) -> tuple[int, ...]:
        prefix = self.prefix
        keys = [prefix + adjustment.key for adjustment in adjustments]
        args: list[str | int] = ["1" if ticket is not None else ""]
        for adjustment in adjustments:
            args += (adjustment.bucket, adjustment.span, adjustment.delta)
        if ticket is not None:
            keys.append(self._marker(ticket))
        return tuple(await self._run("adjust", self._batch, keys, args, op="a"))

    async def _reconcile(self, unsettled: Unsettled) -> object:
        if unsettled.kind == "settle":
            return await self._settle(unsettled.adjustments, unsettled.ticket)
        keys = [self.prefix + adjustment.key for adjustment in unsettled.adjustments]
        keys.append(self._marker(unsettled.ticket))
        args: list[str | int] = [MARKER_TTL_MS]
        for adjustment in unsettled.adjustments:
            args += (adjustment.bucket, adjustment.span, adjustment.delta)
        return await self._run("cancel", self._cancel, keys, args)

    async def read(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        if not probes:
            return ()
        keys = [self.prefix + probe.key for probe in probes]
        args: list[str | int] = []
        for probe in probes:
            args += (probe.bucket, probe.span)
        return tuple(await self._run("read", self._read, keys, args))

    async def scan(self, prefix: str, bucket: int, span: int) -> list[tuple[str, int]]:
        pattern = escape_glob(self.prefix + prefix) + "*"
        found: list[str] = []
        cursor = 0
        client = self.link.client
        while True:
            scan = partial(client.scan, cursor, match=pattern, count=1000)
            cursor, batch = await self.link.call("scan", scan)
            found += [key.decode() if isinstance(key, bytes) else key for key in batch]
            if not cursor:
                break
        unique = sorted(set(found))
        counters: list[tuple[str, int]] = []
        for start in range(0, len(unique), SCAN_BATCH):
            keys = unique[start : start + SCAN_BATCH]
            names = [key[len(self.prefix) :] for key in keys]
            totals = await self.read([Probe(name, bucket, span) for name in names])
            counters += zip(names, totals, strict=True)
        return counters

    async def merge(self, counters: Iterable[tuple[str, dict[int, int], float]]) -> int:
        """Add counts kept elsewhere (the local fallback during an outage) into Redis; the later
        expiry wins. Returns the number of counters merged."""
        keys: list[str] = []
        args: list[str | int] = []
        for key, buckets, expires_at in counters:
            keys.append(self.prefix + key)
            args += (_expiry(expires_at), len(buckets))
            for index, amount in buckets.items():
                args += (index, amount)
        if not keys:
            return 0
        return cast(int, await self._run("merge", self._merge, keys, args))

    async def _run(
        self,
        operation: str,
        script: AsyncScript,
        keys: list[str],
        args: list[str | int],
        *,
        on_lost: Callable[[], None] | None = None,
        op: str | None = None,
        shared: Shared | None = None,
    ) -> Any:
        # Every script over the batcher's connection, not only the per-request ones: it reconnects
        # after a Redis restart, where a pooled connection can fail once more (the merge of what was
        # counted during an outage is exactly the call made right after one).
        reply = await self._batcher.call(operation, script, keys, args, on_lost=on_lost, op=op, shared=shared)
        if self.reconciler.pending:  # Redis answers: what was given up on can be made right now
            self.reconciler.kick()
        return reply
