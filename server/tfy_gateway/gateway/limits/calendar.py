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
        moment = datetime.fromtimestamp(now, timezone.utc)
        months = moment.year * 12 + moment.month - 1
        return months if self.name == "month" else months // 3

    def starts_at(self, index: int) -> float:
        if self.name == "lifetime":
            return 0.0
        if self.name == "day":
            return float(index * DAY_S)
        if self.name == "week":
            return float((index * 7 - _MONDAY_SHIFT) * DAY_S)
        months = index if self.name == "month" else index * 3
        return datetime(months // 12, months % 12 + 1, 1, tzinfo=timezone.utc).timestamp()

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


DAY = CalendarPeriod("day")
WEEK = CalendarPeriod("week")
MONTH = CalendarPeriod("month")
QUARTER = CalendarPeriod("quarter")
LIFETIME = CalendarPeriod("lifetime")
CALENDAR = {period.name: period for period in (DAY, WEEK, MONTH, QUARTER, LIFETIME)}
