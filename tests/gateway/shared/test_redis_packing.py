"""Commands packed by hiredis are byte for byte what redis-py's own packing sends, and whatever hiredis
declines still gets redis-py's answer (its bytes or its error)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from tfy_gateway.gateway.shared import redis_packing
from tfy_gateway.gateway.shared.redis import connect
from tfy_gateway.gateway.shared.redis_packing import HiredisConnection, packing

pytestmark = pytest.mark.skipif(redis_packing.HIREDIS_PACK is None, reason="hiredis is not installed")

KEYS = ['t:{limits}:["rl","per-project-hourly","tokens_per_hour","metadata.project_id","pilot-42"]', "é-key"]
COMMANDS: list[tuple[Any, ...]] = [
    ("EVALSHA", "a" * 40, len(KEYS), *KEYS, 2993298, 6, 67, 67, "50000000000", 1, "inf"),
    ("EVALSHA", b"b" * 40, 1, b"raw", -27, 2**70, 0),
    ("SET", "k", 1.5),
    ("SET", "k", 1e20),
    ("SET", "k", float("inf")),
    ("SCRIPT LOAD", "return 1"),  # a command name with a space is two arguments
    (b"CONFIG GET", b"maxmemory"),
    ("SET", "k", "x" * 100_000),  # beyond redis-py's buffer cutoff: sent in pieces, same bytes
    ("SET", "k", bytearray(b"ab")),  # hiredis declines: redis-py packs it (8.x) or refuses it (5.0)
    ("SET", "k", memoryview(b"cd")),
]


def outcome(connection: AbstractConnection, command: tuple[Any, ...]) -> bytes | type[BaseException]:
    """The bytes `command` is sent as, or the type of error packing it raises."""
    try:
        return b"".join(connection.pack_command(*command))
    except Exception as error:
        return type(error)


def _command_id(command: tuple[Any, ...]) -> str:
    """A test id the same in every process (a memoryview's repr holds its address): pytest-xdist's
    workers must collect the same ids."""
    return repr(tuple(bytes(part) if isinstance(part, memoryview) else part for part in command))[:40]


@pytest.mark.parametrize("command", COMMANDS, ids=_command_id)
def test_hiredis_packs_what_redis_py_packs_the_same_way(command: tuple[Any, ...]) -> None:
    packed = outcome(HiredisConnection(), command)
    assert packed == outcome(Connection(), command)
    assert isinstance(packed, bytes) or "array" in repr(command), "only bytearray is refused by some redis-py"


def test_a_pipeline_is_packed_the_same() -> None:
    commands = COMMANDS[:3]
    assert b"".join(HiredisConnection().pack_commands(commands)) == b"".join(Connection().pack_commands(commands))


@pytest.mark.parametrize("value", [True, None, 3 + 0j, "\ud800"], ids=repr)
def test_what_redis_py_refuses_is_refused_with_its_error(value: object) -> None:
    refused = outcome(HiredisConnection(), ("SET", "k", value))
    assert refused in (DataError, UnicodeEncodeError) and refused == outcome(Connection(), ("SET", "k", value))


def test_every_kind_of_url_gets_a_packing_connection() -> None:
    assert packing(Connection) is HiredisConnection
    assert issubclass(packing(SSLConnection), SSLConnection) and packing(SSLConnection) is not SSLConnection
    unix = packing(UnixDomainSocketConnection)
    assert issubclass(unix, UnixDomainSocketConnection) and unix is not UnixDomainSocketConnection
    for url, kind in [
        ("redis://127.0.0.1:6379/0", Connection),
        ("rediss://127.0.0.1:6379/0", SSLConnection),
        ("unix:///tmp/redis.sock", UnixDomainSocketConnection),
    ]:
        connection_class = connect(url, 1.0).connection_pool.connection_class
        assert issubclass(connection_class, kind) and connection_class is packing(kind), url
