"""`RedisLimitState`: the limit counters in Redis, shared by every gateway replica.

Each call is one Lua script (`redis_scripts`), so a check-and-add over all of a request's charges is
atomic across replicas and costs one round trip; nothing is read into Python and written back.
Scripts run by EVALSHA, loaded again on NOSCRIPT, all by `redis_batch.ScriptBatcher` (pipelined with
concurrent requests' calls on the link's own connection).

Key layout: `<prefix>:{limits}:<counter key>`, the counter key being the limiter's JSON
(`limiter.counter_key`). Every counter carries the one hash tag `{limits}`, so on Redis Cluster all
of them live in one slot and one script may touch any set of them: exact cross-rule atomicity, at
the price of one shard holding all the limit counters (they are small: a few buckets per entity).
Tagging per rule or per entity would spread them over shards but split a request's charges over
several scripts, and a request could then be counted by one rule and refused by another; we keep
exactness. `scan` walks the keyspace with SCAN MATCH (the prefix's glob characters escaped): a
control-plane read, never on the request path.

Errors surface as `StateStoreDown` (from `RedisLink`); `failover.FailoverLimitState` applies the
failure policy on top.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, cast

from redis.commands.core import AsyncScript

from tfy_gateway.gateway.limits import redis_scripts
from tfy_gateway.gateway.limits.redis_batch import ScriptBatcher
from tfy_gateway.gateway.limits.state import Adjustment, Admission, Charge, Probe
from tfy_gateway.gateway.shared.redis import RedisLink, escape_glob

SCAN_BATCH = 500


def limits_prefix(prefix: str) -> str:
    """Where the counters of a deployment live; `prefix` tells deployments sharing a Redis apart."""
    return f"{prefix}:{{limits}}:"


def _expiry(expires_at: float) -> str:
    return "inf" if math.isinf(expires_at) else str(math.ceil(expires_at * 1000))


class RedisLimitState:
    """`LimitState` over one Redis (or one Cluster slot); see `state.LimitState` for the contract."""

    def __init__(self, link: RedisLink, *, prefix: str = "tfy-gateway") -> None:
        self.link = link
        self.prefix = limits_prefix(prefix)
        client = link.client
        self._reserve = client.register_script(redis_scripts.RESERVE)
        self._adjust = client.register_script(redis_scripts.ADJUST)
        self._read = client.register_script(redis_scripts.READ)
        self._merge = client.register_script(redis_scripts.MERGE)
        self._batcher = ScriptBatcher(link)

    async def reserve(self, charges: Sequence[Charge]) -> Admission:
        if not charges:
            return Admission(True, ())
        prefix = self.prefix
        keys = [prefix + charge.key for charge in charges]
        args: list[str | int] = []
        for charge in charges:
            limit = "" if charge.limit is None else charge.limit
            args += (charge.bucket, charge.span, charge.amount, charge.need, limit, int(charge.enforce))
            args.append(_expiry(charge.expires_at))
        reply = await self._run("reserve", self._reserve, keys, args)
        admitted, used, refused, frees, oldest = reply
        return Admission(bool(admitted), tuple(used), tuple(refused), tuple(frees), tuple(oldest))

    async def adjust(self, adjustments: Sequence[Adjustment]) -> tuple[int, ...]:
        if not adjustments:
            return ()
        keys = [self.prefix + adjustment.key for adjustment in adjustments]
        args: list[str | int] = []
        for adjustment in adjustments:
            args += (adjustment.bucket, adjustment.span, adjustment.delta)
        return tuple(await self._run("adjust", self._adjust, keys, args))

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

    async def _run(self, operation: str, script: AsyncScript, keys: list[str], args: list[str | int]) -> Any:
        # Every script over the batcher's connection, not only the per-request ones: it reconnects
        # after a Redis restart, where a pooled connection can fail once more (the merge of what was
        # counted during an outage is exactly the call made right after one).
        return await self._batcher.call(operation, script, keys, args)
