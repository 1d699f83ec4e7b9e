"""`LimitJournal`: counters written behind the requests survive a restart; expired ones do not."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
from pathlib import Path
from typing import Any

from tests.gateway.limits.conftest import T0, Clock
from tests.helpers import eventually
from tfy_gateway.gateway.limits import LimitJournal, MemoryLimitState
from tfy_gateway.gateway.limits.state import Batch, Charge, Probe


def charge(key: str, amount: int, expires_at: float, bucket: int = 7) -> Charge:
    return Charge(key, bucket, 1, amount, 1, None, True, expires_at)


async def test_a_restart_keeps_live_counters_and_drops_expired_ones(tmp_path: Path) -> None:
    clock = Clock(T0)
    state = MemoryLimitState(clock)
    journal = LimitJournal(tmp_path / "limits.sqlite3", state, interval_s=3_600)
    await journal.start()
    await state.reserve(Batch.of([charge("monthly", 5, T0 + 86_400), charge("lifetime", 3, math.inf)]))
    await state.reserve(Batch.of([charge("short", 1, T0 + 10)]))
    await journal.flush()
    await state.reserve(Batch.of([charge("monthly", 2, T0 + 86_400)]))  # written by stop()
    await journal.stop()
    assert (tmp_path / "limits.sqlite3").stat().st_mode & 0o777 == 0o600

    clock.now = T0 + 20
    restarted = MemoryLimitState(clock)
    journal = LimitJournal(tmp_path / "limits.sqlite3", restarted)
    await journal.start()
    probes = [Probe("monthly", 7, 1), Probe("lifetime", 7, 1), Probe("short", 7, 1)]
    assert await restarted.read(probes) == (7, 3, 0)
    await journal.stop()


async def test_expired_counters_are_deleted_from_the_file(tmp_path: Path) -> None:
    clock = Clock(T0)
    state = MemoryLimitState(clock)
    journal = LimitJournal(tmp_path / "limits.sqlite3", state, interval_s=3_600)
    await journal.start()
    await state.reserve(Batch.of([charge("short", 1, T0 + 10)]))
    await journal.flush()
    clock.now = T0 + 11
    await state.read([Probe("short", 7, 1)])  # drops it
    await journal.stop()
    rows = sqlite3.connect(tmp_path / "limits.sqlite3").execute("SELECT count(*) FROM limit_counters").fetchone()
    assert rows == (0,)


async def test_stopping_while_a_write_is_in_flight_loses_nothing(tmp_path: Path) -> None:
    clock = Clock(T0)
    state = MemoryLimitState(clock)
    journal = LimitJournal(tmp_path / "limits.sqlite3", state, interval_s=0.01)
    await journal.start()
    started, release = threading.Event(), threading.Event()
    write = journal._write

    def slow_write(*args: Any) -> None:
        started.set()
        assert release.wait(30), "the test never released the write"
        write(*args)

    journal._write = slow_write  # type: ignore[method-assign]
    await state.reserve(Batch.of([charge("late", 4, T0 + 86_400)]))
    assert await asyncio.to_thread(started.wait, 30), "the periodic flush began writing"
    stopping = asyncio.ensure_future(journal.stop())  # the shutdown arrives mid-write
    await eventually(lambda: journal.stopping, "the shutdown under way")
    release.set()
    await stopping

    restarted = MemoryLimitState(clock)
    journal = LimitJournal(tmp_path / "limits.sqlite3", restarted)
    await journal.start()
    assert await restarted.read([Probe("late", 7, 1)]) == (4,)
    await journal.stop()
