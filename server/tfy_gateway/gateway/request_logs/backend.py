"""Where request logs live: `LogBackend`, and its SQLite engine (`<data-dir>/logs.sqlite3`).

The writer (`writer.py`) and the logs/usage endpoints talk to a backend only, so the same code writes
to the local SQLite file of one process or to the PostgreSQL database several replicas share
(`postgres.py`), and every replica then answers `tfy-gateway logs` and usage with the same rows.
Methods are synchronous and called from worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.request_logs.inserts import statements
from tfy_gateway.gateway.request_logs.query import (
    SQLITE,
    Executes,
    LogFilter,
    query_logs,
    usage_by,
    usage_series,
    usage_summary,
)
from tfy_gateway.gateway.request_logs.schema import connect

T = TypeVar("T")

DELETE_BEFORE = "DELETE FROM request_logs WHERE created_at < ?"


class LogsUnavailable(ApiError):
    """The log database cannot be reached right now (a 503 to readers); the writer keeps its batches."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(503, f"The request-log database {location} is unreachable ({reason}); retry later.")


class LogBackend(Protocol):
    @property
    def location(self) -> str:
        """Where the logs are, for messages (never a password)."""

    def open(self) -> None:
        """Connect and make sure the schema exists."""

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Write `rows` (`LogRecord.to_row()`) in one transaction."""

    def delete_before(self, cutoff: float) -> int: ...

    def query(self, where: LogFilter, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]: ...

    def summary(self, where: LogFilter) -> dict[str, Any]: ...

    def breakdown(self, where: LogFilter, by: str) -> list[dict[str, Any]]:
        """Sums per model, subject, team or metadata value (`query.usage_by`)."""

    def series(self, where: LogFilter, *, start: float, end: float, bucket_s: float) -> list[dict[str, Any]]:
        """Sums per time bucket (`query.usage_series`)."""

    def close(self) -> None: ...


class SqliteLogs:
    """Request logs in their own SQLite file (WAL): one writer connection, a fresh one per query."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return str(self.path)

    def open(self) -> None:
        self._writer = connect(self.path)

    def _connection(self) -> sqlite3.Connection:
        if self._writer is None:
            raise RuntimeError(f"the request-log file {self.path} is not open")
        return self._writer

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        """One transaction, up to `ROWS_PER_STATEMENT` rows per statement (`inserts.statements`).

        Every SQLite step releases the GIL, and this runs in a worker thread beside a busy event loop:
        a statement per row meant a wait for the GIL per row, and under sustained load the writer fell
        behind (measured: 10,240 of 42,000 records written by the end of a run, the rest queued).
        """
        with self._lock, self._connection() as connection:
            connection.execute("BEGIN")
            for statement, parameters in statements(rows):
                connection.execute(statement, parameters)

    def delete_before(self, cutoff: float) -> int:
        with self._lock:
            return self._connection().execute(DELETE_BEFORE, (cutoff,)).rowcount

    def query(self, where: LogFilter, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return self._read(lambda c: query_logs(c, where, limit=limit, offset=offset, dialect=SQLITE))

    def summary(self, where: LogFilter) -> dict[str, Any]:
        return self._read(lambda c: usage_summary(c, where, SQLITE))

    def breakdown(self, where: LogFilter, by: str) -> list[dict[str, Any]]:
        return self._read(lambda c: usage_by(c, where, by, SQLITE))

    def series(self, where: LogFilter, *, start: float, end: float, bucket_s: float) -> list[dict[str, Any]]:
        return self._read(lambda c: usage_series(c, where, start=start, end=end, bucket_s=bucket_s, dialect=SQLITE))

    def _read(self, function: Callable[[Executes], T]) -> T:
        """`function` over a fresh connection (readers never wait for the writer's)."""
        connection = connect(self.path)
        try:
            return function(connection)
        finally:
            connection.close()

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
