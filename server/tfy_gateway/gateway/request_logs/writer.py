"""`LogWriter`: request logs go to their backend (SQLite file or PostgreSQL) in batches from a background task.

`submit()` is what the request path calls: it appends to an in-memory queue and returns; it never
blocks, never touches the disk and never raises. A background task writes the queue in batches
(in a worker thread, one transaction per batch). When the queue is full, new records are dropped and
counted rather than slowing requests down; a failing disk is logged and counted, never surfaced to
clients. Rows older than the retention period are deleted hourly.

The cadence is the flush interval (0.25 s): what is queued then goes in one transaction of up to
`batch_size` (4096) rows, and only a queue that reaches `batch_size` wakes the writer sooner. Readers
through the API flush first, so they never wait for it. A batch written alone costs the same per row
whatever its size, but beside a busy event loop each batch starts on cold caches: at ~7,000
requests/s, 512-row batches cost the writer thread ~8.0 µs a row and ~1,800-row ones ~6.3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import anyio

from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.request_logs.backend import LogBackend, LogsUnavailable, SqliteLogs
from tfy_gateway.gateway.request_logs.record import LogRecord, Row
from tfy_gateway.gateway.tallies import MAX_SHAPES, ShapeCache

logger = logging.getLogger(__name__)

RETENTION_CHECK_SECONDS = 3600.0


def log_backend(path: Path, database_url: str | None = None) -> LogBackend:
    """PostgreSQL at `database_url` when given (shared by every replica), else the SQLite file `path`."""
    if database_url:
        from tfy_gateway.gateway.request_logs.postgres import PostgresLogs

        return PostgresLogs(database_url)
    return SqliteLogs(path)


class LogWriter:
    """Batched, best-effort writer of `LogRecord`s to `backend` (a path: that SQLite file)."""

    def __init__(
        self,
        backend: LogBackend | Path,
        *,
        batch_size: int = 4096,
        flush_interval: float = 0.25,
        max_queue: int = 100_000,
        retention_days: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend: LogBackend = SqliteLogs(backend) if isinstance(backend, Path) else backend
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.retention_days = retention_days
        self.written = 0
        self.dropped = 0
        self.failed_batches = 0
        self._clock = clock
        self._queue: deque[Row] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._writing: asyncio.Future[bool] | None = None
        self._lock = asyncio.Lock()
        self._open = False
        self._task: asyncio.Task[None] | None = None
        self._last_retention = 0.0
        # JSON texts that rows of one configuration repeat (the limit rules of a request shape), for
        # whoever builds the rows (`data_plane.recording`) to encode once.
        self.texts = ShapeCache()
        # A caller's metadata, rule ids and teams texts (`data_plane.recording`), by caller and rule.
        self.caller_texts: CallerMemo[tuple[str, str, str]] = CallerMemo(MAX_SHAPES)

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def stopping(self) -> bool:
        """True once `stop()` has begun: the background writer finishes the batch under way (if any)
        and exits, and `stop()` then writes what is queued. Lets a caller (a test) act at the moment
        a shutdown is in progress without guessing how long that takes."""
        return self._stopping.is_set()

    async def start(self) -> None:
        await anyio.to_thread.run_sync(self.backend.open)
        self._open = True
        self._task = asyncio.create_task(self._run(), name="request-log-writer")

    async def stop(self) -> None:
        """Write what is queued, then close (called at shutdown).

        The background writer is asked to finish, never cancelled: a batch it has taken from the
        queue is always written (and counted) or queued again."""
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
        if self._queue:
            logger.error("%d request logs were not written (their database is unreachable)", len(self._queue))
        if self._open:
            self._open = False
            await anyio.to_thread.run_sync(self.backend.close)

    def submit(self, record: LogRecord) -> None:
        """Queue one record; O(1), never blocks or raises."""
        self.submit_row(record.to_row())

    def submit_row(self, row: Row) -> None:
        """Queue one record already in its stored form (`LogRecord.to_row`'s): the data plane builds
        its rows so, once each, and a batch goes to its worker thread as it is queued (rows built
        batch by batch on the event loop held it for a whole batch at a time)."""
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            return
        self._queue.append(row)
        if len(self._queue) >= self.batch_size:
            self._wakeup.set()

    async def flush(self) -> None:
        """Write everything queued when called (the query API calls this to read its own writes).

        While the database is unreachable (`LogsUnavailable`) batches stay queued, in order, and are
        written once it is back (the queue's bound still applies: past it, new records are dropped);
        any other failure drops that batch, so one bad batch never blocks the ones after it. A caller
        cancelled meanwhile (a log reader gone) does not cancel the write of the batch it took.
        """
        async with self._lock:
            if self._writing is not None:  # the batch of a flush whose caller was cancelled
                await asyncio.shield(self._writing)
            # Only what is queued now: records arriving during the writes wait for the next flush, so
            # that under steady traffic batches fill up instead of being written a few at a time.
            left = len(self._queue)
            while left > 0 and self._queue and self._open:
                size = min(self.batch_size, left, len(self._queue))
                left -= size
                batch = [self._queue.popleft() for _ in range(size)]
                self._writing = asyncio.ensure_future(self._write(batch))
                if not await asyncio.shield(self._writing):
                    return

    async def _write(self, batch: list[Row]) -> bool:
        """Write one batch; False when the database is unreachable (the batch is queued again)."""
        try:
            await anyio.to_thread.run_sync(self.backend.insert, batch)
            self.written += len(batch)
        except LogsUnavailable as exc:
            self.failed_batches += 1
            self._queue.extendleft(reversed(batch))
            logger.warning("%d request logs wait for their database: %s", len(self._queue), exc.message)
            return False
        except Exception as exc:
            self.failed_batches += 1
            logger.error(
                "writing %d request logs to %s failed; they are dropped: %s",
                len(batch),
                self.backend.location,
                getattr(exc, "message", exc),
            )
        return True

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.flush_interval)
            self._wakeup.clear()
            await self.flush()
            if self._clock() - self._last_retention >= RETENTION_CHECK_SECONDS:
                await self.apply_retention()

    async def apply_retention(self) -> int:
        """Delete rows older than the retention period; returns how many went."""
        self._last_retention = self._clock()
        if self.retention_days <= 0 or not self._open:
            return 0
        cutoff = self._clock() - self.retention_days * 86400
        async with self._lock:
            try:
                return await anyio.to_thread.run_sync(self.backend.delete_before, cutoff)
            except Exception as exc:
                logger.warning(
                    "deleting request logs older than %s days failed (retried in an hour): %s",
                    self.retention_days,
                    getattr(exc, "message", exc),
                )
                return 0
