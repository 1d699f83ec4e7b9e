"""A collector that is down or stuck costs the data plane nothing beyond lost spans, and every lost span
is counted: 1,000 requests all succeed, and exported + dropped accounts for every span they made."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.gateway.inprocess import InProcessGateway, running_gateway
from tests.gateway.observability.otlp_receiver import OtlpReceiver

REQUESTS = 1_000
CONCURRENCY = 20
SPANS_PER_REQUEST = 2  # the server span and one attempt


async def hammer(gateway: InProcessGateway) -> list[int]:
    statuses: list[int] = []
    body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "ping"}]}
    left = REQUESTS

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            response = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
            statuses.append(response.status_code)

    async with anyio.create_task_group() as tasks:
        for _ in range(CONCURRENCY):
            tasks.start_soon(worker)
    return statuses


def dropped_metric(gateway: InProcessGateway) -> float:
    registry = gateway.data_plane.metrics.registry
    return sum(
        registry.get_sample_value("tfy_gateway_trace_spans_dropped_total", {"reason": reason}) or 0.0
        for reason in ("queue_full", "export_failed", "shutdown")
    )


@pytest.mark.parametrize("collector", ["stopped", "hanging"])
async def test_a_collector_down_or_stuck_fails_no_request_and_every_lost_span_is_counted(
    tmp_path: Path, collector: str
) -> None:
    with OtlpReceiver() as receiver:
        if collector == "stopped":
            receiver.stop()
        else:
            receiver.hang()
        async with running_gateway(
            tmp_path / "data", otel_traces_endpoint=receiver.traces_url, otel_queue_size=64, otel_export_timeout_s=0.5
        ) as gateway:
            statuses = await hammer(gateway)
            assert statuses == [200] * REQUESTS
            assert await anyio.to_thread.run_sync(gateway.data_plane.telemetry.flush)
            counts = gateway.data_plane.telemetry.counts
            assert counts is not None
            assert counts.get("exported") == 0
            assert counts.dropped == REQUESTS * SPANS_PER_REQUEST
            assert counts.get("dropped_queue_full") > 0, "a 64-span queue overflowed while the exporter waited"
            assert counts.get("dropped_export_failed") > 0
            assert dropped_metric(gateway) == counts.dropped
        if collector == "hanging":
            assert receiver.requests > 0, "the exporter did reach the stuck collector"
