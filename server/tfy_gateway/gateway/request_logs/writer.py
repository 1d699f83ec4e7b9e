"""`LogWriter`: request logs go to SQLite in batches from a background task.

`submit()` is what the request path calls: it appends to an in-memory queue and returns; it never
blocks, never touches the disk and never raises. A background task writes the queue in batches
(in a worker thread, one transaction per batch). When the queue is full, new records are dropped and
counted rather than slowing requests down; a failing disk is logged and counted, never surfaced to
clients. Rows older than the retention period are deleted hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import anyio

from tfy_gateway.gateway.request_logs.record import COLUMNS, LogRecord
from tfy_gateway.gateway.request_logs.schema import connect

logger = logging.getLogger(__name__)

_INSERT = f"INSERT OR REPLACE INTO request_logs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
RETENTION_CHECK_SECONDS = 3600.0


class LogWriter:
    """Batched, best-effort writer of `LogRecord`s to `path`."""

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = 512,
        flush_interval: float = 0.25,
        max_queue: int = 100_000,
        retention_days: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.retention_days = retention_days
        self.written = 0
        self.dropped = 0
        self.failed_batches = 0
        self._clock = clock
        self._queue: deque[LogRecord] = deque()
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._connection: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_retention = 0.0

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        self._connection = await anyio.to_thread.run_sync(connect, self.path)
        self._task = asyncio.create_task(self._run(), name="request-log-writer")

    async def stop(self) -> None:
        """Write what is queued, then close (called at shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await anyio.to_thread.run_sync(connection.close)

    def submit(self, record: LogRecord) -> None:
        """Queue one record; O(1), never blocks or raises."""
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            return
        self._queue.append(record)
        if len(self._queue) >= self.batch_size:
            self._wakeup.set()

    async def flush(self) -> None:
        """Write everything queued so far (the query API calls this to read its own writes)."""
        async with self._lock:
            while self._queue and self._connection is not None:
                batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                try:
                    await anyio.to_thread.run_sync(self._insert, [record.to_row() for record in batch])
                    self.written += len(batch)
                except Exception:
                    self.failed_batches += 1
                    logger.exception("writing %d request logs to %s failed; they are dropped", len(batch), self.path)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.flush_interval)
            self._wakeup.clear()
            await self.flush()
            if self._clock() - self._last_retention >= RETENTION_CHECK_SECONDS:
                await self.apply_retention()

    async def apply_retention(self) -> int:
        """Delete rows older than the retention period; returns how many went."""
        self._last_retention = self._clock()
        if self.retention_days <= 0 or self._connection is None:
            return 0
        cutoff = self._clock() - self.retention_days * 86400
        async with self._lock:
            try:
                return await anyio.to_thread.run_sync(self._delete_before, cutoff)
            except Exception:
                logger.exception("deleting request logs older than %s days failed", self.retention_days)
                return 0

    def _insert(self, rows: list[tuple[object, ...]]) -> None:
        assert self._connection is not None
        with self._connection:
            self._connection.execute("BEGIN")
            self._connection.executemany(_INSERT, rows)

    def _delete_before(self, cutoff: float) -> int:
        assert self._connection is not None
        cursor = self._connection.execute("DELETE FROM request_logs WHERE created_at < ?", (cutoff,))
        return cursor.rowcount
