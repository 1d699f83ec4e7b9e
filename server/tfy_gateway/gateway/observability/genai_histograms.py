"""The GenAI conventions' four histograms on `/metrics`, at the cost of an append per observation.

Every request observes them, traced or not, so their cost is the cost of tracing off. A
prometheus_client `Histogram` child takes two locks per observation and scans its buckets in Python
(plus a label-child lookup): four of them were most of the +15 to +30 µs a request that "tracing
off" cost. Here each label set is one list (sum, then a count per bucket) and a list of the values
observed but not counted yet, both written from the event loop only. A request shape holds the lists
of values its requests append to (`held`, `data_plane.request_series`); they are counted together
(`fold`: the sum added in order, the buckets from the sorted values) when `/metrics` is scraped, or
once `FOLD_AT` requests wait, and a collector turns the lists into the usual histogram samples
(`_bucket` with `le`, `_count`, `_sum`). A series is shown once it counted a value, as a
prometheus_client child appears at its first observation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from tfy_gateway.gateway.observability.genai_metrics import (
    DURATION_BUCKETS,
    FOLD_AT,
    TOKEN_BUCKETS,
    TTFT_BUCKETS,
    count_sorted,
)


def fold(series: list[float], bounds: tuple[float, ...], values: list[float]) -> None:
    """Count `values` (in the order observed) into `series` and empty the list: the sum adds them in
    order, as one by one (`sum()` would compensate on Python 3.12+), the buckets from the sorted values."""
    if not values:
        return
    total = series[0]
    for value in values:
        total += value
    series[0] = total
    count_sorted(series, 1, bounds, sorted(values))
    values.clear()


class LeanHistogram:
    """One histogram metric: label values -> [sum, count in bucket 0, ..., count above the last bound],
    and the values observed but not counted yet."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str], bounds: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.bounds = tuple(float(bound) for bound in bounds)
        self._empty = [0.0] + [0] * (len(self.bounds) + 1)
        self._series: dict[tuple[str, ...], tuple[list[float], list[float]]] = {}  # counts, values waiting

    def observe(self, value: float, labels: tuple[str, ...]) -> None:
        waiting = self.held(labels)
        waiting.append(value)
        if len(waiting) >= FOLD_AT:
            self.fold()

    def held(self, labels: tuple[str, ...]) -> list[float]:
        """The list of values waiting to be counted into the series of `labels` (made if new), for a
        caller that observes the same labels again and again: it keeps the list and appends to it."""
        found = self._series.get(labels)
        if found is None:
            found = self._series[labels] = (self._empty.copy(), [])
        return found[1]

    def fold(self) -> None:
        """Count every value waiting."""
        bounds = self.bounds
        for series, waiting in self._series.values():
            fold(series, bounds, waiting)

    def family(self) -> HistogramMetricFamily:
        self.fold()
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        edges = [floatToGoString(bound) for bound in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        for labels, (series, _) in self._series.items():
            buckets, total = [], 0
            for edge, count in zip(edges, series[1:], strict=True):
                total += int(count)
                buckets.append((edge, total))
            if total:
                family.add_metric(list(labels), buckets, series[0])
        return family


class GenAIHistograms(Collector):
    """gen_ai.server.request.duration, gen_ai.server.time_to_first_token, gen_ai.client.token.usage and
    gen_ai.client.operation.duration under their Prometheus names, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.server_duration = LeanHistogram(
            "gen_ai_server_request_duration_seconds",
            "GenAI: data-plane request duration (gen_ai.server.request.duration).",
            ("gen_ai_operation_name", "gen_ai_request_model", "error_type"),
            DURATION_BUCKETS,
        )
        self.ttft = LeanHistogram(
            "gen_ai_server_time_to_first_token_seconds",
            "GenAI: streamed requests, arrival to first chunk sent (gen_ai.server.time_to_first_token).",
            ("gen_ai_operation_name", "gen_ai_request_model"),
            TTFT_BUCKETS,
        )
        self.tokens = LeanHistogram(
            "gen_ai_client_token_usage",
            "GenAI: tokens of the answering upstream call, by type (gen_ai.client.token.usage).",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"),
            TOKEN_BUCKETS,
        )
        self.client_duration = LeanHistogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI: one upstream call, a stream until it ended (gen_ai.client.operation.duration).",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"),
            DURATION_BUCKETS,
        )
        self.unfolded = 0  # requests whose values shapes appended since they were last counted
        registry.register(self)

    def fold(self) -> None:
        """Count every value waiting in the four histograms."""
        for histogram in (self.server_duration, self.ttft, self.tokens, self.client_duration):
            histogram.fold()
        self.unfolded = 0

    def collect(self) -> Iterator[Metric]:
        for histogram in (self.server_duration, self.ttft, self.tokens, self.client_duration):
            yield histogram.family()

    def describe(self) -> Iterator[Metric]:
        """The metric names without samples (the registry checks them for clashes at `register`)."""
        for histogram in (self.server_duration, self.ttft, self.tokens, self.client_duration):
            yield HistogramMetricFamily(histogram.name, histogram.documentation, labels=histogram.labels)
