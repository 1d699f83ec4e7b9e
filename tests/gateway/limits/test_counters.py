"""`WindowCounters`: amounts per bucket, release and settle, and memory that does not grow forever."""

from __future__ import annotations

from tests.gateway.limits.conftest import T0, Clock
from tfy_gateway.gateway.limits import WindowCounters
from tfy_gateway.gateway.limits.window import DAY, MINUTE


def test_used_sums_the_buckets_of_the_window() -> None:
    counters = WindowCounters(Clock(T0))
    now = MINUTE.index(T0)
    counters.add(MINUTE, "k", now, 2)
    counters.add(MINUTE, "k", now + 3, 5)
    assert counters.used(MINUTE, "k", now + 3) == 7
    assert counters.used(MINUTE, "k", now + 6) == 5
    assert counters.used(MINUTE, "other", now) == 0
    assert counters.frees_at(MINUTE, "k", now + 3, 1) == T0 + 60
    assert counters.frees_at(MINUTE, "k", now + 3, 3) == T0 + 90
    assert counters.frees_at(MINUTE, "k", now + 3, 8) is None


def test_adjust_corrects_a_bucket_and_ignores_one_that_is_gone() -> None:
    counters = WindowCounters(Clock(T0))
    now = MINUTE.index(T0)
    counters.add(MINUTE, "k", now, 10)
    counters.adjust(MINUTE, "k", now, -4)
    assert counters.used(MINUTE, "k", now) == 6
    counters.adjust(MINUTE, "k", now, -100)
    assert counters.used(MINUTE, "k", now) == 0
    counters.add(MINUTE, "k", now + 7, 1)  # the bucket of `now` is pruned
    counters.adjust(MINUTE, "k", now, 50)
    assert counters.used(MINUTE, "k", now + 7) == 1


def test_expired_counters_are_dropped() -> None:
    counters = WindowCounters(Clock(T0))
    now = MINUTE.index(T0)
    for user in range(1000):
        counters.add(MINUTE, ("rule", user), now, 1)
    counters.add(DAY, "day-key", DAY.index(T0), 1)
    assert len(counters) == 1001
    counters.add(MINUTE, ("rule", 0), now + 5, 1)  # still counting: kept
    assert len(counters) == 1001
    counters.add(MINUTE, "later", now + 6, 1)  # a minute on: the 999 untouched counters are gone
    assert len(counters) == 3  # ("rule", 0), "later" and the day counter
    assert counters.used(MINUTE, ("rule", 1), now + 6) == 0
    assert counters.used(MINUTE, ("rule", 0), now + 6) == 1
