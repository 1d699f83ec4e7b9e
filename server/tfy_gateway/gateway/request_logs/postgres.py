"""Request logs in the PostgreSQL database the replicas share (table created by the store's migrations).

Two connections: one the writer inserts batches through, one the logs/usage endpoints read through,
so a long summary never delays a batch. A connection found broken (PostgreSQL restarted) is replaced
on its next use; the failed batch stays with the writer, which retries it (`writer.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from tfy_gateway.gateway.request_logs.backend import DELETE_BEFORE, LogsUnavailable
from tfy_gateway.gateway.request_logs.inserts import UPSERT
from tfy_gateway.gateway.request_logs.query import (
    POSTGRES,
    LogFilter,
    Rows,
    query_logs,
    usage_by,
    usage_series,
    usage_summary,
)
from tfy_gateway.gateway.request_logs.record import COLUMNS
from tfy_gateway.gateway.secrets_masking import mask_url
from tfy_gateway.gateway.store import StoreError
from tfy_gateway.gateway.store.postgres import connect, sql

T = TypeVar("T")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class _Adapter:
    """`execute(sql, params)` with `?` placeholders on a psycopg connection, as query.py expects."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def execute(self, statement: str, parameters: Sequence[Any], /) -> Rows:
        return self._connection.execute(sql(statement), list(parameters) or None)


class _Connection:
    """One lazily (re)opened autocommit-off connection, used by one thread at a time."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: psycopg.Connection[Any] | None = None
        self.lock = threading.Lock()

    def get(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed or self._connection.broken:
            if self._connection is not None:
                self._connection.close()
            self._connection = connect(self._url)
        return self._connection

    @property
    def current(self) -> psycopg.Connection[Any] | None:
        """The open connection, if any (never opens one)."""
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_COLUMN_LIST = ", ".join(COLUMNS)
_STAGING = "CREATE TEMP TABLE IF NOT EXISTS incoming_request_logs (LIKE request_logs) ON COMMIT DELETE ROWS"
_COPY = f"COPY incoming_request_logs ({_COLUMN_LIST}) FROM STDIN"
_MERGE = f"INSERT INTO request_logs ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM incoming_request_logs{UPSERT}"


class PostgresLogs:
    def __init__(self, url: str) -> None:
        self._url = url
        self._writer = _Connection(url)
        self._reader = _Connection(url)
        # The writer connection whose session has the staging table (created by a committed batch).
        self._staged: psycopg.Connection[Any] | None = None

    @property
    def location(self) -> str:
        return mask_url(self._url)

    def open(self) -> None:
        """Check the database answers; the schema comes from the store's migrations (which ran first)."""
        with self._writer.lock:
            self._writer.get().execute("SELECT 1 FROM request_logs LIMIT 1").fetchall()
            self._writer.get().rollback()

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        """COPY into a session's staging table, then one upsert from it: `executemany` of a one-row
        INSERT cost the writer ~16-23 us of CPU a row (against ~5) and the batch more time."""
        unique = {row[0]: row for row in rows}  # the last row of an id: one statement upserts it once

        def write(connection: psycopg.Connection[Any]) -> None:
            if connection is not self._staged:
                connection.execute(_STAGING)
            with connection.cursor() as cursor:
                with cursor.copy(_COPY) as copy:
                    for row in unique.values():
                        copy.write_row(row)
                cursor.execute(_MERGE)

        self._run(self._writer, write)
        with self._writer.lock:
            self._staged = self._writer.current  # committed: the table stays for the session

    def delete_before(self, cutoff: float) -> int:
        return self._run(self._writer, lambda c: c.execute(sql(DELETE_BEFORE), (cutoff,)).rowcount)

    def query(self, where: LogFilter, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return self._run(
            self._reader, lambda c: query_logs(_Adapter(c), where, limit=limit, offset=offset, dialect=POSTGRES)
        )

    def summary(self, where: LogFilter) -> dict[str, Any]:
        return self._run(self._reader, lambda c: usage_summary(_Adapter(c), where, POSTGRES))

    def breakdown(self, where: LogFilter, by: str) -> list[dict[str, Any]]:
        return self._run(self._reader, lambda c: usage_by(_Adapter(c), where, by, POSTGRES))

    def series(self, where: LogFilter, *, start: float, end: float, bucket_s: float) -> list[dict[str, Any]]:
        return self._run(
            self._reader,
            lambda c: usage_series(_Adapter(c), where, start=start, end=end, bucket_s=bucket_s, dialect=POSTGRES),
        )

    def _run(self, holder: _Connection, function: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`function` in one transaction. A connection that died since its last use (PostgreSQL restarted)
        is replaced and the whole transaction retried once: it was rolled back, and inserts are upserts."""
        with holder.lock:
            for attempt in (1, 2):
                try:
                    connection = holder.get()
                    with connection.transaction():
                        return function(connection)
                except (psycopg.OperationalError, StoreError) as exc:
                    holder.close()
                    if attempt == 2:
                        raise LogsUnavailable(self.location, _first_line(exc)) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        for connection in (self._writer, self._reader):
            with connection.lock:
                connection.close()
