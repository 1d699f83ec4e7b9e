"""`OtlpHistogram` / `OtlpMetrics.collect`: what the OTLP exporters are handed is what the metrics SDK's
own histograms would have handed them for the same measurements, cumulative and delta."""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from typing import Any

import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricsData

from tests.gateway.observability.otlp_receiver import OtlpReceiver
from tfy_gateway.gateway.observability.genai_metrics import DURATION_BUCKETS, TOKEN_BUCKETS
from tfy_gateway.gateway.observability.otlp_histograms import fold
from tfy_gateway.gateway.observability.otlp_metrics import OtlpMetrics
from tfy_gateway.gateway.observability.spec import MetricsSpec, Target

DURATIONS = [(0.0004, None), (0.02, None), (3.5, "rate_limited"), (0.02, None), (120.0, None)]
TOKENS = [(8, "input"), (16, "output"), (0, "input"), (5000, "output")]


def points(data: MetricsData | None) -> dict[tuple[str, Any], dict[str, Any]]:
    assert data is not None
    found = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    found[(metric.name, tuple(sorted(point.attributes.items())))] = {
                        "count": point.count,
                        "sum": point.sum,
                        "buckets": list(point.bucket_counts),
                        "bounds": list(point.explicit_bounds),
                        "min": point.min,
                        "max": point.max,
                        "temporality": metric.data.aggregation_temporality,
                        "unit": metric.unit,
                    }
    return found


def sdk_reader(delta: bool) -> tuple[InMemoryMetricReader, Any, Any]:
    kind = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
    reader = InMemoryMetricReader(
        preferred_temporality={Counter: kind, Histogram: kind, UpDownCounter: AggregationTemporality.CUMULATIVE}
    )
    meter = MeterProvider(metric_readers=[reader]).get_meter("tfy_gateway")
    duration = meter.create_histogram(
        "gen_ai.server.request.duration", unit="s", explicit_bucket_boundaries_advisory=DURATION_BUCKETS
    )
    tokens = meter.create_histogram(
        "gen_ai.client.token.usage", unit="{token}", explicit_bucket_boundaries_advisory=TOKEN_BUCKETS
    )
    return reader, duration, tokens


def record(lean: OtlpMetrics, duration: Any, tokens: Any, round_: int) -> None:
    for seconds, error in DURATIONS[round_:]:
        lean.server_duration(seconds, "chat", "openai/gpt-4o", error)
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "openai/gpt-4o"}
        duration.record(seconds, {**attributes, **({"error.type": error} if error else {})})
    for count, kind in TOKENS[round_:]:
        lean.token_usage(count, "chat", "openai", "gpt-4o", kind)
        tokens.record(
            count,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.token.type": kind,
            },
        )


@pytest.mark.parametrize("delta", [False, True])
def test_the_points_are_the_sdks_for_the_same_measurements(delta: bool) -> None:
    with OtlpReceiver() as receiver:
        target = Target(protocol="http/protobuf", endpoint=receiver.metrics_url)
        lean = OtlpMetrics(MetricsSpec(target=target, delta=delta, interval_s=3600))
        reader, duration, tokens = sdk_reader(delta)
        try:
            for round_ in range(2):  # the second collection: since the first (delta) or since the start
                record(lean, duration, tokens, round_)
                mine, theirs = points(lean.collect()), points(reader.get_metrics_data())
                assert len(mine) == 4  # durations with and without an error type; input and output tokens
                assert mine == theirs
            record(lean, duration, tokens, 0)
        finally:
            lean.close()  # exports what was recorded since the last collection
        assert receiver.metric_names == {"gen_ai.server.request.duration", "gen_ai.client.token.usage"}


def added(series: list[float], bounds: tuple[float, ...], value: float) -> None:
    """One value counted on its own, the SDK's way (the reference `fold` must equal)."""
    series[0] += 1
    series[1] += value
    if value < series[2]:
        series[2] = value
    if value > series[3]:
        series[3] = value
    series[bisect_left(bounds, value) + 4] += 1


@pytest.mark.parametrize("bounds", [DURATION_BUCKETS, TOKEN_BUCKETS])
def test_folding_values_together_counts_them_as_one_by_one(bounds: tuple[float, ...]) -> None:
    """Values on a bound, between bounds, below the first and above the last, repeated, durations and
    token counts, folded in batches of any size: the same counts, sum (to the last bit), min, max and
    buckets as adding each in turn."""
    floats = tuple(float(bound) for bound in bounds)
    draw = random.Random(27)
    pool = [*bounds, 0, *(draw.uniform(0, bounds[-1] * 1.5) for _ in range(40)), bounds[0] / 3, bounds[-1] * 2]
    if bounds is TOKEN_BUCKETS:
        pool = [int(value) for value in pool]
    empty = [0, 0.0, math.inf, -math.inf] + [0] * (len(bounds) + 1)
    one_by_one, together = empty.copy(), empty.copy()
    for size in (1, 7, 64, 1, 300):
        values = [draw.choice(pool) for _ in range(size)]
        for value in values:
            added(one_by_one, floats, value)
        fold(together, floats, values)
        assert values == []
        assert together == one_by_one
    assert sum(together[4:]) == together[0] == 373
