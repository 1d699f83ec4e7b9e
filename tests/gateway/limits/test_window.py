"""The sliding window: six sub-buckets, each counting for one period from its start."""

from __future__ import annotations

import pytest

from tests.gateway.limits.conftest import T0, caller, limiter, rule, rules
from tfy_gateway.gateway.limits import Refused
from tfy_gateway.gateway.limits.window import DAY, HOUR, MINUTE


def test_periods_are_cut_into_six_buckets_aligned_to_the_epoch() -> None:
    assert (MINUTE.bucket_s, HOUR.bucket_s, DAY.bucket_s) == (10, 600, 14_400)
    assert MINUTE.index(T0 + 9.999) == MINUTE.index(T0) and MINUTE.index(T0 + 10) == MINUTE.index(T0) + 1
    bucket = MINUTE.index(T0)
    assert MINUTE.expires_at(bucket) == T0 + 60
    assert MINUTE.counts(bucket, bucket + 5) and not MINUTE.counts(bucket, bucket + 6)


def test_a_request_counts_for_one_minute_from_the_start_of_its_bucket() -> None:
    limits, clock = limiter(T0 + 5)  # admitted 5 s into the bucket that started at T0
    compiled = rules(rule("one", 1))
    limits.reserve(compiled, caller())
    clock.now = T0 + 59.9
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, caller())
    assert refused.value.refusal.retry_after_s == pytest.approx(0.1)
    clock.now = T0 + 60  # the bucket of T0 stopped counting: 55 s after the request
    assert limits.reserve(compiled, caller()) is not None


def test_capacity_comes_back_one_bucket_at_a_time() -> None:
    limits, clock = limiter()
    compiled = rules(rule("three", 3))
    for offset in (0, 10, 20):  # one request in each of three buckets
        clock.now = T0 + offset
        limits.reserve(compiled, caller())
    clock.now = T0 + 30
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, caller())
    assert refused.value.refusal.retry_after_s == pytest.approx(30)  # the T0 bucket expires at T0 + 60
    clock.now = T0 + 60
    limits.reserve(compiled, caller())
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, caller())
    assert refused.value.refusal.retry_after_s == pytest.approx(10)  # then the T0 + 10 bucket, and so on


def test_never_more_than_the_limit_within_any_five_buckets() -> None:
    limits, clock = limiter()
    compiled = rules(rule("five", 5))
    admitted: list[float] = []
    for step in range(600):  # one attempt per second for ten minutes
        clock.now = T0 + step
        try:
            limits.reserve(compiled, caller())
            admitted.append(clock.now)
        except Refused:
            pass
    assert len(admitted) == 50  # 5 per minute, steadily
    assert max(sum(1 for u in admitted if t <= u < t + 50) for t in admitted) == 5


def test_hour_and_day_windows_slide_by_ten_minutes_and_four_hours() -> None:
    limits, clock = limiter()
    hourly, daily = rules(rule("h", 1, "requests_per_hour")), rules(rule("d", 1, "requests_per_day"))
    limits.reserve(hourly, caller())
    limits.reserve(daily, caller())
    clock.now = T0 + 3_599
    with pytest.raises(Refused) as refused:
        limits.reserve(hourly, caller())
    assert refused.value.refusal.retry_after_s == pytest.approx(1)
    clock.now = T0 + 3_600
    limits.reserve(hourly, caller())
    clock.now = T0 + 86_399
    with pytest.raises(Refused):
        limits.reserve(daily, caller())
    clock.now = T0 + 86_400
    limits.reserve(daily, caller())


def test_a_clock_stepping_back_never_moves_the_window_backwards() -> None:
    limits, clock = limiter()
    compiled = rules(rule("one", 1))
    clock.now = T0 + 60
    limits.reserve(compiled, caller())
    clock.now = T0  # e.g. NTP stepped the wall clock back
    with pytest.raises(Refused):
        limits.reserve(compiled, caller())
