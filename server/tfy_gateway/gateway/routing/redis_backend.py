"""`RedisRoutingBackend`: sticky pins and health marks shared by every replica through Redis.

`RoutingBackend` is synchronous (`Router.plan` must not await), so reads are answered from a local
view (a `MemoryBackend`) and writes go to that view at once and to Redis behind the request, from a
queue drained by a background task. Other replicas learn of a write by pub/sub (the script that
writes also publishes, atomically); health marks are also re-read every `refresh_s`, and on every
(re)connection of the subscriber the whole view is reloaded, so what was missed while Redis was away
comes back. Staleness: a write is seen by the other replicas after the write-behind queue and one
pub/sub delivery (about a millisecond on a LAN), health marks at worst `refresh_s` later; while
Redis is unreachable each replica keeps its own view.

Sticky pins are compare-and-set: a replica replaces a pin only if it still holds the target that
replica last saw, else it adopts the pin it finds. So two replicas racing to pin a new session agree
on the first one written, and a failover re-pin still replaces the old target.

Keys: `<prefix>:sticky:<sticky key>` (a string, PXAT the pin's end) and `<prefix>:health` (a hash
target -> end of its mark, epoch s; ended marks are dropped by the next write). Each script touches
one key, so Redis Cluster needs no hash tags here. Times are wall-clock: routers sharing this
backend must use `Router(clock=time.time)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from redis.exceptions import NoScriptError

from tfy_gateway.gateway.routing.backend import MemoryBackend
from tfy_gateway.gateway.shared.redis import FAILURES, RedisLink, StateStoreDown, connect, escape_glob

logger = logging.getLogger(__name__)

WRITE_BATCH = 200
SCAN_COUNT = 1000
STOP_TIMEOUT_S = 5.0

_STICKY = """
-- KEYS[1]: the pin. ARGV: target, expected target ('' = none seen), end in ms, channel, message.
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] or current == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return {ARGV[1], tonumber(ARGV[3])}
end
return {current, redis.call('PEXPIRETIME', KEYS[1])}
"""

_HEALTH = """
-- KEYS[1]: the marks hash. ARGV: target, end (epoch s), now (epoch s), channel, message.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false or tonumber(ARGV[2]) > tonumber(current) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
local flat = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[3])
for i = 1, #flat, 2 do
  if tonumber(flat[i + 1]) <= now then redis.call('HDEL', KEYS[1], flat[i]) end
end
return 1
"""


class RedisRoutingBackend:
    """`RoutingBackend` whose pins and marks every replica sharing `link`'s Redis sees."""

    def __init__(
        self,
        link: RedisLink,
        *,
        prefix: str = "tfy-gateway",
        refresh_s: float = 0.25,
        max_sticky_keys: int = 100_000,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.link = link
        self.view = MemoryBackend(max_sticky_keys)
        self.refresh_s = refresh_s
        self.clock = clock
        self.max_sticky_keys = max_sticky_keys
        self._sticky_prefix = f"{prefix}:sticky:"
        self._health_key = f"{prefix}:health"
        self.channel = f"{prefix}:routing"
        self._sticky_script = link.client.register_script(_STICKY)
        self._health_script = link.client.register_script(_HEALTH)
        self._pending: asyncio.Queue[tuple[str, ...]] = asyncio.Queue(max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()

    # --- RoutingBackend (synchronous, local view) -------------------------------------------------

    def sticky_get(self, key: str, now: float) -> str | None:
        return self.view.sticky_get(key, now)

    def sticky_set(self, key: str, target: str, ttl_s: float, now: float) -> None:
        seen = self.view.sticky_get(key, now) or ""
        self.view.sticky_set(key, target, ttl_s, now)
        self._queue(("sticky", key, target, seen, str(math.ceil((now + ttl_s) * 1000))))

    def mark_unhealthy(self, target: str, until: float) -> None:
        self.view.mark_unhealthy(target, until)
        self._queue(("health", target, repr(until)))

    def unhealthy_until(self, target: str) -> float | None:
        return self.view.unhealthy_until(target)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the writer, the health poller and the subscriber (which loads the view first)."""
        self._tasks = [
            asyncio.create_task(self._write_behind(), name="routing-write-behind"),
            asyncio.create_task(self._poll_health(), name="routing-health-poll"),
            asyncio.create_task(self._subscribe(), name="routing-subscribe"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a task whose cancellation a client library swallowed must not hang shutdown.
            await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
        self._tasks = []
        with contextlib.suppress(StateStoreDown):
            await self._flush()

    # --- background work ----------------------------------------------------------------------------

    def _queue(self, write: tuple[str, ...]) -> None:
        try:
            self._pending.put_nowait(write)
        except asyncio.QueueFull:  # Redis away for long: the oldest write gives way
            self._pending.get_nowait()
            self._pending.put_nowait(write)

    async def _write_behind(self) -> None:
        while True:
            first = await self._pending.get()
            await self._flush(first)

    async def _flush(self, first: tuple[str, ...] | None = None) -> None:
        """Write `first` and whatever else is queued; on failure the writes are retried later."""
        batch = [first] if first is not None else []
        while len(batch) < WRITE_BATCH and not self._pending.empty():
            batch.append(self._pending.get_nowait())
        if not batch:
            return
        try:
            replies = await self.link.call("routing-write", lambda: self._write(batch))
        except StateStoreDown:
            for write in batch:
                self._queue(write)
            await asyncio.sleep(self.link.breaker.cooldown_s / 2)
            return
        now = self.clock()
        for write, reply in zip(batch, replies, strict=True):
            if write[0] == "sticky" and isinstance(reply, list):
                self._adopt(write[1], reply, now)

    async def _write(self, batch: list[tuple[str, ...]]) -> list[Any]:
        """The batch's scripts in one pipeline of EVALSHA (redis-py's `Script` in a pipeline would ask
        SCRIPT EXISTS first: a second round trip each time); a Redis that lost them gets them once."""
        now = repr(self.clock())
        commands: list[tuple[Any, ...]] = []
        for write in batch:
            if write[0] == "sticky":
                _, key, target, seen, until_ms = write
                message = orjson.dumps({"sticky": key, "target": target, "until_ms": int(until_ms)})
                sticky = self._sticky_script.sha, 1, self._sticky_prefix + key, target, seen, until_ms
                commands.append((*sticky, self.channel, message))
            else:
                _, target, until = write
                message = orjson.dumps({"health": target, "until": float(until)})
                health = self._health_script.sha, 1, self._health_key, target, until, now
                commands.append((*health, self.channel, message))
        replies = await self._pipeline(commands)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            for script in (self._sticky_script, self._health_script):
                await self.link.client.script_load(script.script)
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            for i, reply in zip(missing, await self._pipeline([commands[i] for i in missing]), strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        async with self.link.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.evalsha(*command)
            return list(await pipe.execute(raise_on_error=False))

    def _adopt(self, key: str, reply: list[Any], now: float) -> None:
        """The pin Redis holds for `key` (ours, or another replica's that won)."""
        target, until_ms = reply
        name = target.decode() if isinstance(target, bytes) else str(target)
        if int(until_ms) > 0 and int(until_ms) / 1000 > now:
            self.view.sticky_set(key, name, int(until_ms) / 1000 - now, now)

    async def _poll_health(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            with contextlib.suppress(StateStoreDown):
                await self._load_health()

    async def _load_health(self) -> None:
        marks = await self.link.call("routing-read", lambda: self.link.client.hgetall(self._health_key))
        for target, until in marks.items():
            name = target.decode() if isinstance(target, bytes) else target
            self.view.mark_unhealthy(name, float(until))

    async def _load_sticky(self) -> None:
        """Every live pin (up to `max_sticky_keys`), a page of SCAN at a time."""
        client = self.link.client
        pattern = escape_glob(self._sticky_prefix) + "*"
        cursor, loaded = 0, 0
        while loaded < self.max_sticky_keys:
            scan = partial(client.scan, cursor, match=pattern, count=SCAN_COUNT)
            cursor, keys = await self.link.call("routing-read", scan)
            if keys:
                loaded += len(keys)
                await self.link.call("routing-read", partial(self._load_pins, keys))
            if not cursor:
                break

    async def _load_pins(self, keys: list[bytes | str]) -> None:
        names = [key.decode() if isinstance(key, bytes) else key for key in keys]
        async with self.link.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.get(name)
                pipe.pexpiretime(name)
            values = await pipe.execute()
        now = self.clock()
        skip = len(self._sticky_prefix)
        for position, name in enumerate(names):
            target, until_ms = values[2 * position], values[2 * position + 1]
            if target is not None and until_ms is not None and until_ms > 0:
                self._adopt(name[skip:], [target, until_ms], now)

    async def _subscribe(self) -> None:
        """Apply the other replicas' writes as they are published; reload everything on (re)connect."""
        down = False
        while True:
            client = connect(self.link.url, self.link.timeout_s)
            pubsub = client.pubsub()
            try:
                await asyncio.wait_for(pubsub.subscribe(self.channel), self.link.timeout_s * 20)
                await self._load_health()
                await self._load_sticky()
                if down:
                    logger.info("routing state: subscribed to %s again, view reloaded", self.channel)
                down = False
                self.subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._apply(message["data"])
            except (*FAILURES, StateStoreDown) as exc:
                if _cancelling():
                    # redis-py may turn a cancellation inside get_message into a TimeoutError.
                    raise asyncio.CancelledError from exc
                if not down:
                    logger.info("routing state: lost the subscription to %s (%s)", self.channel, type(exc).__name__)
                down = True
                self.subscribed.clear()
            finally:
                with contextlib.suppress(*FAILURES):
                    await pubsub.aclose()
                with contextlib.suppress(*FAILURES):
                    await client.aclose()
            await asyncio.sleep(self.link.breaker.cooldown_s / 2)

    def _apply(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(message, dict):
            return
        now = self.clock()
        if isinstance(message.get("sticky"), str) and isinstance(message.get("target"), str):
            until = message.get("until_ms")
            if isinstance(until, int) and until / 1000 > now:
                self.view.sticky_set(message["sticky"], message["target"], until / 1000 - now, now)
        elif isinstance(message.get("health"), str) and isinstance(message.get("until"), int | float):
            self.view.mark_unhealthy(message["health"], float(message["until"]))


def _cancelling() -> bool:
    """Whether this task has been asked to stop (a library may have swallowed the CancelledError)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling()) if cancelling is not None else False
