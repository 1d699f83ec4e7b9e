"""The GenAI histograms for OTLP export, recorded without the metrics SDK's per-measurement path.

The SDK's `Histogram.record` builds a measurement, reads the context, hashes the attribute set and
takes the aggregation's lock for every value: the observe stage's four records cost about 30 µs a
request. Here each attribute set is one list (count, sum, min, max, then a count per bucket, the
SDK's explicit-bucket rule: a value goes to the first bucket whose bound is >= it) under one
uncontended lock, and `collect` turns the lists into the SDK's `Metric` points, which the SDK's OTLP
exporters encode as before. A series is keyed by its attribute values alone, in the instrument's
order (a flat tuple the caller builds anyway): the attribute pairs are made at collection, not at
every record. Delta temporality starts every series over at each collection, as the SDK's delta
histograms do; cumulative keeps counting from the start.

Recording a value appends it to its series' list of values not yet counted (`held`: a request shape
keeps those lists and appends to them, `otlp_metrics.OtlpShape`); `fold` counts them into the series
together, at a collection or once `genai_metrics.FOLD_AT` wait, with the counts, sum, min, max and buckets that
adding them one by one gives. A series is never replaced: a delta collection zeroes it in place (min
and max back to +inf and -inf, where the SDK's own aggregation starts), and a series that counted
nothing since it was made or zeroed is not exported.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk.metrics.export import AggregationTemporality, Histogram, HistogramDataPoint, Metric

from tfy_gateway.gateway.observability.genai_metrics import FOLD_AT, count_sorted

Labels = tuple[str | None, ...]
"""A series' attribute values, in the order of the instrument's `names`; None: the attribute is absent."""


def fold(series: list[float], bounds: tuple[float, ...], values: list[float]) -> None:
    """Count `values` (numbers, in the order they were measured) into `series` and empty the list; the
    caller holds the instrument's lock. What adding them one by one gives: the sum adds them in order
    (`sum()` would compensate on Python 3.12+: another last bit), min and max keep the first of equal
    values, and the buckets are counted from the sorted values (`genai_metrics.count_sorted`)."""
    if not values:
        return
    series[0] += len(values)
    total = series[1]
    for value in values:
        total += value
    series[1] = total
    least, most = min(values), max(values)
    if least < series[2]:
        series[2] = least
    if most > series[3]:
        series[3] = most
    count_sorted(series, 4, bounds, sorted(values))
    values.clear()


class OtlpHistogram:
    """One histogram instrument: attribute values -> [count, sum, min, max, count in bucket 0, ...] and
    the values not counted yet; `names` are the attributes' names, in the order of the values. `lock`
    guards both: the event loop records, the export thread collects."""

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
        self._series: dict[Labels, tuple[list[float], list[float]]] = {}  # counts, values waiting
        self._start_ns = time.time_ns()

    def held(self, labels: Labels) -> list[float]:
        """The list of values waiting to be counted into the series of `labels` (made if new; the caller
        holds `lock`), for a caller that records the same labels again and again: it keeps the list and
        appends to it under the lock (a series is exported once it counted a value)."""
        found = self._series.get(labels)
        if found is None:
            found = self._series[labels] = (self._empty.copy(), [])
        return found[1]

    def record(self, value: float, labels: Labels) -> None:
        with self.lock:
            waiting = self.held(labels)
            waiting.append(value)
            if len(waiting) >= FOLD_AT:
                fold(self._series[labels][0], self.bounds, waiting)

    def fold(self) -> None:
        """Count every value waiting (the caller holds `lock`)."""
        bounds = self.bounds
        for series, waiting in self._series.values():
            fold(series, bounds, waiting)

    def collect(self, now_ns: int, delta: bool) -> Metric | None:
        """The points recorded so far (`delta`: since the last collection, then started over)."""
        with self.lock:
            self.fold()
            start = self._start_ns
            series = {labels: values.copy() for labels, (values, _) in self._series.items() if values[0]}
            if delta:
                self._start_ns = now_ns
                empty = self._empty
                for values, _ in self._series.values():
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
