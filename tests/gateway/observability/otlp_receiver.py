"""A real OTLP/HTTP collector for tests: an HTTP server on loopback that decodes what exporters send
(`ExportTraceServiceRequest` in protobuf with opentelemetry-proto, or OTLP/JSON) and keeps every span.

    with OtlpReceiver() as receiver:            # receiver.traces_url: http://127.0.0.1:<port>/v1/traces
        ...; spans = receiver.spans_of(trace_id)

`hang()` makes it accept requests and never answer (a stuck collector) until it is stopped; a stopped
receiver's port refuses connections (a collector that is down).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


def _json_value(value: dict[str, Any]) -> Any:
    ((kind, item),) = value.items()
    if kind == "arrayValue":
        return [_json_value(v) for v in item.get("values", [])]
    return int(item) if kind == "intValue" else item


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.bodies: list[bytes] = []  # every export body as received (for greps)
        self.metric_names: set[str] = set()
        self.requests = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._hanging = False
        self._statuses: list[int] = []  # answers before the first 200 (see `answer_first`)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def traces_url(self) -> str:
        return f"{self.base_url}/v1/traces"

    @property
    def metrics_url(self) -> str:
        return f"{self.base_url}/v1/metrics"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def hang(self) -> None:
        self._hanging = True

    def answer_first(self, *statuses: int) -> None:
        """Answer the next exports with `statuses` (taking nothing), then as usual."""
        with self._lock:
            self._statuses += statuses

    def stop(self) -> None:
        self._release.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def spans_of(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.requests += 1
                    status = receiver._statuses.pop(0) if receiver._statuses else 200
                if receiver._hanging:
                    receiver._release.wait()
                    return
                if status != 200:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                receiver._take(self.path, self.headers.get("content-type", ""), body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler

    def _take(self, path: str, content_type: str, body: bytes) -> None:
        with self._lock:
            self.bodies.append(body)
            if path.endswith("/v1/metrics"):
                if "json" in content_type:
                    names = [
                        metric["name"]
                        for rm in json.loads(body).get("resourceMetrics", [])
                        for sm in rm.get("scopeMetrics", [])
                        for metric in sm.get("metrics", [])
                    ]
                else:
                    request = ExportMetricsServiceRequest.FromString(body)
                    names = [m.name for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
                self.metric_names.update(names)
                return
            if "json" in content_type:
                self.spans.extend(_json_spans(json.loads(body)))
            else:
                self.spans.extend(_proto_spans(ExportTraceServiceRequest.FromString(body)))


def _proto_spans(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=KINDS[span.kind],
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        resource=resource,
                        status_code=span.status.code,
                        events=[
                            {"name": e.name, **{a.key: _value(a.value) for a in e.attributes}} for e in span.events
                        ],
                    )
                )
    return found


def _json_spans(request: dict[str, Any]) -> list[ReceivedSpan]:
    found = []
    for resource_spans in request.get("resourceSpans", []):
        resource = {a["key"]: _json_value(a["value"]) for a in resource_spans["resource"].get("attributes", [])}
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                found.append(
                    ReceivedSpan(
                        trace_id=span["traceId"],
                        span_id=span["spanId"],
                        parent_span_id=span.get("parentSpanId", ""),
                        name=span["name"],
                        kind=KINDS[span.get("kind", 0)],
                        attributes={a["key"]: _json_value(a["value"]) for a in span.get("attributes", [])},
                        resource=resource,
                        status_code=span.get("status", {}).get("code", 0),
                    )
                )
    return found
