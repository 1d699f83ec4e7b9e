"""`limits.sqlite3` damaged in the ways it was found (truncated, garbled, replaced by text or by a
directory): one line that says which file, what is wrong and what to do; counters that cannot be
read are reported, never zeroed silently."""

from __future__ import annotations

import logging
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gateway.inprocess import running_gateway
from tests.gateway.limits.conftest import T0, Clock
from tfy_gateway.gateway.limits import LimitJournal, MemoryLimitState
from tfy_gateway.gateway.limits.state import Batch, Charge, Probe
from tfy_gateway.gateway.limits.state_file import LIMITS_FILE, StateFileError, check_counters, move_aside


def counters_file(path: Path, count: int = 2000) -> None:
    """A real journal's file with `count` live counters."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "CREATE TABLE limit_counters (key TEXT PRIMARY KEY, buckets TEXT NOT NULL, expires_at REAL NOT NULL)"
    )
    rows = [
        (f'["budget","b","cost_per_month","user","u{i}@example.com"]', "[[7,5000]]", T0 + 86_400) for i in range(count)
    ]
    with connection:  # one transaction
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO limit_counters VALUES (?, ?, ?)", rows)
    connection.close()


def truncated_to_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def truncated_to_100_bytes(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def garbled(path: Path) -> None:
    data = bytearray(path.read_bytes())
    chance = random.Random(7)
    for index in range(4096, len(data), 97):
        data[index] = chance.randrange(256)
    path.write_bytes(bytes(data))


def garbled_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"x" * 16
    path.write_bytes(bytes(data))


def replaced_by_text(path: Path) -> None:
    path.write_text("these are not the counters you are looking for\n" * 50)


def replaced_by_a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "something").write_text("x")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated to half": truncated_to_half,
    "truncated to 100 bytes": truncated_to_100_bytes,
    "garbled": garbled,
    "garbled header": garbled_header,
    "replaced by text": replaced_by_text,
    "replaced by a directory": replaced_by_a_directory,
}


def assert_one_clear_line(error: StateFileError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message and str(path) in message
    assert "Move it aside" in message and "tfy-gateway serve --reset-state limits" in message


@pytest.mark.parametrize("damage", DAMAGE)
async def test_a_damaged_file_stops_the_start_with_one_line_naming_it(tmp_path: Path, damage: str) -> None:
    path = tmp_path / LIMITS_FILE
    counters_file(path)
    DAMAGE[damage](path)
    with pytest.raises(StateFileError) as checked:
        check_counters(path)
    assert_one_clear_line(checked.value, path)
    journal = LimitJournal(path, MemoryLimitState(Clock(T0)))
    with pytest.raises(StateFileError) as started:
        await journal.start()
    assert str(started.value) == str(checked.value)


async def test_counters_that_cannot_be_read_are_counted_and_logged_not_dropped_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / LIMITS_FILE
    counters_file(path, count=5)
    connection = sqlite3.connect(path)
    connection.execute("UPDATE limit_counters SET buckets = 'not json' WHERE key LIKE '%u1@%' OR key LIKE '%u3@%'")
    connection.commit()
    connection.close()
    state = MemoryLimitState(Clock(T0))
    journal = LimitJournal(path, state)
    with caplog.at_level(logging.ERROR):
        await journal.start()
    try:
        assert journal.unreadable == 2 and not journal.emptied
        assert "2 rate-limit/budget counters in" in caplog.text and "start from zero" in caplog.text
        assert len(state) == 3, "the readable ones are loaded"
    finally:
        await journal.stop()


async def test_a_file_found_empty_is_loaded_as_empty_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / LIMITS_FILE
    path.write_bytes(b"")  # its content lost (a crash of the disk, a truncation)
    journal = LimitJournal(path, MemoryLimitState(Clock(T0)))
    with caplog.at_level(logging.ERROR):
        await journal.start()
    try:
        assert journal.emptied and "was empty (0 bytes)" in caplog.text
    finally:
        await journal.stop()
    fresh = LimitJournal(tmp_path / "new" / LIMITS_FILE, MemoryLimitState(Clock(T0)))
    await fresh.start()  # a file that does not exist yet is no loss
    await fresh.stop()
    assert not fresh.emptied and fresh.unreadable == 0


async def test_moving_the_file_aside_starts_every_counter_from_zero_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / LIMITS_FILE
    state = MemoryLimitState(Clock(T0))
    journal = LimitJournal(path, state)
    await journal.start()
    await state.reserve(Batch.of([Charge("spent", 7, 1, 40, 1, None, True, T0 + 86_400)]))
    await journal.stop()
    garbled_header(path)
    moved = move_aside(path)
    assert moved is not None and moved.name.startswith(LIMITS_FILE + ".reset-") and moved.exists()
    assert not path.exists() and not path.with_name(LIMITS_FILE + "-wal").exists()
    assert check_counters(path) is None
    restarted = MemoryLimitState(Clock(T0))
    journal = LimitJournal(path, restarted)
    await journal.start()
    assert await restarted.read([Probe("spent", 7, 1)]) == (0,)
    await journal.stop()
    assert move_aside(tmp_path / "nothing-here") is None
    shutil.rmtree(moved, ignore_errors=True)


async def test_a_gateway_on_a_damaged_file_fails_its_start_up_with_that_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    replaced_by_text_file = data / LIMITS_FILE
    replaced_by_text_file.write_text("not a database\n")
    with pytest.raises(RuntimeError) as failed:  # the ASGI lifespan's startup.failed message
        async with running_gateway(data, offline=False):
            pass
    message = str(failed.value)
    assert message.startswith("lifespan startup failed: the rate-limit and budget counters file"), message
    assert "\n" not in message and "Traceback" not in message and "--reset-state limits" in message


async def test_metrics_show_the_counters_that_could_not_be_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    counters_file(data / LIMITS_FILE, count=5)
    connection = sqlite3.connect(data / LIMITS_FILE)
    connection.execute("UPDATE limit_counters SET buckets = '[[1,' WHERE key LIKE '%u2@%'")
    connection.commit()
    connection.close()
    async with running_gateway(data, offline=False) as gateway:
        metrics = (await gateway.http.get("/metrics", headers=gateway.auth())).text
    assert "tfy_gateway_limit_counters_unreadable 1.0" in metrics
    assert "tfy_gateway_limit_state_emptied 0.0" in metrics
