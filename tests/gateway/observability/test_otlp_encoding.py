"""`SpanEncoder` writes OTLP protobuf by hand: what it writes must decode (opentelemetry-proto) to the
very message the OpenTelemetry SDK's encoder builds for the same span."""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from tfy_gateway.gateway.applied import Headroom
from tfy_gateway.gateway.observability.genai import response_attributes
from tfy_gateway.gateway.observability.otlp_encoding import CACHE_LIMIT, SpanEncoder
from tfy_gateway.gateway.observability.otlp_requests import RequestEncoder
from tfy_gateway.gateway.observability.span_records import (
    AnsweredSpan,
    GuardrailShape,
    GuardrailSpan,
    QueuedSpan,
    RequestSpans,
    ServerSpan,
)
from tfy_gateway.gateway.observability.spans import CLIENT, SERVER, RecordedSpan, SharedAttributes
from tfy_gateway.gateway.providers import Usage

RESOURCE = {"service.name": "tfy-llm-gateway", "deployment.environment": "dev"}
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SERVER_ID = 0x00F067AA0BA902B7
CLIENT_ID = 0x1234567890ABCDEF
REMOTE_PARENT = 0x0AF7651916CD43DD
STATE = "app=1,vendor=x"
ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "POST",
    "http.response.status_code": 200,
    "gen_ai.request.stream": True,
    "gen_ai.request.temperature": 0.25,
    "gen_ai.response.finish_reasons": ("stop", "length"),
    "tfy_gateway.request.id": "req-ü-1",
    "big": 2**40,
    "negative": -3,
    "offline": False,
    "empty": "",
    "counts": (1, 2, 3),
}


def recorded() -> list[RecordedSpan]:
    server = RecordedSpan(
        "POST /api/llm/chat/completions",
        SERVER,
        TRACE_ID,
        SERVER_ID,
        REMOTE_PARENT,
        1_700_000_000_000_000_000,
        dict(list(ATTRIBUTES.items())[:4]),  # known at the start; the rest when it ends
        remote_parent=True,
        trace_state=STATE,
    )
    server.end(1_700_000_000_500_000_000, dict(list(ATTRIBUTES.items())[4:]))
    server.add_event("tfy_gateway.limits", 1_700_000_000_100_000_000, {"tfy_gateway.limits.outcome": "admitted"})
    client = RecordedSpan(
        "chat gpt-4o",
        CLIENT,
        TRACE_ID,
        CLIENT_ID,
        SERVER_ID,
        1_700_000_000_200_000_000,
        {"gen_ai.operation.name": "chat"},
        trace_state=STATE,  # a child span carries its trace's state, as the SDK's do
    )
    client.end(1_700_000_000_400_000_000, {})
    client.error = "upstream said no"
    return [server, client]


def sdk_spans() -> list[ReadableSpan]:
    resource = Resource(RESOURCE)
    scope = InstrumentationScope("tfy_gateway")
    state = TraceState.from_header([STATE])
    flags = TraceFlags(1)
    server = ReadableSpan(
        "POST /api/llm/chat/completions",
        context=SpanContext(TRACE_ID, SERVER_ID, False, flags, state),
        parent=SpanContext(TRACE_ID, REMOTE_PARENT, True, flags, state),
        resource=resource,
        attributes=dict(ATTRIBUTES),
        events=[Event("tfy_gateway.limits", {"tfy_gateway.limits.outcome": "admitted"}, 1_700_000_000_100_000_000)],
        kind=SpanKind.SERVER,
        start_time=1_700_000_000_000_000_000,
        end_time=1_700_000_000_500_000_000,
        instrumentation_scope=scope,
    )
    client = ReadableSpan(
        "chat gpt-4o",
        context=SpanContext(TRACE_ID, CLIENT_ID, False, flags, state),
        parent=SpanContext(TRACE_ID, SERVER_ID, False, flags, state),
        resource=resource,
        attributes={"gen_ai.operation.name": "chat"},
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, "upstream said no"),
        start_time=1_700_000_000_200_000_000,
        end_time=1_700_000_000_400_000_000,
        instrumentation_scope=scope,
    )
    return [server, client]


def decoded(body: bytes) -> dict[str, Any]:
    return MessageToDict(ExportTraceServiceRequest.FromString(body))


def test_the_bytes_decode_to_what_the_sdk_encoder_builds() -> None:
    mine = decoded(SpanEncoder(RESOURCE, "tfy_gateway").encode(recorded()))
    assert mine == MessageToDict(encode_spans(sdk_spans()))


def test_repeated_values_come_from_the_cache_and_stay_right_when_it_overflows() -> None:
    encoder = SpanEncoder(RESOURCE, "tfy_gateway")
    first = encoder.encode(recorded())
    assert encoder.encode(recorded()) == first
    for n in range(CACHE_LIMIT + 10):  # new values every time: the cache is emptied, not grown past its limit
        span = RecordedSpan("s", SERVER, TRACE_ID, SERVER_ID, 0, 1, {"model": f"m{n}", "stream": n % 2 == 0})
        attributes = decoded(encoder.encode([span]))["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
        assert attributes == [
            {"key": "model", "value": {"stringValue": f"m{n}"}},
            {"key": "stream", "value": {"boolValue": n % 2 == 0}},
        ]
    assert encoder.encode(recorded()) == first


def test_spans_of_several_traces_in_one_batch_keep_their_own_trace_ids_names_and_kinds() -> None:
    """The encoder reuses the trace id field of consecutive spans of one trace and caches a name with
    its kind: interleaved traces and one name under two kinds must still come out as they went in."""
    other = TRACE_ID ^ 0xFF
    spans = [
        RecordedSpan("a", SERVER, TRACE_ID, SERVER_ID, 0, 1, {}),
        RecordedSpan("a", CLIENT, TRACE_ID, CLIENT_ID, SERVER_ID, 1, {}),
        RecordedSpan("a", SERVER, other, SERVER_ID, 0, 1, {}),
        RecordedSpan("b", CLIENT, TRACE_ID, CLIENT_ID, SERVER_ID, 1, {}),
    ]
    written = decoded(SpanEncoder({}, "tfy_gateway").encode(spans))["resourceSpans"][0]["scopeSpans"][0]["spans"]
    expected = [(TRACE_ID, "a", "SPAN_KIND_SERVER"), (TRACE_ID, "a", "SPAN_KIND_CLIENT"),
                (other, "a", "SPAN_KIND_SERVER"), (TRACE_ID, "b", "SPAN_KIND_CLIENT")]  # fmt: skip
    assert [(int.from_bytes(base64.b64decode(s["traceId"]), "big"), s["name"], s["kind"]) for s in written] == expected


def test_a_value_no_attribute_can_hold_is_left_out() -> None:
    span = RecordedSpan("s", SERVER, TRACE_ID, SERVER_ID, 0, 1, {"kept": 1, "none": None, "object": object()})
    spans = decoded(SpanEncoder({}, "tfy_gateway").encode([span]))["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [a["key"] for a in spans[0]["attributes"]] == ["kept"]


def attributes_of(encoder: SpanEncoder, span: RecordedSpan) -> list[dict[str, Any]]:
    spans = decoded(encoder.encode([span]))["resourceSpans"][0]["scopeSpans"][0]["spans"]
    attributes: list[dict[str, Any]] = spans[0]["attributes"]
    return attributes


def test_an_attribute_set_again_at_the_end_takes_the_new_value_in_its_place() -> None:
    span = RecordedSpan("s", SERVER, TRACE_ID, SERVER_ID, 0, 1, {"a": "start", "b": 1})
    span.end(2, {"a": "end", "c": True})
    assert attributes_of(SpanEncoder({}, "tfy_gateway"), span) == [
        {"key": "a", "value": {"stringValue": "end"}},
        {"key": "b", "value": {"intValue": "1"}},
        {"key": "c", "value": {"boolValue": True}},
    ]


def test_start_attributes_equal_but_of_another_type_are_not_taken_from_the_cache() -> None:
    encoder = SpanEncoder({}, "tfy_gateway")
    as_float = RecordedSpan("s", CLIENT, TRACE_ID, CLIENT_ID, SERVER_ID, 1, {"gen_ai.request.temperature": 1.0})
    as_int = RecordedSpan("s", CLIENT, TRACE_ID, CLIENT_ID, SERVER_ID, 1, {"gen_ai.request.temperature": 1})
    assert attributes_of(encoder, as_float) == [{"key": "gen_ai.request.temperature", "value": {"doubleValue": 1.0}}]
    assert attributes_of(encoder, as_int) == [{"key": "gen_ai.request.temperature", "value": {"intValue": "1"}}]


def test_a_shared_dict_encodes_as_a_plain_one_as_start_attributes_and_as_an_events() -> None:
    encoder = SpanEncoder(RESOURCE, "tfy_gateway")
    shared = SharedAttributes({"tfy.guardrail.result": "pass", "tfy_gateway.guardrail.stage": "input", "n": 2})

    def span(attributes: dict[str, Any]) -> RecordedSpan:
        made = RecordedSpan("g", CLIENT, TRACE_ID, CLIENT_ID, SERVER_ID, 1, attributes)
        made.add_event("gen_ai.guardrail.result", 2, attributes)
        made.end_attributes = {"tfy.guardrail.metric.latency_in_ms": 0.5}
        return made

    plain = decoded(SpanEncoder(RESOURCE, "tfy_gateway").encode([span(dict(shared))]))
    assert decoded(encoder.encode([span(shared)])) == plain
    assert decoded(encoder.encode([span(shared), span(shared)]))["resourceSpans"][0]["scopeSpans"][0]["spans"] == (
        plain["resourceSpans"][0]["scopeSpans"][0]["spans"] * 2
    )


def test_end_attributes_of_every_kind_decode_right_the_first_time_and_from_the_cache() -> None:
    encoder = SpanEncoder({}, "tfy_gateway")
    ends: dict[str, Any] = {
        "latency": 1.5,
        "status": 200,
        "as_true": True,
        "as_one": 1,
        "rules": ("a", "b"),
        "nested": ("x", ["y"]),
        "tfy_gateway.request.id": "r-1",
    }
    for round_ in range(3):
        span = RecordedSpan("s", SERVER, TRACE_ID, SERVER_ID, 0, 1, {})
        span.end(2, {**ends, "latency": 1.5 + round_, "as_one": 1 if round_ != 1 else True})
        assert attributes_of(encoder, span) == [
            {"key": "latency", "value": {"doubleValue": 1.5 + round_}},
            {"key": "status", "value": {"intValue": "200"}},
            {"key": "as_true", "value": {"boolValue": True}},
            {"key": "as_one", "value": {"boolValue": True} if round_ == 1 else {"intValue": "1"}},
            {"key": "rules", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}},
            {
                "key": "nested",
                "value": {
                    "arrayValue": {"values": [{"stringValue": "x"}, {"arrayValue": {"values": [{"stringValue": "y"}]}}]}
                },
            },
            {"key": "tfy_gateway.request.id", "value": {"stringValue": "r-1"}},
        ]


def test_span_records_encode_as_the_recorded_spans_they_stand_for() -> None:
    """A request that went well leaves tuples (guardrail runs, the answered call, the request's span)
    that the encoder writes from templates and raw values: each must decode to exactly what the
    `RecordedSpan` with the same fields (`recorded()`) writes, with and without trace state, remote
    parent, usage details, limits, twice (templates and caches reused), between spans of other traces."""
    shape = GuardrailShape(
        "apply_guardrail guards/pii",
        SharedAttributes({"gen_ai.operation.name": "apply_guardrail", "tfy.guardrail.result": "pass"}),
        SharedAttributes({"tfy.guardrail.result": "pass", "message": "ok"}),
    )
    server_shape = SharedAttributes({"http.route": "/api/llm/chat/completions", "http.response.status_code": 200})
    rules = SharedAttributes({"tfy_gateway.limits.outcome": "admitted", "tfy_gateway.limits.rules": ("a", "b")})
    rooms = (Headroom("tokens", 1000, 993, 1.0), Headroom("cost", 10.0, 9.5, None))
    start = SharedAttributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
    body = {"id": "chatcmpl-1", "model": "gpt-4o", "choices": [{"finish_reason": "stop"}, {"finish_reason": "length"}]}
    response = response_attributes(body)
    details = Usage(prompt_tokens=9, completion_tokens=4, cached_tokens=3, cache_write_tokens=2, reasoning_tokens=1)
    other = TRACE_ID ^ 0xFF
    spans: list[QueuedSpan] = [
        GuardrailSpan((TRACE_ID, CLIENT_ID, SERVER_ID, "", 10, 20, 0.01, 30, shape)),
        GuardrailSpan((TRACE_ID, CLIENT_ID + 1, SERVER_ID, STATE, 11, 2**62, 12.5, 31, shape)),
        RecordedSpan("a", SERVER, other, SERVER_ID, 0, 1, {}),
        GuardrailSpan((other, CLIENT_ID + 2, SERVER_ID, "", 12, 22, 0.0, 2**63, shape)),
        AnsweredSpan(
            (TRACE_ID, CLIENT_ID + 3, SERVER_ID, "", 5, 9, "chat gpt-4o", start, response, 200, Usage(8, 16), 0.5)
        ),
        AnsweredSpan(
            (other, CLIENT_ID + 4, SERVER_ID, STATE, 5, 9, "chat x", {**start, "t": 0.2}, [], 201, details, 1.0)
        ),
        AnsweredSpan((other, CLIENT_ID + 5, SERVER_ID, "", 5, 9, "chat x", start, [], 200, None, 2.0)),
        ServerSpan(
            (TRACE_ID, SERVER_ID, 0, "", 1, 99, "POST /x", server_shape, "req-1", 0.25, 0.0018, Usage(8, 16), None)
        ),
        ServerSpan(
            (other, SERVER_ID, REMOTE_PARENT, STATE, 1, 99, "POST /x", server_shape, "req-ü", None, None, None, None)
        ),
        ServerSpan(
            (TRACE_ID, SERVER_ID, 0, "", 1, 99, "POST /x", server_shape, "r", None, 1, details, (50, rules, rooms))
        ),
    ]
    expected = decoded(
        SpanEncoder(RESOURCE, "tfy_gateway").encode(
            [span.recorded() if not isinstance(span, RecordedSpan) else span for span in spans]
        )
    )
    encoder = SpanEncoder(RESOURCE, "tfy_gateway")
    assert decoded(encoder.encode(spans)) == expected
    assert decoded(encoder.encode(spans)) == expected
    assert spans[1].get("tfy.guardrail.metric.latency_in_ms") == 12.5
    assert spans[1].get("tfy.guardrail.result") == "pass"
    assert spans[4].get("gen_ai.response.finish_reasons") == ("stop", "length")
    assert spans[9].get("http.route") == "/api/llm/chat/completions"
    assert spans[9].get("absent") is None


def test_values_of_every_length_encode_as_their_recorded_spans_from_the_heads_kept_by_length() -> None:
    """Token counts, ids and what is left of a limit are written from heads kept by key and length (no
    cache of values): counts of 1 to 5 varint bytes, ids of several lengths, answers with and without
    an id, rooms with int and float limits, each twice, must decode as the `RecordedSpan`s do."""
    start = SharedAttributes({"gen_ai.operation.name": "chat"})
    shape = SharedAttributes({"http.route": "/x"})
    rules = SharedAttributes({"tfy_gateway.limits.outcome": "admitted"})
    spans: list[QueuedSpan] = []
    for n, count in enumerate((0, 127, 128, 16_383, 16_384, 2**21, 2**28, 2**35 + 1)):
        usage = Usage(prompt_tokens=count, completion_tokens=n)
        body = {"id": "chatcmpl-" + "x" * (n * 40), "model": "m", "choices": [{"finish_reason": "stop"}]}
        response = response_attributes(body if n % 3 else {"model": "m"})
        rooms = (Headroom("tokens", 10**9, count, 1.0), Headroom("cost", 100.0 + n, 99.5, None))
        spans += [
            AnsweredSpan((TRACE_ID, CLIENT_ID + n, SERVER_ID, "", 5, 9, "chat m", start, response, 200, usage, 0.5)),
            ServerSpan(
                (
                    TRACE_ID,
                    SERVER_ID,
                    0,
                    "",
                    1,
                    99,
                    "POST /x",
                    shape,
                    "r" * (n * 30),
                    None,
                    0.5,
                    usage,
                    (7, rules, rooms),
                )
            ),
        ]
    expected = decoded(SpanEncoder(RESOURCE, "tfy_gateway").encode([span.recorded() for span in spans]))
    encoder = SpanEncoder(RESOURCE, "tfy_gateway")
    assert decoded(encoder.encode(spans)) == expected
    assert decoded(encoder.encode(spans)) == expected


def request_records() -> list[QueuedSpan]:
    """Requests of several shapes as `RequestSpans`: with and without limits (int and float rooms),
    guardrails, remote parent, time to first token, cost, usage, answer id; token counts and ids of
    several lengths; and two the template does not cover (trace state, usage details)."""
    guardrail = GuardrailShape(
        "apply_guardrail guards/pii",
        SharedAttributes({"gen_ai.operation.name": "apply_guardrail", "tfy.guardrail.result": "pass"}),
        SharedAttributes({"tfy.guardrail.result": "pass"}),
    )
    other = GuardrailShape("apply_guardrail guards/regex", SharedAttributes({"a": 1}), SharedAttributes({}))
    shape = SharedAttributes({"http.route": "/api/llm/chat/completions", "http.response.status_code": 200})
    start = SharedAttributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
    rules = SharedAttributes({"tfy_gateway.limits.outcome": "admitted", "tfy_gateway.limits.rules": ("a", "b")})
    details = Usage(prompt_tokens=9, completion_tokens=4, cached_tokens=3)
    records: list[QueuedSpan] = []
    for n, count in enumerate((0, 127, 128, 16_384, 2**21, 2**35 + 1)):
        body = {"id": "chatcmpl-" + "x" * (n * 30), "model": "gpt-4o", "choices": [{"finish_reason": "stop"}]}
        response = response_attributes(body if n % 3 else {"model": "gpt-4o"})
        usage = Usage(prompt_tokens=count, completion_tokens=n) if n != 4 else None
        rooms = (Headroom("tokens", 10**9, count, 1.0), Headroom("cost", 10.0 + n, 9.5 - n, None))
        limits = (70 + n, rules, rooms) if n % 2 else None
        trace_id, parent = TRACE_ID ^ n, REMOTE_PARENT if n % 4 == 1 else 0
        call = AnsweredSpan(
            (trace_id, CLIENT_ID + n, SERVER_ID, "", 5, 9, "chat gpt-4o", start, response, 200, usage, 0.5 + n)
        )
        guardrails = tuple(
            GuardrailSpan((trace_id, CLIENT_ID + 10 + i, SERVER_ID, "", 10, 20, 0.25 * i, 30 + i, kind))
            for i, kind in enumerate((guardrail, other, guardrail)[: n % 4])
        )
        ttft, cost = (0.25 * n if n % 2 else None), (0.0018 * n if n != 3 else None)
        server_fields = (trace_id, SERVER_ID, parent, "", 1, 99, "POST /x", shape, "req-" + "y" * n, ttft, cost)
        records.append(RequestSpans((call, guardrails, ServerSpan((*server_fields, usage, limits)))))
    call = AnsweredSpan((TRACE_ID, CLIENT_ID, SERVER_ID, STATE, 5, 9, "chat x", start, [], 200, details, 1.0))
    server = ServerSpan((TRACE_ID, SERVER_ID, 0, STATE, 1, 99, "POST /x", shape, "r", None, None, details, None))
    records.append(RequestSpans((call, (), server)))
    call = AnsweredSpan((TRACE_ID, CLIENT_ID, SERVER_ID, "", 5, 9, "chat x", start, [], 200, details, 1.0))
    server = ServerSpan((TRACE_ID, SERVER_ID, 0, "", 1, 99, "POST /x", shape, "r", None, None, details, None))
    records.append(RequestSpans((call, (), server)))
    return records


def test_a_requests_spans_as_one_record_encode_as_its_spans_one_by_one() -> None:
    """`RequestEncoder` writes a request's spans from one template per request shape: each batch must
    decode to exactly what the general path writes for the same spans one by one (`spans()`, whose
    records encode as their `RecordedSpan`s: see above), with the templates built and then reused, and
    with spans of other requests between them."""
    records = request_records()
    loose = RecordedSpan("a", SERVER, TRACE_ID ^ 0xFF, SERVER_ID, 0, 1, {"k": "v"})
    batch: list[QueuedSpan] = [records[0], loose, *records[1:]]
    one_by_one = [span for item in batch for span in (item.spans() if isinstance(item, RequestSpans) else [item])]
    expected = decoded(SpanEncoder(RESOURCE, "tfy_gateway").encode(one_by_one))
    encoder = RequestEncoder(RESOURCE, "tfy_gateway")
    first = encoder.encode(batch)
    assert decoded(first) == expected
    assert encoder.encode(batch) == first
    assert decoded(SpanEncoder(RESOURCE, "tfy_gateway").encode(batch)) == expected
    assert [len(record.spans()) for record in records] == [record.span_count for record in records]  # type: ignore[union-attr]
    written = [encoder._request([], record) > 0 for record in records]  # type: ignore[arg-type]
    assert written == [True] * 6 + [False] * 2  # the last two (trace state, usage details) go one by one
