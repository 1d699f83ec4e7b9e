"""Where the outbox keeps alerts: `alerts.db` in the data dir, or the PostgreSQL database replicas share.

Both give the journal the same thing: `transaction(work)` runs `work(execute)` in one transaction
(`execute(sql, params)` with `?` placeholders) from a worker thread, one at a time per process;
`dialect` tells the journal which claim statement to use. SQLite serialises writers across the
processes sharing the file (`BEGIN IMMEDIATE`: `serve --workers N`); PostgreSQL lets replicas
claim disjoint rows (`FOR UPDATE SKIP LOCKED`). A PostgreSQL connection found broken is replaced
and the transaction retried once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from tfy_gateway.gateway.alerts.schema import ALERTS_FILE, connect
from tfy_gateway.gateway.errors import StateError
from tfy_gateway.gateway.secrets_masking import mask_url
from tfy_gateway.gateway.store.base import Cursor, Execute, StoreError

if TYPE_CHECKING:  # psycopg is imported only where PostgreSQL is used: it costs start-up time
    import psycopg

T = TypeVar("T")
Dialect = Literal["sqlite", "postgres"]


class AlertsUnavailable(StateError):
    """The alert database cannot be reached; the outbox retries its round later."""


class AlertDatabase(Protocol):
    dialect: Dialect

    @property
    def location(self) -> str: ...

    def transaction(self, work: Callable[[Execute], T]) -> T: ...

    def close(self) -> None: ...


class SqliteAlerts:
    """`alerts.db`, one connection guarded by a lock (the worker and late answers use it from threads)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = connect(path, check=True)
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return str(self.path)

    def transaction(self, work: Callable[[Execute], T]) -> T:
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection.execute)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PostgresAlerts:
    """The shared database's `alerts` tables (created by the store's migrations), one connection."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None

    @property
    def location(self) -> str:
        return mask_url(self._url)

    def transaction(self, work: Callable[[Execute], T]) -> T:
        import psycopg

        from tfy_gateway.gateway.store.postgres import connect as connect_postgres

        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None or self._connection.closed or self._connection.broken:
                        self._connection = connect_postgres(self._url)
                    with self._connection.transaction():
                        return work(_executor(self._connection))
                except (psycopg.OperationalError, StoreError) as exc:
                    if self._connection is not None:
                        self._connection.close()
                    self._connection = None
                    if attempt == 2:
                        raise AlertsUnavailable(f"the alert database {self.location} is unreachable: {exc}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _executor(connection: psycopg.Connection[Any]) -> Execute:
    """`execute(sql, params)` with the journal's `?` placeholders on a psycopg connection."""
    from tfy_gateway.gateway.store.postgres import sql

    def execute(statement: str, params: tuple[Any, ...]) -> Cursor:
        return connection.execute(sql(statement), list(params) or None)

    return execute


def open_database(data_dir: Path, database_url: str | None) -> AlertDatabase:
    """PostgreSQL when the replicas share one (`database_url`), else `<data-dir>/alerts.db`."""
    if database_url:
        return PostgresAlerts(database_url)
    return SqliteAlerts(data_dir / ALERTS_FILE)
