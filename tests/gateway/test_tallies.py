"""Lock-free label children (`tallies`): /metrics renders exactly what prometheus_client's own children
would have, and nothing counted is lost or counted twice across renderings."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.tallies import Tally

# Bucket bounds exactly, just below and above them, both ends, infinities and NaN.
VALUES = [0.0, 0.005, 0.0049, 0.0051, 1.0, 2.5, 119.9, 120.0, 120.1, 1e9, -3.0, math.inf, math.nan, 0.3, 0.3]


def _samples(text: str, prefix: str) -> list[str]:
    """The sample lines of `prefix` (without `_created`, a timestamp of each child's creation)."""
    return [line for line in text.splitlines() if line.startswith(prefix) and "_created" not in line]


def test_a_histogram_child_renders_what_prometheus_observe_would() -> None:
    metrics = GatewayMetrics()
    reference = Histogram(
        "tfy_gateway_request_duration_seconds",
        "reference",
        ("endpoint", "model"),
        buckets=metrics.latency._upper_bounds[:-1],
        registry=(registry := CollectorRegistry()),
    )
    child = metrics.child(metrics.latency, "chat", "m")
    for round_ in range(2):  # a second rendering adds to the first, never repeats it
        for value in VALUES[round_:]:
            child.observe(value)
            reference.labels("chat", "m").observe(value)
        ours = _samples(metrics.render().decode(), "tfy_gateway_request_duration_seconds")
        theirs = _samples(generate_latest(registry).decode(), "tfy_gateway_request_duration_seconds")
        assert ours == theirs
        assert any('le="+Inf"' in line for line in ours)


def test_a_counter_child_renders_its_total_and_refuses_negative_amounts() -> None:
    metrics = GatewayMetrics()
    child = metrics.child(metrics.tokens, "m", "prompt")
    child.inc(3)
    child.inc()
    assert 'tfy_gateway_tokens_total{kind="prompt",model="m"} 4.0' in metrics.render().decode()
    child.inc(2)
    assert 'tfy_gateway_tokens_total{kind="prompt",model="m"} 6.0' in metrics.render().decode()
    reference = Tally(Counter("c", "c", registry=CollectorRegistry()))
    try:
        reference.inc(-1)
    except ValueError:
        pass
    else:
        raise AssertionError("a negative increment was accepted")


def test_in_flight_requests_render_the_current_level() -> None:
    metrics = GatewayMetrics()
    metrics.in_flight.inc()
    metrics.in_flight.inc()
    metrics.in_flight.dec()
    assert "tfy_gateway_in_flight_requests 1.0" in metrics.render().decode()
