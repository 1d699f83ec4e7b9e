"""W3C Trace Context (`traceparent`, `tracestate`): parsed and written without the OpenTelemetry SDK,
so that a gateway with tracing off can still continue a client's trace id in its logs and pass the
headers on to the provider at the cost of a dict lookup.

https://www.w3.org/TR/trace-context/: `traceparent` is `00-<32 hex trace id>-<16 hex parent id>-<2 hex
flags>`; an all-zero id is invalid. A later version may append fields after the flags, which are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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


_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)
"""version-trace id-parent id-flags, and what a later version may append (one C call instead of a
split and a set of characters per field: this runs for every request that carries a traceparent)."""


def parse_traceparent(value: str | None, tracestate: str | None = None) -> TraceParent | None:
    """The context of a `traceparent` header, or None when it is missing or malformed (then the
    request starts a new trace, as the spec says)."""
    if not value:
        return None
    found = _TRACEPARENT.fullmatch(value.strip().lower())
    if found is None:
        return None
    version, trace_id, span_id, flags, more = found.groups()
    if version == "ff" or (version == "00" and more is not None):
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
