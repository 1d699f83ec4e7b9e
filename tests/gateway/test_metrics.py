"""`GatewayMetrics`: label children are remembered, and what they count is what /metrics shows."""

from __future__ import annotations

from tfy_gateway.gateway.metrics import GatewayMetrics


def test_a_remembered_child_is_the_metric_child_and_counts_into_the_rendering() -> None:
    metrics = GatewayMetrics()
    first = metrics.child(metrics.requests, "chat", "m", "200")
    assert metrics.child(metrics.requests, "chat", "m", "200") is first
    first.inc()
    metrics.child(metrics.requests, "chat", "m", "429").inc(2)
    text = metrics.render().decode()
    assert 'tfy_gateway_requests_total{endpoint="chat",model="m",status="200"} 1.0' in text
    assert 'tfy_gateway_requests_total{endpoint="chat",model="m",status="429"} 2.0' in text
