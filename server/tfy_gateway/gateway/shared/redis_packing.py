"""redis-py's asyncio connections, with commands packed by hiredis's C `pack_command`.

redis-py's synchronous client packs commands with `hiredis.pack_command` when hiredis is installed;
its asyncio client still packs them in Python (redis/redis-py#4176). For the limit scripts, whose
calls carry some fifty arguments, that was the largest single cost of a call in the gateway (about
22 µs per reserve in Python, 4 µs in C). `packing` swaps a pool's connection class for the same
class packing with hiredis. The bytes are the same for what the gateway sends (str, bytes, int,
float; checked by tests/gateway/shared/test_redis_packing.py); whatever hiredis declines (another
type, a string that cannot be encoded) goes through redis-py's own packing, so its errors stay
redis-py's. Without hiredis the class is left alone.

The pool must use redis-py's default encoding (UTF-8, strict errors), which is what hiredis applies;
`shared.redis.connect` never sets another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection

Pack = Callable[[tuple[Any, ...]], bytes]

try:
    from hiredis import pack_command as _pack_command

    HIREDIS_PACK: Pack | None = _pack_command
except ImportError:  # a dependency, but redis-py works without it
    HIREDIS_PACK = None


class _HiredisPacking(AbstractConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py does: a command name with spaces ("SCRIPT LOAD") is several arguments.
        head = args[0]
        if isinstance(head, str):
            args = (*head.encode().split(), *args[1:])
        elif b" " in head:
            args = (*head.split(), *args[1:])
        try:
            return [HIREDIS_PACK(args)]  # type: ignore[misc]  # only set on these classes when not None
        except Exception:  # a type or value hiredis does not take: redis-py's packing decides
            return super().pack_command(*args)


class HiredisConnection(_HiredisPacking, Connection):
    pass


class HiredisSSLConnection(_HiredisPacking, SSLConnection):
    pass


class HiredisUnixDomainSocketConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


def packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class` packing commands with hiredis, or itself (no hiredis, or a class not known)."""
    if HIREDIS_PACK is None:
        return connection_class
    if connection_class is Connection:
        return HiredisConnection
    if connection_class is SSLConnection:
        return HiredisSSLConnection
    if connection_class is UnixDomainSocketConnection:
        return HiredisUnixDomainSocketConnection
    return connection_class
