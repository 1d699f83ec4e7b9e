"""Budget periods: calendar windows in UTC that reset all at once at their boundary.

A day resets at 00:00 UTC, a week on Monday 00:00 UTC, a month on the 1st, a quarter on January,
April, July and October 1st; a lifetime never resets. Each period is one bucket (its index counts
periods since the Unix epoch), so a budget counter is read and charged like a rate-limit window of
one bucket, by the same state store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

DAY_S = 86_400
# 1970-01-01 was a Thursday: shifting by 3 days makes week indexes start on Mondays.
_MONDAY_SHIFT = 3


@dataclass(frozen=True, eq=False)
class CalendarPeriod:
    name: str  # day | week | month | quarter | lifetime
    span: int = 1

    def index(self, now: float) -> int:
        if self.name == "lifetime":
            return 0
        day = math.floor(now / DAY_S)
        if self.name == "day":
            return day
        if self.name == "week":
            return (day + _MONDAY_SHIFT) // 7
        year, month = _civil(day)
        months = year * 12 + month - 1
        return months if self.name == "month" else months // 3

    def starts_at(self, index: int) -> float:
        if self.name == "lifetime":
            return 0.0
        if self.name == "day":
            return float(index * DAY_S)
        if self.name == "week":
            return float((index * 7 - _MONDAY_SHIFT) * DAY_S)
        months = index if self.name == "month" else index * 3
        return float(_days_from_civil(months // 12, months % 12 + 1) * DAY_S)

    def expires_at(self, index: int) -> float:
        """When the period `index` ends and its spend stops counting (never, for a lifetime)."""
        return math.inf if self.name == "lifetime" else self.starts_at(index + 1)

    def label(self, index: int) -> str:
        """Readable period name for usage answers and alerts: "day 2026-11-29", "month 2026-11"."""
        if self.name == "lifetime":
            return "lifetime"
        start = datetime.fromtimestamp(self.starts_at(index), timezone.utc)
        if self.name == "month":
            return f"month {start:%Y-%m}"
        if self.name == "quarter":
            return f"quarter {start.year}-Q{(start.month - 1) // 3 + 1}"
        return f"{self.name} {start:%Y-%m-%d}"


def _civil(day: int) -> tuple[int, int]:
    """(year, month) of a day number since 1970-01-01 (proleptic Gregorian; per request, so no
    datetime objects: H. Hinnant's civil_from_days)."""
    z = day + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month


def _days_from_civil(year: int, month: int) -> int:
    """The day number of the 1st of `month` in `year` (days_from_civil)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


DAY = CalendarPeriod("day")
WEEK = CalendarPeriod("week")
MONTH = CalendarPeriod("month")
QUARTER = CalendarPeriod("quarter")
LIFETIME = CalendarPeriod("lifetime")
CALENDAR = {period.name: period for period in (DAY, WEEK, MONTH, QUARTER, LIFETIME)}
