"""`RedisRoutingBackend`: two backends (two replicas) on one real redis-server share sticky pins and
health marks; the synchronous interface never waits on Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.helpers import eventually
from tests.redis_server import RedisServer
from tfy_gateway.gateway.routing.redis_backend import RedisRoutingBackend
from tfy_gateway.gateway.shared.breaker import CircuitBreaker
from tfy_gateway.gateway.shared.redis import RedisLink

DEADLINE_S = 30.0


@pytest.fixture
async def replicas(lone_redis: RedisServer) -> AsyncIterator[tuple[RedisRoutingBackend, RedisRoutingBackend]]:
    prefix = "rt-" + uuid.uuid4().hex
    backends = []
    for _ in range(2):
        link = RedisLink(lone_redis.url, timeout_s=0.5, breaker=CircuitBreaker(2, 0.1))
        backends.append(RedisRoutingBackend(link, prefix=prefix, refresh_s=0.05))
    for backend in backends:
        await backend.start()
        await asyncio.wait_for(backend.subscribed.wait(), DEADLINE_S)
    try:
        yield backends[0], backends[1]
    finally:
        for backend in backends:
            await backend.stop()
            await backend.link.aclose()


async def test_a_pin_set_on_one_replica_is_seen_by_the_other(
    replicas: tuple[RedisRoutingBackend, RedisRoutingBackend],
) -> None:
    a, b = replicas
    now = time.time()
    a.sticky_set("session-1", "fake/gpt-4o", 60.0, now)
    assert a.sticky_get("session-1", now) == "fake/gpt-4o", "the writer's own view has it at once"
    await eventually(lambda: b.sticky_get("session-1", time.time()) == "fake/gpt-4o", "the pin on the other replica")
    a.sticky_set("session-1", "fake/backup", 60.0, time.time())  # a failover re-pin replaces it
    await eventually(lambda: b.sticky_get("session-1", time.time()) == "fake/backup", "the re-pin on the other replica")


async def test_two_replicas_pinning_one_session_agree_on_the_first_pin(
    replicas: tuple[RedisRoutingBackend, RedisRoutingBackend], lone_redis: RedisServer
) -> None:
    a, b = replicas
    await b.stop()  # b neither hears nor writes on its own now: it is a replica that has not seen a's pin yet
    a.sticky_set("race", "first", 60.0, time.time())
    await eventually(lambda: lone_redis.client().get(a._sticky_prefix + "race") == b"first", "a's pin in Redis")
    b.sticky_set("race", "second", 60.0, time.time())
    await b._flush()
    assert b.sticky_get("race", time.time()) == "first", "b adopts the pin it found instead of replacing it"
    assert lone_redis.client().get(a._sticky_prefix + "race") == b"first"


async def test_pins_expire(replicas: tuple[RedisRoutingBackend, RedisRoutingBackend]) -> None:
    a, b = replicas
    a.sticky_set("short", "fake/gpt-4o", 0.5, time.time())
    await eventually(lambda: b.sticky_get("short", time.time()) == "fake/gpt-4o", "the pin on the other replica")
    await eventually(lambda: b.sticky_get("short", time.time()) is None, "the pin's end")


async def test_a_health_mark_is_shared_and_only_ever_extended(
    replicas: tuple[RedisRoutingBackend, RedisRoutingBackend],
) -> None:
    a, b = replicas
    until = time.time() + 60
    a.mark_unhealthy("fake/broken", until)
    await eventually(lambda: b.unhealthy_until("fake/broken") == until, "the mark on the other replica")
    b.mark_unhealthy("fake/broken", until - 30)
    b.mark_unhealthy("fake/broken", until + 30)
    await eventually(lambda: a.unhealthy_until("fake/broken") == until + 30, "the extension on the first replica")


async def test_writes_take_one_round_trip_and_survive_a_script_flush(
    replicas: tuple[RedisRoutingBackend, RedisRoutingBackend], lone_redis: RedisServer
) -> None:
    a, b = replicas
    client = lone_redis.client()
    client.config_resetstat()
    client.script_flush()  # as after a restart: the next write meets NOSCRIPT
    a.sticky_set("flushed", "fake/gpt-4o", 60.0, time.time())
    await eventually(lambda: b.sticky_get("flushed", time.time()) == "fake/gpt-4o", "the pin after the flush")
    until = time.time() + 60
    a.mark_unhealthy("fake/slow", until)
    await eventually(lambda: b.unhealthy_until("fake/slow") == until, "the mark after the flush")
    assert "cmdstat_script|exists" not in client.info("commandstats"), "EVALSHA at once, no SCRIPT EXISTS first"


async def test_writes_made_while_redis_is_away_arrive_once_it_is_back(
    replicas: tuple[RedisRoutingBackend, RedisRoutingBackend], lone_redis: RedisServer
) -> None:
    a, b = replicas
    lone_redis.stop()
    until = time.time() + 60
    # Synchronous calls, with nothing to answer them: they take effect locally at once and queue the write.
    a.mark_unhealthy("fake/down-meanwhile", until)
    a.sticky_set("meanwhile", "fake/gpt-4o", 60.0, time.time())
    assert a.unhealthy_until("fake/down-meanwhile") == until
    assert a.sticky_get("meanwhile", time.time()) == "fake/gpt-4o"
    lone_redis.start()  # empty: no persistence
    await eventually(lambda: b.unhealthy_until("fake/down-meanwhile") == until, "the mark after the restart")
    await eventually(lambda: b.sticky_get("meanwhile", time.time()) == "fake/gpt-4o", "the pin after the restart")
