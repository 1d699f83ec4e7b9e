"""The GenAI conventions' four histograms on `/metrics`, at the cost of a bisect per observation.

Every request observes them, traced or not, so their cost is the cost of tracing off. A
prometheus_client `Histogram` child takes two locks per observation and scans its buckets in Python
(plus a label-child lookup): four of them were most of the +15 to +30 µs a request that "tracing
off" cost. Here each label set is one list (sum, then a count per bucket) updated from the event loop
only, and a collector turns the lists into the usual histogram samples (`_bucket` with `le`,
`_count`, `_sum`) when `/metrics` is scraped. A scrape copies each list before reading it, so a
series' buckets and count always agree.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from tfy_gateway.gateway.observability.genai_metrics import DURATION_BUCKETS, TOKEN_BUCKETS, TTFT_BUCKETS


def _add(series: list[float], bounds: tuple[float, ...], value: float) -> None:
    series[0] += value
    series[bisect_left(bounds, value) + 1] += 1  # the first bucket whose bound is >= value


class HeldSeries:
    """One label set's series of a `LeanHistogram`, kept by its caller."""

    __slots__ = ("_bounds", "_series")

    def __init__(self, series: list[float], bounds: tuple[float, ...]) -> None:
        self._series = series
        self._bounds = bounds

    def observe(self, value: float) -> None:
        _add(self._series, self._bounds, value)


class LeanHistogram:
    """One histogram metric: label values -> [sum, count in bucket 0, ..., count above the last bound]."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str], bounds: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.bounds = tuple(float(bound) for bound in bounds)
        self._empty = [0.0] + [0] * (len(self.bounds) + 1)
        self.series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, value: float, labels: tuple[str, ...]) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = self._empty.copy()
        _add(series, self.bounds, value)

    def series_of(self, labels: tuple[str, ...]) -> HeldSeries:
        """The series of `labels` (created, and shown, when first asked for), for a caller that observes
        the same labels again and again: it keeps this and skips the lookup."""
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = self._empty.copy()
        return HeldSeries(series, self.bounds)

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        edges = [floatToGoString(bound) for bound in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        for labels, series in self.series.copy().items():
            snapshot = series.copy()
            buckets, total = [], 0
            for edge, count in zip(edges, snapshot[1:], strict=True):
                total += int(count)
                buckets.append((edge, total))
            family.add_metric(list(labels), buckets, snapshot[0])
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
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        for histogram in (self.server_duration, self.ttft, self.tokens, self.client_duration):
            yield histogram.family()

    def describe(self) -> Iterator[Metric]:
        """The metric names without samples (the registry checks them for clashes at `register`)."""
        for histogram in (self.server_duration, self.ttft, self.tokens, self.client_duration):
            yield HistogramMetricFamily(histogram.name, histogram.documentation, labels=histogram.labels)
