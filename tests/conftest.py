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


# The test files that take longest (real installs and CLIs; ~20-120 s each), heaviest first. With
# `make test`'s one process per core and a file per process, a file starts when a process is free:
# these go out first, so that none of them is left running alone at the end while the other cores idle.
LONGEST_FIRST = (
    "tests/test_plugin.py",
    "tests/gateway/test_tfy_cli.py",
    "tests/gateway/control_plane/test_literal_keys.py",
    "tests/mcp/test_intents_verified.py",
    "tests/test_readme.py",
    "tests/gateway/test_scale_out_full.py",
    "tests/scripts/test_bench_compare.py",
    "tests/test_typed_seam.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collected order, except the files of LONGEST_FIRST before the rest (a stable sort)."""
    rank = {path: position for position, path in enumerate(LONGEST_FIRST)}
    root = Path(__file__).resolve().parent.parent
    last = len(LONGEST_FIRST)

    def position(item: pytest.Item) -> int:
        try:
            relative = item.path.resolve().relative_to(root).as_posix()
        except ValueError:
            return last
        return rank.get(relative, last)

    items.sort(key=position)
