"""`LimitJournal`: rate-limit windows and budget spend survive a restart.

The in-memory store stays the source of truth while the gateway runs; the journal writes the
counters that changed behind the requests (every `interval_s`, in a worker thread, never on the event
loop) and once more on shutdown, into `limits.sqlite3` in the data dir. On start the store loads the
counters that have not expired. So a restart never resets a monthly budget or a daily limit; at worst
(a crash, not a shutdown) the last interval's charges are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

import orjson

from tfy_gateway.gateway.limits.memory import MemoryLimitState
from tfy_gateway.gateway.private_files import private_file

logger = logging.getLogger(__name__)

LIMITS_FILE = "limits.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS limit_counters (
    key TEXT PRIMARY KEY,
    buckets TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

Row = tuple[str, dict[int, int], float]


class LimitJournal:
    def __init__(self, path: Path, state: MemoryLimitState, *, interval_s: float = 1.0) -> None:
        self.path = path
        self.state = state
        self.interval_s = interval_s
        self._connection: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        """True once `stop()` has begun: the background writer finishes the write under way (if
        any) and exits, and `stop()` then writes what changed since. Lets a caller (a test) act at
        the moment a shutdown is in progress without guessing how long that takes."""
        return self._stopping.is_set()

    async def start(self) -> None:
        """Open the file and load what is still counting into the store."""
        self._connection = await asyncio.to_thread(self._open)
        rows = await asyncio.to_thread(self._load)
        self.state.load(rows)
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

    def _open(self) -> sqlite3.Connection:
        private_file(self.path)
        connection = sqlite3.connect(str(self.path), timeout=5.0, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
        return connection

    def _load(self) -> list[Row]:
        assert self._connection is not None
        rows = self._connection.execute("SELECT key, buckets, expires_at FROM limit_counters").fetchall()
        loaded: list[Row] = []
        for key, buckets, expires_at in rows:
            try:
                loaded.append((key, {int(index): int(amount) for index, amount in orjson.loads(buckets)}, expires_at))
            except (orjson.JSONDecodeError, TypeError, ValueError):
                logger.warning("ignoring an unreadable limit counter in %s", self.path)
        return loaded

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
