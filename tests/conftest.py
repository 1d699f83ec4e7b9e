from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, GatewayProcess
from tests.redis_server import RedisServer, running_redis


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server shared by a test module's tests (each keeps to keys of its own)."""
    with running_redis() as server:
        yield server


@pytest.fixture
def lone_redis() -> Iterator[RedisServer]:
    """A redis-server of one test's own, which it may stop, freeze and restart."""
    with running_redis() as server:
        yield server


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    """A real gateway subprocess with a fresh data dir, stopped at teardown."""
    server = GatewayProcess(tmp_path / "gateway-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()
