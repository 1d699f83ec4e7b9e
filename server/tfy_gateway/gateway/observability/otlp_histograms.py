"""The GenAI histograms for OTLP export, recorded without the metrics SDK's per-measurement path.

The SDK's `Histogram.record` builds a measurement, reads the context, hashes the attribute set and
takes the aggregation's lock for every value: the observe stage's four records cost about 30 µs a
request. Here each attribute set is one list (count, sum, min, max, then a count per bucket, the
SDK's explicit-bucket rule: a value goes to the first bucket whose bound is >= it) updated under one
uncontended lock, and `collect` turns the lists into the SDK's `Metric` points, which the SDK's OTLP
exporters encode as before. A series is keyed by its attribute values alone, in the instrument's
order (a flat tuple the caller builds anyway): the attribute pairs are made at collection, not at
every record (four records a request built, hashed and compared a tuple of pairs each). Delta
temporality starts every series over at each collection, as the SDK's delta histograms do; cumulative
keeps counting from the start.

A request shape holds the series it writes (`held`, `otlp_metrics.OtlpShape`): its four records are then
adds under one lock (the instruments of one `OtlpMetrics` share it), without a lookup. So a series is
never replaced: a delta collection zeroes it in place (its min and max back to +inf and -inf, from which
the next value sets both, as the SDK's own aggregation starts), and a series that counted nothing since
it was made or zeroed is not exported.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Sequence

from opentelemetry.sdk.metrics.export import AggregationTemporality, Histogram, HistogramDataPoint, Metric

Labels = tuple[str | None, ...]
"""A series' attribute values, in the order of the instrument's `names`; None: the attribute is absent."""


def add(series: list[float], bounds: tuple[float, ...], value: float) -> None:
    """One value into a series (the caller holds its instrument's lock): the SDK's explicit-bucket rule,
    a value goes to the first bucket whose bound is >= it."""
    series[0] += 1
    series[1] += value
    if value < series[2]:
        series[2] = value
    if value > series[3]:
        series[3] = value
    series[bisect_left(bounds, value) + 4] += 1


class OtlpHistogram:
    """One histogram instrument: attribute values -> [count, sum, min, max, count in bucket 0, ...];
    `names` are the attributes' names, in the order of the values. `lock` guards its series: the event
    loop records, the export thread collects."""

    def __init__(
        self,
        name: str,
        unit: str,
        description: str,
        bounds: Sequence[float],
        names: Sequence[str],
        lock: threading.Lock | None = None,
    ) -> None:
        self.name, self.unit, self.description = name, unit, description
        self.names = tuple(names)
        self.bounds = tuple(float(bound) for bound in bounds)
        self.lock = lock or threading.Lock()
        self._empty = [0, 0.0, math.inf, -math.inf] + [0] * (len(self.bounds) + 1)
        self._series: dict[Labels, list[float]] = {}
        self._start_ns = time.time_ns()

    def held(self, labels: Labels) -> list[float]:
        """The series of `labels`, made if new (the caller holds `lock`), for a caller that records the same
        labels again and again: it keeps the list and `add`s to it (exported once it counted a value)."""
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = self._empty.copy()
        return series

    def record(self, value: float, labels: Labels) -> None:
        with self.lock:
            add(self.held(labels), self.bounds, value)

    def collect(self, now_ns: int, delta: bool) -> Metric | None:
        """The points recorded so far (`delta`: since the last collection, then started over)."""
        with self.lock:
            start = self._start_ns
            series = {labels: values.copy() for labels, values in self._series.items() if values[0]}
            if delta:
                self._start_ns = now_ns
                empty = self._empty
                for values in self._series.values():
                    values[:] = empty
        if not series:
            return None
        points = [
            HistogramDataPoint(
                attributes={name: value for name, value in zip(self.names, labels, strict=True) if value is not None},
                start_time_unix_nano=start,
                time_unix_nano=now_ns,
                count=int(values[0]),
                sum=values[1],
                bucket_counts=[int(count) for count in values[4:]],
                explicit_bounds=list(self.bounds),
                min=values[2],
                max=values[3],
            )
            for labels, values in series.items()
        ]
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        return Metric(self.name, self.description, self.unit, Histogram(points, temporality))
