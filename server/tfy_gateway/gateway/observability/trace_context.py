"""W3C Trace Context (`traceparent`, `tracestate`): parsed and written without the OpenTelemetry SDK,
so that a gateway with tracing off can still continue a client's trace id in its logs and pass the
headers on to the provider at the cost of a dict lookup.

https://www.w3.org/TR/trace-context/: `traceparent` is `00-<32 hex trace id>-<16 hex parent id>-<2 hex
flags>`; an all-zero id is invalid. A later version may append fields after the flags, which are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_HEX = frozenset("0123456789abcdef")
MAX_TRACESTATE_CHARS = 512  # the spec's limit for what a vendor must propagate


@dataclass(frozen=True, slots=True)
class TraceParent:
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    flags: int
    tracestate: str | None = None

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)

    def headers(self) -> dict[str, str]:
        """The headers that carry this context on (as received)."""
        headers = {"traceparent": format_traceparent(self.trace_id, self.span_id, self.flags)}
        if self.tracestate:
            headers["tracestate"] = self.tracestate
        return headers


def format_traceparent(trace_id: str, span_id: str, flags: int) -> str:
    return f"00-{trace_id}-{span_id}-{flags:02x}"


def parse_traceparent(value: str | None, tracestate: str | None = None) -> TraceParent | None:
    """The context of a `traceparent` header, or None when it is missing or malformed (then the
    request starts a new trace, as the spec says)."""
    if not value:
        return None
    parts = value.strip().lower().split("-")
    if len(parts) < 4:
        return None
    version, trace_id, span_id, flags = parts[0], parts[1], parts[2], parts[3]
    if len(version) != 2 or version == "ff" or not set(version) <= _HEX:
        return None
    if version == "00" and len(parts) != 4:
        return None
    if len(trace_id) != 32 or len(span_id) != 16 or len(flags) != 2:
        return None
    if not (set(trace_id) <= _HEX and set(span_id) <= _HEX and set(flags) <= _HEX):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    state = tracestate.strip() if tracestate else None
    if state and len(state) > MAX_TRACESTATE_CHARS:
        state = None
    return TraceParent(trace_id, span_id, int(flags, 16), state or None)


def incoming(headers: Mapping[str, str]) -> TraceParent | None:
    """The trace context a request came with (`headers` lowercased, as `scope_headers` gives them)."""
    value = headers.get("traceparent")
    return parse_traceparent(value, headers.get("tracestate")) if value is not None else None
