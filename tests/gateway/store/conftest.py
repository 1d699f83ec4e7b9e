"""Every store test runs against both engines: SQLite in a temp dir, PostgreSQL in a fresh database."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer
from tfy_gateway.gateway.store import SqliteStore, Store

_databases = itertools.count()

OpenStore = Callable[[], Store]
"""Opens another connection to the same database (another process, or another replica)."""


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OpenStore]:
    opened: list[Store] = []
    if engine == "sqlite":

        def make() -> Store:
            opened.append(SqliteStore(tmp_path / "gateway.sqlite3"))
            return opened[-1]
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"store_{next(_databases)}")

        def make() -> Store:
            from tfy_gateway.gateway.store.postgres import PostgresStore

            opened.append(PostgresStore(url))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> Store:
    return open_store()
