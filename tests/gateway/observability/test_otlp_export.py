"""Traces over OTLP/HTTP to a real collector (tests/.../otlp_receiver.py), end to end: a streamed chat
request that fails over once, under the client's traceparent, as the collector and the provider see it."""

from __future__ import annotations

import gc
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.inprocess import FAKE_ORIGIN, InProcessGateway, running_gateway
from tests.gateway.observability.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.helpers import eventually


def account(name: str, base_url: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "provider-account/openai",
        "base_url": base_url,
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


FAILOVER = {
    "name": "failover",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "flaky-then-steady",
            "type": "priority-based-routing",
            "when": {"models": ["flaky/gpt-4o"]},
            "load_balance_targets": [
                {"target": "flaky/gpt-4o", "priority": 0, "retry_config": {"attempts": 0}},
                {"target": "steady/gpt-4o", "priority": 1},
            ],
        }
    ],
}


async def set_up_failover(gateway: InProcessGateway) -> None:
    for manifest in (account("flaky", f"{FAKE_ORIGIN}/knobs/status=503/v1"), account("steady", f"{FAKE_ORIGIN}/v1")):
        await gateway.apply(manifest)
    await gateway.apply(FAILOVER)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def new_traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


async def streamed_chat(gateway: InProcessGateway, model: str, headers: dict[str, str], prompt: str = "ping") -> str:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True, "max_tokens": 8}
    async with gateway.http.stream(
        "POST", "/api/llm/chat/completions", json=body, headers={**gateway.auth(), **headers}
    ) as response:
        assert response.status_code == 200, await response.aread()
        text = (await response.aread()).decode()
        assert text.rstrip().endswith("data: [DONE]")
        return response.headers["x-tfy-request-id"]


def by_kind(spans: list[ReceivedSpan], kind: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.kind == kind]


async def test_a_streamed_failover_is_one_server_span_and_two_attempts_under_the_clients_trace(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    async with running_gateway(tmp_path / "data", offline=False, otel_traces_endpoint=receiver.traces_url) as gateway:
        await set_up_failover(gateway)
        trace_id, client_span, traceparent = new_traceparent()
        request_id = await streamed_chat(gateway, "flaky/gpt-4o", {"traceparent": traceparent, "tracestate": "app=1"})
        spans = await eventually(
            lambda: len(receiver.spans_of(trace_id)) >= 3 and receiver.spans_of(trace_id), "3 spans"
        )

        assert len(spans) == 3
        (server,) = by_kind(spans, "SERVER")
        assert server.parent_span_id == client_span
        assert server.name == "POST /api/llm/chat/completions"
        assert server.attributes["gen_ai.operation.name"] == "chat"
        assert server.attributes["gen_ai.request.model"] == "flaky/gpt-4o"
        assert server.attributes["tfy.span_type"] == "ChatCompletion"
        assert server.attributes["http.response.status_code"] == 200
        assert server.attributes["applied_loadbalance_rule_ids"] == ["flaky-then-steady"]
        assert server.attributes["tfy_gateway.request.id"] == request_id
        assert server.resource["service.name"] == "tfy-llm-gateway"

        attempts = sorted(by_kind(spans, "CLIENT"), key=lambda span: span.attributes["tfy_gateway.attempt"])
        assert [span.parent_span_id for span in attempts] == [server.span_id, server.span_id], "siblings"
        assert [span.name for span in attempts] == ["chat gpt-4o", "chat gpt-4o"]
        for span in attempts:
            assert span.attributes["gen_ai.operation.name"] == "chat"
            assert span.attributes["gen_ai.provider.name"] == "openai"
            assert span.attributes["gen_ai.request.model"] == "gpt-4o"
            assert span.attributes["gen_ai.request.stream"] is True
            assert span.attributes["gen_ai.request.max_tokens"] == 8
            assert span.attributes["tfy_gateway.routing.rule_id"] == "flaky-then-steady"
            assert span.attributes["server.address"] == "fake-provider.test"
        failed, served = attempts
        assert failed.attributes["tfy_gateway.routing.target"] == "flaky/gpt-4o"
        assert failed.attributes["tfy_gateway.attempt.kind"] == "first"
        assert failed.attributes["http.response.status_code"] == 503
        assert failed.attributes["error.type"]
        assert failed.status_code == 2  # ERROR
        assert served.attributes["tfy_gateway.routing.target"] == "steady/gpt-4o"
        assert served.attributes["tfy_gateway.attempt.kind"] == "fallback"
        assert "error.type" not in served.attributes
        assert served.attributes["gen_ai.usage.input_tokens"] > 0
        assert served.attributes["gen_ai.usage.output_tokens"] > 0
        assert served.attributes["gen_ai.response.finish_reasons"] == ["length"]
        assert served.attributes["gen_ai.response.time_to_first_chunk"] > 0

        calls = [request for request in gateway.provider_requests() if request["path"].endswith("/chat/completions")]
        assert [call["path"].startswith("/knobs/status=503") for call in calls] == [True, False]
        assert [call["headers"]["traceparent"] for call in calls] == [
            f"00-{trace_id}-{failed.span_id}-01",
            f"00-{trace_id}-{served.span_id}-01",
        ]
        assert calls[1]["headers"]["tracestate"] == "app=1"

        logs = await gateway.http.get(
            "/api/svc/v1/llm-gateway/logs", params={"trace_id": trace_id}, headers=gateway.auth()
        )
        (record,) = logs.json()["data"]
        assert (record["id"], record["trace_id"]) == (request_id, trace_id)


async def test_without_a_traceparent_the_gateway_starts_the_trace(tmp_path: Path, receiver: OtlpReceiver) -> None:
    async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
        request_id = await streamed_chat(gateway, "openai-main/gpt-4o", {})
        records = (await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())).json()["data"]
        (record,) = [record for record in records if record["id"] == request_id]
        await eventually(lambda: len(receiver.spans_of(record["trace_id"])) == 2, "server span and attempt")
        (server,) = by_kind(receiver.spans_of(record["trace_id"]), "SERVER")
        (attempt,) = by_kind(receiver.spans_of(record["trace_id"]), "CLIENT")
        assert server.parent_span_id == ""
        assert attempt.parent_span_id == server.span_id
        assert server.attributes["tfy_gateway.request.id"] == request_id


async def test_tracing_off_passes_the_clients_traceparent_on_and_logs_its_trace_id(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        trace_id, _, traceparent = new_traceparent()
        request_id = await streamed_chat(gateway, "openai-main/gpt-4o", {"traceparent": traceparent})
        (call,) = [r for r in gateway.provider_requests() if r["path"].endswith("/chat/completions")]
        assert call["headers"]["traceparent"] == traceparent
        records = (await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())).json()["data"]
        (record,) = [record for record in records if record["id"] == request_id]
        assert record["trace_id"] == trace_id
        plain = await streamed_chat(gateway, "openai-main/gpt-4o", {"traceparent": "00-zz-bad"})
        records = (await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())).json()["data"]
        (record,) = [record for record in records if record["id"] == plain]
        assert "trace_id" not in record
        assert gateway.data_plane.telemetry.counts is None, "no span was ever made"


async def test_genai_metrics_beside_the_prometheus_metrics(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        await streamed_chat(gateway, "openai-main/gpt-4o", {})
        metrics = (await gateway.http.get("/metrics", headers=gateway.auth())).text
    assert 'gen_ai_client_token_usage_count{gen_ai_operation_name="chat",gen_ai_provider_name="openai",' in metrics
    assert 'gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat"' in metrics
    assert "gen_ai_server_time_to_first_token_seconds_count" in metrics
    assert "gen_ai_server_request_duration_seconds_count" in metrics


async def test_traces_over_otlp_grpc(tmp_path: Path) -> None:
    """`type: grpc` (the otel-grpc extra): spans reach a real gRPC TraceService."""
    grpc = pytest.importorskip("grpc")
    from concurrent import futures

    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list[str] = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            received.extend(s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        async with running_gateway(tmp_path / "data") as gateway:
            manifest = {
                "type": "gateway-otel-config",
                "otel_traces_exporter_config": {
                    "type": "grpc",
                    "endpoint": f"http://127.0.0.1:{port}",
                    "exclude_request_data": True,
                },
            }
            await gateway.apply(manifest)
            await streamed_chat(gateway, "openai-main/gpt-4o", {})
            await eventually(lambda: sorted(received) == ["POST /api/llm/chat/completions", "chat gpt-4o"], "spans")
    finally:
        server.stop(None)


async def test_a_traced_requests_objects_are_freed_at_once_not_left_as_a_cycle_for_the_collector(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    """A trace that refers to its attempts while they refer to it keeps the whole request (context, bodies,
    spans' dicts) alive until a collection: under load, collections that cost more than tracing itself."""
    from tfy_gateway.gateway.observability.tracing import SpanTrace

    async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
        await streamed_chat(gateway, "openai-main/gpt-4o", {})
        gc.collect()
        gc.disable()
        try:
            for _ in range(3):
                await streamed_chat(gateway, "openai-main/gpt-4o", {})
            assert gateway.data_plane.telemetry.counts is not None
            alive = [thing for thing in gc.get_objects() if isinstance(thing, SpanTrace)]
        finally:
            gc.enable()
        assert alive == []


async def test_the_limit_check_is_an_event_of_the_server_span_naming_the_rules_and_what_is_left(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    limits = {
        "name": "limits",
        "type": "gateway-rate-limiting-config",
        "rules": [{"id": "two-a-minute", "when": {}, "limit_to": 2, "unit": "requests_per_minute"}],
    }
    async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
        await gateway.apply(limits)
        body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        statuses = []
        for _ in range(3):
            answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
            statuses.append((answer.status_code, answer.headers["x-tfy-request-id"]))
        assert [status for status, _ in statuses] == [200, 200, 429]
        records = (await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())).json()["data"]
        traces = {record["id"]: record["trace_id"] for record in records}

        def limit_events() -> list[dict[str, Any]]:
            found = []
            for _, request_id in statuses:
                servers = by_kind(receiver.spans_of(traces[request_id]), "SERVER")
                found += [
                    event for server in servers for event in server.events if event["name"] == "tfy_gateway.limits"
                ]
            return found

        events = await eventually(lambda: len(limit_events()) == 3 and limit_events(), "three limit events")
        assert [event["tfy_gateway.limits.outcome"] for event in events] == ["admitted", "admitted", "refused"]
        assert {tuple(event["tfy_gateway.limits.rules"]) for event in events} == {("rate_limit:limits/two-a-minute",)}
        assert [event["tfy_gateway.limits.remaining.requests"] for event in events[:2]] == [1, 0]
        assert events[0]["tfy_gateway.limits.limit.requests"] == 2


async def test_server_spans_of_requests_alike_but_for_metadata_or_status_each_carry_their_own(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
        sent = []
        for model, env in (("openai-main/gpt-4o", "a"), ("openai-main/gpt-4o", "b"), ("nowhere/x", "a")):
            headers = {**gateway.auth(), "x-tfy-metadata": f'{{"env": "{env}"}}'}
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers)
            sent.append((answer.headers["x-tfy-request-id"], answer.status_code, model, env))
        sent.append(sent[0])  # the same request id again: its span is looked up twice, found once
        records = (await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())).json()["data"]
        traces = {record["id"]: record["trace_id"] for record in records}

        def servers() -> list[ReceivedSpan]:
            return [
                span for request_id, *_ in sent for span in by_kind(receiver.spans_of(traces[request_id]), "SERVER")
            ]

        spans = await eventually(lambda: len(servers()) == 4 and servers(), "three server spans")
        assert [sent_status for _, sent_status, _, _ in sent[:3]] == [200, 200, 404]
        for span, (request_id, status, model, env) in zip(spans, sent, strict=True):
            assert span.attributes["tfy_gateway.request.id"] == request_id
            assert span.attributes["http.response.status_code"] == status
            assert span.attributes["gen_ai.request.model"] == model
            assert span.attributes["tfy.request.metadata"] == f'{{"env":"{env}"}}'
            assert ("error.type" in span.attributes) == (status >= 400)
            assert span.attributes["http.route"] == "/api/llm/chat/completions"


async def test_upstream_call_spans_alike_but_for_their_parameters_each_carry_their_own(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    """A call's start attributes with the request's parameters are kept per target and parameters (by
    value and type): requests alike but for them must each carry their own, 1 as an int, 1.0 a double."""
    async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
        sent: list[tuple[str, dict[str, Any]]] = []
        parameters: list[dict[str, Any]] = [
            {"max_tokens": 8},
            {"max_tokens": 9},
            {"max_tokens": 8, "temperature": 1},
            {"max_tokens": 8, "temperature": 1.0},
            {},
            {"max_tokens": 8},
        ]
        for extra in parameters:
            body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hi"}], **extra}
            answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
            assert answer.status_code == 200, answer.text
            sent.append((answer.headers["x-tfy-request-id"], extra))
        records = (await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())).json()["data"]
        traces = {record["id"]: record["trace_id"] for record in records}

        def calls() -> list[ReceivedSpan]:
            return [span for request_id, _ in sent for span in by_kind(receiver.spans_of(traces[request_id]), "CLIENT")]

        spans = await eventually(lambda: len(calls()) == len(sent) and calls(), "an upstream call span a request")
        for span, (_, extra) in zip(spans, sent, strict=True):
            found = {
                key: (value, type(value))
                for key, value in span.attributes.items()
                if key in ("gen_ai.request.max_tokens", "gen_ai.request.temperature")
            }
            assert found == {f"gen_ai.request.{key}": (value, type(value)) for key, value in extra.items()}
            assert span.attributes["gen_ai.request.model"] == "gpt-4o"
