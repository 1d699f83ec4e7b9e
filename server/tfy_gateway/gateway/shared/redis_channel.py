"""`Channel`: one Redis connection of the link's own, for pipelines sent one at a time.

The limit scripts are two calls per request, so what redis-py does around each call counts: taking
a connection from the pool and giving it back (a condition, a lock, a readiness check and its
connection metrics each time), a pipeline object, a retry wrapper, and per socket operation a
timeout (on Python 3.11 a new task for every write). Measured on loopback for a script of six
counters: 54-72 µs of CPU per call through `Redis.evalsha`, 70-85 µs through a pipeline of one,
28-31 µs for the same bytes over a bare socket. A channel keeps one connection outside the pool and
does only the bare part: the commands packed into one write, then one reply read per command (an
error reply is returned as its exception, like a pipeline's `raise_on_error=False`).

Same connection settings as the pool's (URL, password, database, TLS, protocol, connect timeout),
but no per-operation socket timeout: every exchange runs inside `RedisLink.call`, whose timeout
bounds the whole exchange. Whatever interrupts an exchange (that timeout, an error, a cancellation)
closes the connection, so a late reply is never read as the next exchange's; the next exchange
connects again, as does one that finds the connection closed by the server meanwhile (a Redis
restarted between requests), the check redis-py's pool makes before lending a connection.
Exchanges are serialised by a lock (the limit batcher has at most one in flight).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError


class Channel:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._connection: AbstractConnection | None = None
        self._lock = asyncio.Lock()

    async def exchange(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send `commands` in one write and read their replies, in order."""
        async with self._lock:
            connection = self._connection
            if connection is None:
                settings = {**self._pool.connection_kwargs, "socket_timeout": None}
                connection = self._connection = self._pool.connection_class(**settings)
            try:
                if connection.is_connected and await _closed_or_dirty(connection):
                    await connection.disconnect()
                await connection.send_packed_command(connection.pack_commands(commands), check_health=False)
                replies: list[Any] = []
                for _ in commands:
                    try:
                        replies.append(await connection.read_response())
                    except ResponseError as error:  # read whole: the stream is still in step
                        replies.append(error)
                return replies
            except BaseException:
                await connection.disconnect(nowait=True)
                raise

    async def aclose(self) -> None:
        if self._connection is not None:
            await self._connection.disconnect()
            self._connection = None


async def _closed_or_dirty(connection: AbstractConnection) -> bool:
    """Whether the server closed the connection or left bytes nobody asked for: what redis-py's pool
    checks before lending a connection (`can_read` from redis-py 8, `can_read_destructive` before,
    which raises on a closed connection)."""
    check = getattr(connection, "can_read", None) or connection.can_read_destructive
    try:
        return bool(await check())
    except (RedisConnectionError, OSError):
        return True
