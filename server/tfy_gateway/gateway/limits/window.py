"""What "per minute", "per hour" and "per day" mean: sliding windows of six sub-buckets.

The platform's docs do not describe the window; a TrueFoundry blog post (2026-09, cited in
references/rate-limiting.md) describes minutes as "60 seconds wide, 10-second buckets, summing the
last 6", and this gateway uses that shape for every period. Time is cut into sub-buckets of a sixth
of the period, aligned to the Unix epoch (UTC): 10 s for a minute, 10 min for an hour, 4 h for a day.
A request is counted in the bucket in which it was admitted, and a bucket counts for the six buckets
starting with its own: a bucket that started at `t` stops counting at `t + period` (a minute-bucket
that started at 12:00:10 counts until 12:01:10). A request is admitted when the sum of the current
bucket and the five before it, plus what the request holds, stays within the limit. So no span of
five buckets (50 s for a minute) ever admits more than the limit, and capacity comes back one bucket
at a time, never all at once at a boundary, as a fixed window would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BUCKETS = 6
"""Sub-buckets per window: the window slides in steps of a sixth of its period."""


@dataclass(frozen=True, eq=False)  # identity hash: periods are the three singletons below, and dict keys
class Period:
    name: str
    seconds: int
    span: int = BUCKETS  # buckets that make one window

    @property
    def bucket_s(self) -> int:
        return self.seconds // BUCKETS

    def index(self, now: float) -> int:
        """The bucket that `now` (epoch seconds) falls in."""
        return math.floor(now / self.bucket_s)

    def counts(self, bucket: int, current: int) -> bool:
        """Whether `bucket` is still part of the window whose newest bucket is `current`."""
        return current - BUCKETS < bucket <= current

    def expires_at(self, bucket: int) -> float:
        """When `bucket` stops counting: one period after it started."""
        return float((bucket + BUCKETS) * self.bucket_s)

    def label(self, bucket: int) -> str:
        return f"sliding {self.name}"


MINUTE = Period("minute", 60)
HOUR = Period("hour", 3_600)
DAY = Period("day", 86_400)
PERIODS = {period.name: period for period in (MINUTE, HOUR, DAY)}
