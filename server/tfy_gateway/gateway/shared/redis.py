"""`RedisLink`: the gateway's one Redis client, every call bounded by a timeout and a circuit breaker.

A request must never wait on a dead Redis longer than `timeout_s`: each call runs under
`asyncio.timeout` (and the sockets under the same timeout), the client never retries on its own,
and once the breaker is open calls fail at once with `StateStoreDown` until a probe succeeds. The
callers (the limit store, the routing backend) decide what a failure means for them.

Transitions are logged once each (down, back up) and reported to an observer (the metrics); the
URL is only ever shown without its password (`mask_url`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tfy_gateway.gateway.secrets_masking import mask_url
from tfy_gateway.gateway.shared.breaker import CircuitBreaker
from tfy_gateway.gateway.shared.redis_channel import Channel
from tfy_gateway.gateway.shared.redis_packing import packing
from tfy_gateway.gateway.shared.state_store import StateStoreDown as StateStoreDown
from tfy_gateway.gateway.shared.state_store import escape_glob as escape_glob  # re-exported for its callers

logger = logging.getLogger(__name__)

T = TypeVar("T")

FAILURES = (RedisError, OSError, TimeoutError)
"""What a call to an unreachable, slow or broken Redis raises."""
MAX_CONNECTIONS = 64


class LinkObserver(Protocol):
    def state_changed(self, up: bool) -> None: ...

    def call_failed(self, operation: str) -> None: ...


def connect(url: str, timeout_s: float | None) -> aioredis.Redis:
    """A client whose sockets give up after `timeout_s` and that never retries by itself.

    At most `MAX_CONNECTIONS` connections; a call beyond waits for one (within its timeout): a
    script takes tens of microseconds in Redis, so a few dozen connections carry any burst.
    Commands are packed by hiredis when it is installed (`redis_packing`).
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=None,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        decode_responses=False,
    )
    pool.connection_class = packing(pool.connection_class)
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool


class RedisLink:
    """One Redis for limits and routing state, with `timeout_s` per call and one breaker."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.05,
        breaker: CircuitBreaker | None = None,
        observer: LinkObserver | None = None,
    ) -> None:
        self.url = url
        self.shown = mask_url(url)
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self.observer = observer
        self.client = connect(url, timeout_s)
        self.channel = Channel(self.client.connection_pool)  # the limit scripts' pipelines
        self._on_recovery: list[Callable[[], None]] = []
        if observer is not None:
            observer.state_changed(True)

    @property
    def up(self) -> bool:
        return self.breaker.closed

    def on_recovery(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) each time Redis answers again after an outage,
        whichever call noticed it: limits, routing's health poll, a usage read."""
        self._on_recovery.append(callback)

    async def call(self, operation: str, work: Callable[[], Awaitable[T]], *, timeout_s: float | None = None) -> T:
        """`await work()` within the timeout (or `timeout_s`, what a caller has left of it);
        `StateStoreDown` if it fails or the breaker is open."""
        breaker = self.breaker
        if not breaker.allow():
            raise StateStoreDown(f"the shared state store ({self.shown}) is unreachable")
        try:
            result = await _within(self.timeout_s if timeout_s is None else timeout_s, work)
        except FAILURES as exc:
            self._failed(operation, exc)
            raise StateStoreDown(f"the shared state store ({self.shown}) is unreachable: {_reason(exc)}") from None
        except BaseException:
            breaker.abandon()  # cancelled by the caller: says nothing about Redis
            raise
        if breaker.success():
            logger.warning("shared state store %s is reachable again", self.shown)
            if self.observer is not None:
                self.observer.state_changed(True)
            for callback in self._on_recovery:
                callback()
        return result

    def _failed(self, operation: str, exc: BaseException) -> None:
        if self.observer is not None:
            self.observer.call_failed(operation)
        if self.breaker.failure():
            logger.warning(
                "shared state store %s is unreachable (%s during %s); calls fail fast until it answers again",
                self.shown,
                _reason(exc),
                operation,
            )
            if self.observer is not None:
                self.observer.state_changed(False)

    async def aclose(self) -> None:
        await self.channel.aclose()
        await self.client.aclose()


async def _within(seconds: float, work: Callable[[], Awaitable[T]]) -> T:
    """`await work()`, cancelled after `seconds` (TimeoutError): no new task on 3.11+."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await work()
    try:
        return await asyncio.wait_for(work(), seconds)
    except asyncio.TimeoutError:
        raise TimeoutError from None


def _reason(exc: BaseException) -> str:
    """The error's type and text, with the URL's password never in it."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
