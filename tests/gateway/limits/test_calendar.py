"""Budget periods: UTC days, Monday weeks, months, quarters, and a lifetime that never resets."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from tfy_gateway.gateway.limits.calendar import DAY, LIFETIME, MONTH, QUARTER, WEEK, CalendarPeriod


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("period", "moment", "start", "end", "label"),
    [
        (DAY, "2026-11-29T23:59:59", "2026-11-29T00:00:00", "2026-11-30T00:00:00", "day 2026-11-29"),
        (WEEK, "2026-11-29T12:00:00", "2026-11-23T00:00:00", "2026-11-30T00:00:00", "week 2026-11-23"),
        (WEEK, "2026-11-30T00:00:00", "2026-11-30T00:00:00", "2026-12-07T00:00:00", "week 2026-11-30"),
        (MONTH, "2026-12-31T23:00:00", "2026-12-01T00:00:00", "2027-01-01T00:00:00", "month 2026-12"),
        (MONTH, "2028-02-29T10:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00", "month 2028-02"),
        (QUARTER, "2026-11-29T00:00:00", "2026-10-01T00:00:00", "2027-01-01T00:00:00", "quarter 2026-Q4"),
        (QUARTER, "2027-03-31T23:59:59", "2027-01-01T00:00:00", "2027-04-01T00:00:00", "quarter 2027-Q1"),
    ],
)
def test_periods_start_and_end_on_their_utc_boundaries(
    period: CalendarPeriod, moment: str, start: str, end: str, label: str
) -> None:
    index = period.index(at(moment))
    assert period.starts_at(index) == at(start)
    assert period.expires_at(index) == at(end)
    assert period.label(index) == label
    assert period.index(at(end)) == index + 1
    assert period.index(at(end) - 0.001) == index


def test_a_lifetime_is_one_period_that_never_ends() -> None:
    assert LIFETIME.index(0) == LIFETIME.index(at("2099-01-01T00:00:00")) == 0
    assert math.isinf(LIFETIME.expires_at(0))
    assert LIFETIME.label(0) == "lifetime"


def test_months_are_computed_like_the_standard_calendar_for_every_day_of_two_centuries() -> None:
    day = datetime(1999, 12, 1, tzinfo=timezone.utc)
    while day.year < 2200:
        now = day.timestamp() + 43_200
        index = MONTH.index(now)
        assert MONTH.starts_at(index) == day.replace(day=1).timestamp()
        assert QUARTER.index(now) == (day.year * 12 + day.month - 1) // 3
        day += timedelta(days=1)
