"""PostgreSQL engine of the store: the control plane that several gateway replicas share.

Same tables, same SQL and same transaction semantics as SQLite (`base.py`): every write is one
transaction that first bumps the `control_version` row, which holds that row's lock until commit, so
writers on every replica queue behind each other and never interleave. The commit also sends
`NOTIFY tfy_gateway_changes, '<version>'` (delivered only if the transaction commits), which the other
replicas' listeners turn into a reload (`gateway/propagation.py`).

One connection, used from one worker thread at a time (`Store.run` has a capacity limiter of one and a
lock guards it). A connection found dead at the first statement of a transaction (PostgreSQL restarted)
is replaced and the statement retried once: nothing had been sent yet, so nothing can be applied twice.
An unreachable database is a 503 naming it (never its password).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.secrets_masking import mask_url
from tfy_gateway.gateway.store.base import (
    BUMP_VERSION,
    Cursor,
    Execute,
    Store,
    StoreError,
    Transaction,
    check_expected,
    lease_timeout,
)
from tfy_gateway.gateway.store.migrations import migrate

CHANNEL = "tfy_gateway_changes"
MIGRATION_LOCK = 7_415_201_911  # pg_advisory_xact_lock key held while migrating (any constant will do)
WRITE_LEASE = 7_415_201_912  # advisory lock key of the write lease (shared by every commit, exclusive for a lease)
CONNECT_TIMEOUT_S = 5


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A new connection, or `StoreError` that says where and why (without the password)."""
    try:
        return psycopg.connect(
            url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S, application_name="tfy-gateway"
        )
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the database {mask_url(url)}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def sql(statement: str) -> str:
    """The store's `?` placeholders in psycopg's `%s` style (no statement contains a literal ? or %)."""
    return statement.replace("?", "%s")


class PostgresStore(Store):
    """The control-plane store in a PostgreSQL database, migrated on open."""

    resource_order = "seq"

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self._lock = threading.Lock()
        self._leased = False  # this object holds the write lease: its own commits need not wait for it
        self._db = connect(url)
        try:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                migrate(self._executor(self._db), "postgres", where=self.location)
        except psycopg.Error as exc:
            self._db.close()
            raise StoreError(f"cannot migrate the database {self.location}: {_reason(exc)}") from None
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str:
        return mask_url(self.url)

    @staticmethod
    def _executor(connection: psycopg.Connection[Any]) -> Execute:
        def execute(statement: str, params: tuple[Any, ...]) -> Cursor:
            return connection.execute(sql(statement), params or None)

        return execute

    def _unreachable(self, exc: BaseException) -> ApiError:
        return ApiError(
            503,
            f"The database {self.location} is unreachable ({_reason(exc)}): nothing was changed. "
            "Check that PostgreSQL is running and retry.",
        )

    def _fresh(self) -> psycopg.Connection[Any]:
        """The connection, replaced by a new one when it is closed or broken."""
        if self._db.closed or self._db.broken:
            self._db.close()
            try:
                self._db = connect(self.url)
            except StoreError as exc:
                raise self._unreachable(exc) from None
        return self._db

    def _begin(self, first: str) -> tuple[psycopg.Connection[Any], int]:
        """Open a transaction with `first` as its first statement; retried once on a dead connection."""
        for attempt in (1, 2):
            connection = self._fresh()
            try:
                cursor = connection.execute(first)  # psycopg sends BEGIN before it (autocommit is off)
                row = cursor.fetchone() if cursor.description is not None else None
                return connection, int(row[0]) if row else 0
            except psycopg.OperationalError as exc:
                connection.close()
                if attempt == 2:
                    raise self._unreachable(exc) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self, *, expect_version: int | None = None) -> Iterator[Transaction]:
        with self._lock:
            connection, _ = self._begin(f"SET LOCAL lock_timeout = '{self._lock_timeout}'")
            with self._ending(connection):
                if not self._leased:
                    self._wait_for_lease(connection, "SELECT pg_advisory_xact_lock_shared(%s)")
                version = int(connection.execute(BUMP_VERSION).fetchone()[0])  # type: ignore[index]
                transaction = Transaction(self._executor(connection), previous_version=version - 1)
                check_expected(transaction, expect_version)
                yield transaction
                connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(transaction.version)))
        self._committed(transaction)

    @contextmanager
    def write_lease(self) -> Iterator[None]:
        """A session-level advisory lock on a connection of its own: a crashed holder's lease ends
        with its connection."""
        try:
            connection = connect(self.url, autocommit=True)
        except StoreError as exc:
            raise self._unreachable(exc) from None
        try:
            connection.execute(f"SET lock_timeout = '{self._lock_timeout}'")
            self._wait_for_lease(connection, "SELECT pg_advisory_lock(%s)")
            with self._lock:
                self._leased = True
            yield
        finally:
            with self._lock:
                self._leased = False
            connection.close()

    @property
    def _lock_timeout(self) -> str:
        return f"{max(1, int(self.lease_wait_s * 1000))}ms"

    def _wait_for_lease(self, connection: psycopg.Connection[Any], statement: str) -> None:
        try:
            connection.execute(statement, (WRITE_LEASE,))
        except psycopg.errors.LockNotAvailable:
            raise lease_timeout(self.location, self.lease_wait_s) from None
        except psycopg.OperationalError as exc:
            connection.close()
            raise self._unreachable(exc) from None

    @contextmanager
    def reading(self) -> Iterator[Execute]:
        with self._lock:
            connection, _ = self._begin("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            with self._ending(connection):
                yield self._executor(connection)

    @contextmanager
    def writing(self) -> Iterator[Execute]:
        with self._lock:
            connection, _ = self._begin("SELECT 0")
            with self._ending(connection):
                yield self._executor(connection)

    @contextmanager
    def _ending(self, connection: psycopg.Connection[Any]) -> Iterator[None]:
        """Commit what the block did. A lost server closes the connection (a 503 for the caller);
        any other failure rolls the transaction back."""
        try:
            yield
            connection.commit()
        except psycopg.OperationalError as exc:
            connection.close()
            raise self._unreachable(exc) from None
        except BaseException:
            if not connection.closed:
                connection.rollback()
            raise
