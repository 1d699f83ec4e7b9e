"""`LimitJournal`: rate-limit windows and budget spend survive a restart.

The in-memory store stays the source of truth while the gateway runs; the journal writes the
counters that changed behind the requests (every `interval_s`, in a worker thread, never on the event
loop) and once more on shutdown, into `limits.sqlite3` in the data dir. On start the store loads the
counters that have not expired. So a restart never resets a monthly budget or a daily limit; at worst
(a crash, not a shutdown) the last interval's charges are lost. A file that cannot be used stops the
start with one line saying what to do (`state_file`); counters that cannot be read are reported
(`unreadable`, `emptied`), never zeroed silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

import orjson

from tfy_gateway.gateway.limits.memory import MemoryLimitState
from tfy_gateway.gateway.limits.state_file import LIMITS_FILE, Row, load_counters, open_counters

logger = logging.getLogger(__name__)

__all__ = ["LIMITS_FILE", "LimitJournal"]


class LimitJournal:
    def __init__(self, path: Path, state: MemoryLimitState, *, interval_s: float = 1.0) -> None:
        self.path = path
        self.state = state
        self.interval_s = interval_s
        self._connection: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.unreadable = 0  # counters in the file that could not be read at start (they start from zero)
        self.emptied = False  # the file was found empty (0 bytes): every counter it held was lost

    @property
    def stopping(self) -> bool:
        """True once `stop()` has begun: the background writer finishes the write under way (if
        any) and exits, and `stop()` then writes what changed since. Lets a caller (a test) act at
        the moment a shutdown is in progress without guessing how long that takes."""
        return self._stopping.is_set()

    async def start(self) -> None:
        """Open the file and load what is still counting into the store; `StateFileError` (one line:
        which file, what is wrong, what to do) when the file cannot be used."""
        path = self.path
        emptied = path.is_file() and path.stat().st_size == 0
        self._connection = connection = await asyncio.to_thread(open_counters, path)
        try:
            loaded = await asyncio.to_thread(load_counters, connection, path, emptied=emptied)
        except BaseException:
            self._connection = None
            connection.close()
            raise
        self.unreadable, self.emptied = loaded.unreadable, loaded.emptied
        self.state.load(loaded.rows)
        self._task = asyncio.create_task(self._run(), name="limit-journal")

    async def stop(self) -> None:
        # The writer is asked to finish, never cancelled: a cancelled flush would have taken its
        # counters from the store and dropped them with the thread still writing (found under load:
        # a restart right after two requests lost them).
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.flush()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def flush(self) -> None:
        """Write the counters changed since the last flush (taken on the loop, written in a thread);
        if the write fails they are marked changed again, for the next flush."""
        changed, gone = self.state.take_dirty()
        if (changed or gone) and self._connection is not None:
            try:
                await asyncio.shield(asyncio.to_thread(self._write, changed, gone))
            except BaseException:
                self.state.mark_dirty([key for key, _, _ in changed] + gone)
                raise

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            try:
                await self.flush()
            except Exception:
                logger.exception("writing rate-limit and budget counters to %s failed; retrying", self.path)

    def _write(self, changed: list[Row], gone: list[str]) -> None:
        assert self._connection is not None
        connection = self._connection
        with connection:
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO limit_counters (key, buckets, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET buckets = excluded.buckets, expires_at = excluded.expires_at",
                [(key, orjson.dumps(sorted(buckets.items())).decode(), expires) for key, buckets, expires in changed],
            )
            connection.executemany("DELETE FROM limit_counters WHERE key = ?", [(key,) for key in gone])
