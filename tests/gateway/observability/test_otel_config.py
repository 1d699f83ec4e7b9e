"""`gateway-otel-config` applied live: apply, change and delete take effect on the next request without a
restart; a wrong endpoint is a finding, or an export error in the log, never a failed request; request
data stays out of spans unless the config asks for it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.gateway.inprocess import InProcessGateway, running_gateway
from tests.gateway.observability.otlp_receiver import OtlpReceiver
from tests.helpers import eventually

SENTINEL = "sentinel-prompt-7f3a9c"


def otel_config(endpoint: str, *, encoding: str = "proto", **traces: Any) -> dict[str, Any]:
    return {
        "name": "otel",
        "type": "gateway-otel-config",
        "otel_traces_exporter_config": {"type": "http", "endpoint": endpoint, "encoding": encoding, **traces},
    }


@pytest.fixture
def receivers() -> Iterator[tuple[OtlpReceiver, OtlpReceiver]]:
    with OtlpReceiver() as first, OtlpReceiver() as second:
        yield first, second


async def chat(gateway: InProcessGateway, prompt: str = "ping", *, stream: bool = False) -> str:
    body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    response = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
    assert response.status_code == 200, response.text
    return response.headers["x-tfy-request-id"]


async def delete(gateway: InProcessGateway, manifest: dict[str, Any]) -> None:
    """`tfy delete`: POST /delete with the manifest."""
    response = await gateway.http.post("/api/svc/v1/delete", json={"manifest": manifest}, headers=gateway.auth())
    assert response.status_code == 200, response.text


def request_ids(receiver: OtlpReceiver) -> set[str]:
    return {str(span.attributes.get("tfy_gateway.request.id")) for span in receiver.spans if span.kind == "SERVER"}


async def flushed(gateway: InProcessGateway) -> None:
    assert await anyio.to_thread.run_sync(gateway.data_plane.telemetry.flush)


async def test_apply_change_and_delete_take_effect_without_a_restart(
    tmp_path: Path, receivers: tuple[OtlpReceiver, OtlpReceiver]
) -> None:
    first, second = receivers
    async with running_gateway(tmp_path / "data") as gateway:
        untraced = await chat(gateway)
        await gateway.apply(otel_config(first.traces_url, exclude_request_data=True))
        to_first = await chat(gateway)
        await eventually(lambda: to_first in request_ids(first), "the span of the request after the apply")

        await gateway.apply(otel_config(second.traces_url, encoding="json", exclude_request_data=True))
        to_second = await chat(gateway)
        await eventually(lambda: to_second in request_ids(second), "the span of the request after the change")

        await delete(gateway, otel_config(second.traces_url))
        after_delete = await chat(gateway)
        await flushed(gateway)
    assert request_ids(first) == {to_first}
    assert request_ids(second) == {to_second}
    assert untraced not in request_ids(first) | request_ids(second)
    assert after_delete not in request_ids(first) | request_ids(second)


async def test_deleting_the_config_brings_the_serve_default_back(
    tmp_path: Path, receivers: tuple[OtlpReceiver, OtlpReceiver]
) -> None:
    default, applied = receivers
    async with running_gateway(tmp_path / "data", otel_endpoint=default.base_url) as gateway:
        before = await chat(gateway)
        await gateway.apply(otel_config(applied.traces_url, exclude_request_data=True))
        during = await chat(gateway)
        await delete(gateway, otel_config(applied.traces_url))
        after = await chat(gateway)
        await eventually(lambda: {before, after} <= request_ids(default), "default export before and after")
        await eventually(lambda: during in request_ids(applied), "the applied config's export")
    assert during not in request_ids(default)


async def test_an_unreachable_endpoint_is_a_logged_export_error_never_a_failed_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = OtlpReceiver()
    closed.stop()  # a port nothing listens on any more
    caplog.set_level(logging.ERROR, logger="tfy_gateway.gateway.observability.export")
    async with running_gateway(tmp_path / "data", otel_export_timeout_s=0.5) as gateway:
        await gateway.apply(otel_config(closed.traces_url, exclude_request_data=True))
        for _ in range(3):
            await chat(gateway)
        await flushed(gateway)
        counts = gateway.data_plane.telemetry.counts
        assert counts is not None
        assert counts.get("dropped_export_failed") == 6  # a server span and an attempt span per request
    assert any(f"exporting spans to {closed.traces_url}" in r.getMessage() for r in caplog.records)


async def test_a_malformed_endpoint_is_a_finding_and_nothing_is_applied(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        manifest = otel_config("collector:4317")
        response = await gateway.http.put(
            "/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False}, headers=gateway.auth()
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["code"] == "bad-endpoint"
        await chat(gateway)
        assert gateway.data_plane.telemetry.counts is None


@pytest.mark.parametrize(
    ("traces", "exported"),
    [({}, False), ({"exclude_request_data": True}, False), ({"exclude_request_data": False}, True)],
    ids=["unset", "excluded", "included"],
)
async def test_request_data_reaches_spans_only_when_the_config_asks(
    tmp_path: Path, traces: dict[str, Any], exported: bool
) -> None:
    with OtlpReceiver() as receiver:
        async with running_gateway(tmp_path / "data") as gateway:
            await gateway.apply(otel_config(receiver.traces_url, **traces))
            request_id = await chat(gateway, f"tell me about {SENTINEL}")
            streamed = await chat(gateway, f"stream about {SENTINEL}", stream=True)
            await eventually(lambda: {request_id, streamed} <= request_ids(receiver), "both requests' spans")
            await flushed(gateway)
            token = gateway.token
        exported_bytes = b"".join(receiver.bodies)
    assert token.encode() not in exported_bytes
    assert token.removeprefix("tfy_").encode() not in exported_bytes
    assert (SENTINEL.encode() in exported_bytes) is exported
    if exported:
        (server,) = [s for s in receiver.spans if s.attributes.get("tfy_gateway.request.id") == request_id]
        assert SENTINEL in server.attributes["tfy.input"]
        assert server.attributes["tfy.input_short_hand"] == f"tell me about {SENTINEL}"
        assert '"choices"' in server.attributes["tfy.output"]
        (streamed_span,) = [s for s in receiver.spans if s.attributes.get("tfy_gateway.request.id") == streamed]
        assert streamed_span.attributes["tfy.input_short_hand"] == f"stream about {SENTINEL}"
        assert streamed_span.attributes["tfy.output"]


async def test_the_serve_default_never_exports_request_data(tmp_path: Path) -> None:
    with OtlpReceiver() as receiver:
        async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
            request_id = await chat(gateway, f"tell me about {SENTINEL}")
            await eventually(lambda: request_id in request_ids(receiver), "the request's spans")
    assert SENTINEL.encode() not in b"".join(receiver.bodies)


@pytest.mark.parametrize("encoding", ["proto", "json"])
async def test_genai_metrics_are_exported_over_otlp_when_configured(tmp_path: Path, encoding: str) -> None:
    wanted = {"gen_ai.server.request.duration", "gen_ai.client.operation.duration", "gen_ai.client.token.usage"}
    with OtlpReceiver() as receiver:
        async with running_gateway(tmp_path / "data", otel_metrics_interval_s=0.1) as gateway:
            manifest = {
                "type": "gateway-otel-config",
                "otel_metrics_exporter_config": {
                    "type": "http",
                    "endpoint": receiver.metrics_url,
                    "encoding": encoding,
                },
            }
            await gateway.apply(manifest)
            await chat(gateway, stream=True)
            await eventually(lambda: wanted | {"gen_ai.server.time_to_first_token"} <= receiver.metric_names, "metrics")
    assert not receiver.spans, "a metrics-only config exports no spans"
