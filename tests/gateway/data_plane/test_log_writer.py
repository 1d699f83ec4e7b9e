"""The batched request-log writer and the query functions, on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.request_logs.records import NOW, record
from tests.helpers import eventually
from tfy_gateway.gateway.request_logs import (
    LogFilter,
    LogWriter,
    QueryError,
    connect,
    parse_since,
    query_logs,
    usage_summary,
)
from tfy_gateway.gateway.request_logs.backend import SqliteLogs
from tfy_gateway.gateway.request_logs.record import COLUMNS


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0]


async def test_submit_is_queued_and_flushed_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "logs.sqlite3"
    writer = LogWriter(path, batch_size=10, flush_interval=60)
    await writer.start()
    try:
        for n in range(25):
            writer.submit(record(n))
        assert writer.pending <= 25  # nothing written synchronously by submit
        await writer.flush()
        assert writer.pending == 0 and writer.written == 25 and count(path) == 25
    finally:
        await writer.stop()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


class SlowSqlite(SqliteLogs):
    """The real SQLite backend, whose inserts wait until the test lets them go."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.proceed = threading.Event()

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        self.entered.set()
        assert self.proceed.wait(60), "the test never let the insert go"
        super().insert(rows)


async def slow_writer(tmp_path: Path, batch_size: int) -> tuple[SlowSqlite, LogWriter]:
    """A started writer over `SlowSqlite`, flushing on a full batch or when asked (never on its timer)."""
    backend = SlowSqlite(tmp_path / "logs.sqlite3")
    writer = LogWriter(backend, batch_size=batch_size, flush_interval=60)
    await writer.start()
    return backend, writer


def submit(writer: LogWriter, numbers: range) -> None:
    for n in numbers:
        writer.submit(record(n))


async def test_shutdown_during_a_write_keeps_and_counts_the_batch(tmp_path: Path) -> None:
    """Stopping while the background writer's batch is in its thread: the batch is written and
    counted, and what was queued behind it too (the writer is asked to finish, not cancelled)."""
    backend, writer = await slow_writer(tmp_path, batch_size=10)
    submit(writer, range(10))  # a full batch wakes the background writer
    await eventually(backend.entered.is_set, "the insert under way")
    submit(writer, range(10, 15))
    stopping = asyncio.ensure_future(writer.stop())
    await eventually(lambda: writer.stopping, "the shutdown under way")
    backend.proceed.set()
    await stopping
    assert writer.written == 15 and writer.pending == 0
    assert count(tmp_path / "logs.sqlite3") == 15


async def test_a_reader_gone_mid_flush_does_not_lose_the_batch(tmp_path: Path) -> None:
    backend, writer = await slow_writer(tmp_path, batch_size=100)
    try:
        submit(writer, range(5))
        reader = asyncio.ensure_future(writer.flush())  # what the logs API does before it queries
        await eventually(backend.entered.is_set, "the insert under way")
        reader.cancel()
        backend.proceed.set()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await writer.flush()
        assert writer.written == 5 and writer.pending == 0
    finally:
        await writer.stop()
    assert count(tmp_path / "logs.sqlite3") == 5


async def test_a_flush_writes_what_was_queued_when_it_began(tmp_path: Path) -> None:
    """Records that arrive while a batch is being written wait for the next flush: under steady
    traffic batches fill up instead of going out a few records at a time."""
    backend, writer = await slow_writer(tmp_path, batch_size=100)
    try:
        submit(writer, range(3))
        flushing = asyncio.ensure_future(writer.flush())
        await eventually(backend.entered.is_set, "the insert under way")
        submit(writer, range(3, 5))
        backend.proceed.set()
        await flushing
        assert (writer.written, writer.pending) == (3, 2)
    finally:
        await writer.stop()
    assert count(tmp_path / "logs.sqlite3") == 5


async def test_a_full_queue_drops_instead_of_blocking(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "logs.sqlite3", max_queue=3, flush_interval=60)
    for n in range(5):
        writer.submit(record(n))
    assert writer.pending == 3 and writer.dropped == 2


async def test_a_failing_database_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "logs.sqlite3"
    writer = LogWriter(path, flush_interval=60)
    await writer.start()
    try:
        with sqlite3.connect(path) as connection:
            connection.execute("DROP TABLE request_logs")
        writer.submit(record(1))
        await writer.flush()
        assert writer.failed_batches == 1 and writer.pending == 0
    finally:
        await writer.stop()


async def test_retention_deletes_old_rows(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "logs.sqlite3"
    writer = LogWriter(path, flush_interval=60, retention_days=7, clock=clock)
    await writer.start()
    try:
        writer.submit(record(1, at=NOW - 8 * 86400))
        writer.submit(record(2, at=NOW - 6 * 86400))
        await writer.flush()
        assert await writer.apply_retention() == 1
        clock.now += 2 * 86400
        assert await writer.apply_retention() == 1
        assert count(path) == 0
    finally:
        await writer.stop()


def test_queries_filter_and_summarise(tmp_path: Path) -> None:
    connection = connect(tmp_path / "logs.sqlite3")
    rows = [
        record(1, at=NOW - 10),
        record(2, at=NOW - 5, subject="user:b@x", status=429, cost=0.0),
        record(3, at=NOW - 1, subject="user:b@x"),
    ]
    columns = ", ".join(COLUMNS)
    connection.executemany(
        f"INSERT INTO request_logs ({columns}) VALUES (" + ",".join("?" * len(COLUMNS)) + ")",
        [item.to_row() for item in rows],
    )
    page, total = query_logs(connection, LogFilter(subject="user:b@x"), limit=1, offset=0)
    assert total == 2 and [item["id"] for item in page] == ["r3"]
    assert page[0]["metadata"] == {"k": "v"} and page[0]["total_tokens"] == 15
    assert query_logs(connection, LogFilter(status="4xx"), limit=10, offset=0)[1] == 1
    assert query_logs(connection, LogFilter(status="success", since=NOW - 6), limit=10, offset=0)[1] == 1
    summary = usage_summary(connection, LogFilter())
    assert summary["total"] == {
        "requests": 3,
        "errors": 1,
        "prompt_tokens": 30,
        "completion_tokens": 15,
        "total_tokens": 45,
        "cost": 1.0,
    }
    assert {row["subject"]: row["requests"] for row in summary["by_subject"]} == {"user:a@x": 1, "user:b@x": 2}
    assert usage_summary(connection, LogFilter(since=NOW + 1))["total"]["requests"] == 0
    with pytest.raises(QueryError, match="status='teapot'"):
        LogFilter(status="teapot").where()


def test_parse_since() -> None:
    assert parse_since("15m", now=NOW) == NOW - 900
    assert parse_since("2d", now=NOW) == NOW - 2 * 86400
    assert parse_since("2027-01-15T08:00:00Z") == parse_since("2027-01-15T08:00:00+00:00")
    assert parse_since(str(NOW)) == NOW
    with pytest.raises(QueryError, match="duration ago"):
        parse_since("last tuesday")


def test_logs_written_before_usage_estimates_existed_are_kept(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "logs.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE request_logs ("
        + ", ".join(f"{c} {'REAL' if c == 'created_at' else 'TEXT'}" for c in COLUMNS[:-1])
        + ")"
    )
    old.execute(
        "INSERT INTO request_logs (id, created_at, endpoint, status, latency_ms) VALUES ('old', 1.0, 'chat', 200, 1.0)"
    )
    old.commit()
    old.close()
    connection = connect(path)
    page, total = query_logs(connection, LogFilter(), limit=10, offset=0)
    assert total == 1 and page[0]["id"] == "old" and page[0]["usage_estimated"] is False
