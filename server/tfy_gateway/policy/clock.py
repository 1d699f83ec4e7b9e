"""`SimClock`: the simulated time every policy tool runs on.

The gateway's limiter, limit store and router all take a clock; giving them this one makes a month
of budget periods pass in as long as it takes to count the requests, and makes every run repeat
exactly. Time only moves when the tool moves it (never backwards).
"""

from __future__ import annotations

from datetime import datetime, timezone

DEFAULT_START = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()
"""Where simulated time starts unless told otherwise: a Tuesday, the 1st of a month and a quarter's
third month, at 00:00 UTC (every window and budget period starts fresh)."""


class SimClock:
    def __init__(self, start: float = DEFAULT_START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("simulated time never goes backwards")
        self.now += seconds

    def move_to(self, at: float) -> None:
        """Jump to `at`, or stay where it is when `at` is in the past (requests replayed out of order)."""
        self.now = max(self.now, at)

    async def sleep(self, seconds: float) -> None:
        """The router's retry delay: time passes, nothing waits."""
        self.advance(seconds)


def parse_time(value: str | float | int | datetime) -> float:
    """Epoch seconds from an ISO-8601 time (a `Z` suffix allowed), a datetime or epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: str | float | int) -> float:
    """Seconds from `90`, `"90s"`, `"15m"`, `"2h"`, `"1d"`, `"1w"`, `"250ms"`."""
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip().lower()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].strip():
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text)
