"""Where encoded spans go: one `SpanSender` per OTLP target, called by `export.SpanQueue`'s worker.

Every sender takes the protobuf `ExportTraceServiceRequest` bytes of `otlp_encoding` (OTLP/HTTP
protobuf posts them as they are; JSON and gRPC parse them once into the opentelemetry-proto message
they need), and returns None when the collector took the batch, else why not. A batch is retried,
with growing pauses, while the collector answers a retryable status (429, 502, 503, 504) or cannot
be reached, within the export timeout (retries included), as the SDK's exporters do
(https://opentelemetry.io/docs/specs/otlp/#failures).
"""

from __future__ import annotations

import base64
import http.client
import logging
import ssl
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from tfy_gateway.gateway.observability.spec import Target

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 502, 503, 504})
FIRST_PAUSE_S = 0.5


class SpanSender(Protocol):
    def send(self, body: bytes) -> str | None:
        """Deliver one encoded batch: None when the collector took it, else the reason it did not."""

    def close(self) -> None: ...


def span_sender(target: Target, timeout_s: float) -> SpanSender:
    """The sender for `target`'s protocol."""
    if target.protocol == "grpc":
        return GrpcSender(target, timeout_s)
    if target.protocol == "http/json":
        return JsonSender(target, timeout_s)
    return ProtobufSender(target, timeout_s)


def _retrying(attempt: Any, timeout_s: float) -> str | None:
    """Call `attempt(seconds_left)` (None, or (retryable, reason)) until it succeeds, fails for good or
    the timeout is spent."""
    deadline = time.monotonic() + timeout_s
    pause = FIRST_PAUSE_S
    while True:
        outcome = attempt(max(deadline - time.monotonic(), 0.001))
        if outcome is None:
            return None
        retryable, reason = outcome
        if not retryable or time.monotonic() + pause >= deadline:
            return str(reason)
        time.sleep(pause)
        pause *= 2


class ProtobufSender:
    """OTLP/HTTP with protobuf bodies (`encoding: proto`, the default), on one kept-alive connection.

    http.client, not httpx: a batch is one POST of a few hundred kilobytes, and httpx's layers cost
    about 10 µs of the export thread's CPU per span sent; a plain connection writes the body at once."""

    def __init__(self, target: Target, timeout_s: float, content_type: str = "application/x-protobuf") -> None:
        parts = urlsplit(target.endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {**dict(target.headers), "content-type": content_type}
        self._timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None

    def send(self, body: bytes) -> str | None:
        return _retrying(lambda left: self._post(body, left), self._timeout_s)

    def _post(self, body: bytes, left: float) -> tuple[bool, str] | None:
        reused = self._connection is not None
        try:
            status = self._exchange(body, left)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            if not reused:
                return True, f"{type(exc).__name__}: {exc}"
            try:  # the collector may have closed the idle connection: once more on a new one
                status = self._exchange(body, left)
            except (OSError, http.client.HTTPException) as again:
                self.close()
                return True, f"{type(again).__name__}: {again}"
        if 200 <= status < 300:
            return None
        return status in RETRYABLE, f"HTTP {status}"

    def _exchange(self, body: bytes, timeout_s: float) -> int:
        connection = self._connection
        if connection is None:
            if self._https:
                connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout_s, context=ssl.create_default_context()
                )
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout_s)
            self._connection = connection
        else:
            connection.timeout = timeout_s
            if connection.sock is not None:
                connection.sock.settimeout(timeout_s)
        connection.request("POST", self._path, body=body, headers=self._headers)
        response = connection.getresponse()
        response.read()
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class JsonSender:
    """OTLP/HTTP with JSON bodies (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
    the protobuf JSON mapping, except that trace and span ids are hex strings, not base64."""

    def __init__(self, target: Target, timeout_s: float) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        self._message = ExportTraceServiceRequest
        self._http = ProtobufSender(target, timeout_s, content_type="application/json")

    def send(self, body: bytes) -> str | None:
        return self._http.send(json_body(self._message.FromString(body)))

    def close(self) -> None:
        self._http.close()


def json_body(message: Any) -> bytes:
    """An OTLP message as OTLP/JSON."""
    from google.protobuf.json_format import MessageToDict

    body = MessageToDict(message, use_integers_for_enums=True)
    _hex_ids(body)
    return orjson.dumps(body)


_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


def _hex_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)


class GrpcSender:
    """OTLP over gRPC (`type: grpc`, the otel-grpc extra): the collector's TraceService.Export."""

    def __init__(self, target: Target, timeout_s: float) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

        endpoint = target.endpoint
        address = endpoint.split("://", 1)[-1].rstrip("/")
        if endpoint.startswith("http://"):
            self._channel = grpc.insecure_channel(address)
        else:
            self._channel = grpc.secure_channel(address, grpc.ssl_channel_credentials())
        self._export = TraceServiceStub(self._channel).Export  # type: ignore[no-untyped-call]
        self._message = ExportTraceServiceRequest
        self._metadata = tuple((key.lower(), value) for key, value in target.headers)
        self._timeout_s = timeout_s
        self._retryable = frozenset(
            {
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                grpc.StatusCode.ABORTED,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            }
        )
        self._error = grpc.RpcError

    def send(self, body: bytes) -> str | None:
        request = self._message.FromString(body)

        def attempt(left: float) -> tuple[bool, str] | None:
            try:
                self._export(request, metadata=self._metadata, timeout=left)
            except self._error as exc:
                code = exc.code() if hasattr(exc, "code") else None
                return code in self._retryable, f"gRPC {code}"
            return None

        return _retrying(attempt, self._timeout_s)

    def close(self) -> None:
        self._channel.close()
