"""`RecordedSpan`: a finished span as plain data, recorded by `tracing.SpanTrace` without the
OpenTelemetry SDK.

The SDK's span objects cost about 56 µs a span on the event loop (a lock and a validation per
attribute, a context object per span); a request's spans here are a few attribute dicts the pipeline
builds anyway, two random ids and a clock read. `otlp_encoding` turns them into OTLP protobuf in the
export thread. Ids and sampling follow the SDK's defaults: random non-zero ids, and `ParentBased`
around a trace-id ratio (a client's sampled flag decides for its own trace).
"""

from __future__ import annotations

import random
from typing import Any

SERVER = 2  # Span.SpanKind in opentelemetry/proto/trace/v1/trace.proto
CLIENT = 3

_ID_LIMIT = (1 << 64) - 1  # the SDK's TraceIdRatioBased compares the trace id's lower 64 bits


def new_span_id() -> int:
    """A random non-zero 64-bit span id."""
    while True:
        span_id = random.getrandbits(64)
        if span_id:
            return span_id


def new_trace_id() -> int:
    """A random non-zero 128-bit trace id."""
    while True:
        trace_id = random.getrandbits(128)
        if trace_id:
            return trace_id


def new_ids() -> tuple[int, int]:
    """A new trace id and its root span's id, from one 192-bit draw (one call instead of two with their
    zero checks: a request's own tracing work is a handful of microseconds, so calls count)."""
    bits = random.getrandbits(192)
    trace_id, span_id = bits >> 64, bits & _ID_LIMIT
    if trace_id and span_id:
        return trace_id, span_id
    return new_trace_id(), new_span_id()


def sampled(trace_id: int, ratio: float) -> bool:
    """Whether a new trace is recorded at `ratio` (the SDK's `TraceIdRatioBased` rule)."""
    if ratio >= 1:
        return True
    return trace_id & _ID_LIMIT < round(ratio * (_ID_LIMIT + 1))


class SharedAttributes(dict[str, Any]):
    """An attribute dict built once and shared, unchanged, by many spans (a route's, a target's, a
    guardrail's): the encoder keeps its encoding by identity, so such a dict costs one lookup a span."""

    __slots__ = ()


class RecordedSpan:
    """One ended span. `attributes` are the ones known at its start (the same from request to request
    for a route and target: the encoder caches them as a whole), `end_attributes` the ones set when it
    ended; values are str, bool, int, float or tuples of them. `error` is the status message of a span
    whose status is ERROR (None: unset)."""

    __slots__ = (
        "attributes",
        "end_attributes",
        "end_ns",
        "error",
        "events",
        "kind",
        "name",
        "parent_id",
        "remote_parent",
        "span_id",
        "start_ns",
        "trace_id",
        "trace_state",
    )

    def __init__(
        self,
        name: str,
        kind: int,
        trace_id: int,
        span_id: int,
        parent_id: int,
        start_ns: int,
        attributes: dict[str, Any],
        *,
        remote_parent: bool = False,
        trace_state: str = "",
    ) -> None:
        self.name = name
        self.kind = kind
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id  # 0: a root span
        self.remote_parent = remote_parent
        self.trace_state = trace_state
        self.start_ns = start_ns
        self.end_ns = start_ns
        self.attributes = attributes
        self.end_attributes: dict[str, Any] | None = None
        self.events: list[tuple[str, int, dict[str, Any]]] | None = None
        self.error: str | None = None

    def end(self, time_ns: int, attributes: dict[str, Any]) -> None:
        """Ended at `time_ns` with `attributes` (one that was set at the start takes the new value)."""
        self.end_ns = time_ns
        if attributes.keys().isdisjoint(self.attributes):
            self.end_attributes = attributes
        else:
            self.attributes = {**self.attributes, **attributes}

    def get(self, key: str) -> Any:
        """An attribute's value (None: not set)."""
        end = self.end_attributes
        if end is not None and key in end:
            return end[key]
        return self.attributes.get(key)

    def add_event(self, name: str, time_ns: int, attributes: dict[str, Any]) -> None:
        if self.events is None:
            self.events = []
        self.events.append((name, time_ns, attributes))
