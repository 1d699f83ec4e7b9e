"""OTLP protobuf bytes of recorded spans, written directly (an `ExportTraceServiceRequest`).

Why not the SDK's encoder: it builds one protobuf message object per span, attribute and value,
about 116 µs a span here. The wire format of the few messages a span needs is small and stable
(opentelemetry/proto/trace/v1/trace.proto, common.proto, resource.proto), so `SpanEncoder` writes it
with bytes joins, and keeps the encoded form of attributes that repeat from request to request (the
operation, model, provider, route, status...) in a bounded cache: most of a span is then dict hits.
The tests decode what it writes with opentelemetry-proto.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tfy_gateway.gateway.observability import genai as g
from tfy_gateway.gateway.observability.span_records import (
    AnsweredSpan,
    GuardrailShape,
    GuardrailSpan,
    GuardrailTemplate,
    LimitEvent,
    QueuedSpan,
    ServerSpan,
    usage_items,
)
from tfy_gateway.gateway.observability.spans import CLIENT, SERVER, RecordedSpan, SharedAttributes

_BYTES = tuple(bytes((n,)) for n in range(128))
_DOUBLE = struct.Struct("<d").pack
_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_INT64 = (1 << 64) - 1

_TIMES = struct.Struct("<BQBQ").pack  # Span.start_time_unix_nano and end_time_unix_nano, with their tags
_SPAN_ID = struct.Struct(">HQ").pack  # Span.span_id with its tag and length (ids are big-endian bytes)
_SPAN_AND_PARENT = struct.Struct(">HQHQ").pack  # Span.span_id and parent_span_id, likewise

_SEQUENCES = (tuple, list)  # tuples, not `X | Y` unions: those are built anew at every call

HAS_IS_REMOTE = 0x100  # SpanFlags: the SDK always says whether the parent was remote
IS_REMOTE = 0x200
STATUS_ERROR = 2
_KINDS = tuple(b"\x30" + _BYTES[kind] for kind in range(6))  # Span.kind with its tag
_UNSET = b"\x7a\x00"  # an unset status, written as the SDK writes it
_FLAGS = b"\x85\x01" + _FIXED32(HAS_IS_REMOTE)
_REMOTE_FLAGS = b"\x85\x01" + _FIXED32(HAS_IS_REMOTE | IS_REMOTE)
_UNSET_FLAGS, _UNSET_REMOTE_FLAGS = _UNSET + _FLAGS, _UNSET + _REMOTE_FLAGS  # a span's usual last fields

CACHE_LIMIT = 4096  # encoded attributes kept; cleared whole when full (repeating values come back fast)
UNCACHED = frozenset(
    {
        "tfy_gateway.request.id",
        "gen_ai.response.id",
        "tfy.input",
        "tfy.input_short_hand",
        "tfy.output",
        "tfy_gateway.limits.remaining.tokens",
        "tfy_gateway.limits.remaining.requests",
    }
)
"""Attributes whose values are new with every request: caching them would only churn the cache (a
cache that fills is emptied whole, and everything that repeats is encoded again)."""


def varint(n: int) -> bytes:
    if n < 0x80:
        return _BYTES[n]
    if n < 0x4000:  # a span's length, most often
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _delimited(payload: bytes) -> bytes:
    """A length-delimited field's length prefix and payload (the caller writes the tag)."""
    size = len(payload)
    return (_BYTES[size] if size < 0x80 else varint(size)) + payload


def _string(text: str) -> bytes:
    return _delimited(text.encode("utf-8", "replace"))


def any_value(value: Any) -> bytes | None:
    """An `AnyValue` message, or None for a value an attribute cannot hold (left out, as the SDK does)."""
    if isinstance(value, str):
        return b"\x0a" + _string(value)
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + varint(value & _INT64)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, _SEQUENCES):
        items = []
        for item in value:
            encoded = any_value(item)
            if encoded is not None:
                items.append(b"\x0a" + _delimited(encoded))
        return b"\x2a" + _delimited(b"".join(items))
    return None


def key_value(key: str, value: Any) -> bytes | None:
    """A `KeyValue` message, length-prefixed (the caller writes the tag of the field holding it)."""
    encoded = any_value(value)
    if encoded is None:
        return None
    return _delimited(b"\x0a" + _string(key) + b"\x12" + _delimited(encoded))


class SpanEncoder:
    """Encodes batches of spans of one resource and instrumentation scope; one per exporter, used by
    its export thread only (the attribute cache is not shared)."""

    def __init__(self, resource: Mapping[str, str], scope: str) -> None:
        attributes = b"".join(b"\x0a" + kv for kv in (key_value(k, v) for k, v in resource.items()) if kv)
        self._resource = b"\x0a" + _delimited(attributes)  # ResourceSpans.resource
        self._scope = b"\x0a" + _delimited(b"\x0a" + _string(scope))  # ScopeSpans.scope
        self._cache: dict[tuple[str, Any], tuple[type, bytes]] = {}  # (key, value) -> (value's type, KeyValue)
        self._floats: dict[str, bytes] = {}  # a float attribute's KeyValue up to its 8 bytes, by key
        self._names: dict[tuple[str, int], bytes] = {}  # a span's name and kind with their tags
        self._event_names: dict[str, bytes] = {}  # an event's name with its tag
        self._trace: tuple[int, bytes] = (0, b"")  # the last trace id and its field: a request's spans share it
        self._groups: dict[tuple[tuple[tuple[str, Any], ...], tuple[type, ...]], bytes] = {}
        self._shared: dict[tuple[int, bytes], tuple[dict[str, Any], bytes]] = {}
        self._ints: dict[tuple[str, int], bytes] = {}  # an int attribute's KeyValue, length-prefixed
        self._keys: dict[str, bytes] = {}  # an attribute's key with its tags, up to its value's length
        self._room_keys: dict[str, tuple[str, str]] = {}  # a limit kind's remaining and limit attribute names

    def encode(self, spans: Sequence[QueuedSpan]) -> bytes:
        """The `ExportTraceServiceRequest` of `spans`, written with one join: the enclosing messages'
        lengths are added up, not measured on copies (a batch is a few hundred kilobytes, and each
        concatenation of it was another copy)."""
        parts = [b"", b"", self._resource, b"", self._scope]
        size = len(self._scope)
        guardrail, server, answered = self._guardrail, self._server, self._answered
        for span in spans:
            kind = span.__class__
            if kind is GuardrailSpan:
                body = guardrail(span)  # type: ignore[arg-type]
            elif kind is ServerSpan:
                body = server(span)  # type: ignore[arg-type]
            elif kind is AnsweredSpan:
                body = answered(span)  # type: ignore[arg-type]
            else:
                body = self._span(span)  # type: ignore[arg-type]
            prefix = b"\x12" + varint(len(body))  # ScopeSpans.spans
            parts += (prefix, body)
            size += len(prefix) + len(body)
        parts[3] = b"\x12" + varint(size)  # ResourceSpans.scope_spans
        size += len(parts[3]) + len(self._resource)
        parts[0], parts[1] = b"\x0a", varint(size)  # ExportTraceServiceRequest.resource_spans
        return b"".join(parts)

    def _span(self, span: RecordedSpan) -> bytes:
        parts = [
            self._head(span.trace_id, span.span_id, span.parent_id, span.trace_state),
            self._name(span.name, span.kind),
            _TIMES(0x39, span.start_ns, 0x41, span.end_ns),
        ]
        self._group(parts, span.attributes)
        if span.end_attributes:
            self._attributes(parts, b"\x4a", span.end_attributes.items())
        if span.events:
            for event_name, time_ns, attributes in span.events:
                tagged = self._event_name(event_name)
                event = [b"\x09", _FIXED64(time_ns), tagged]
                if attributes.__class__ is SharedAttributes:
                    event.append(self._shared_encoding(attributes, b"\x1a"))
                else:
                    self._attributes(event, b"\x1a", attributes.items())
                parts += (b"\x5a", _delimited(b"".join(event)))
        if span.error is not None:
            parts += (b"\x7a", _delimited(b"\x12" + _string(span.error) + b"\x18" + _BYTES[STATUS_ERROR]))
            parts.append(_REMOTE_FLAGS if span.remote_parent else _FLAGS)
        else:
            parts.append(_UNSET_REMOTE_FLAGS if span.remote_parent else _UNSET_FLAGS)
        return b"".join(parts)

    def _head(self, trace_id: int, span_id: int, parent_id: int, state: str) -> bytes:
        """A span's trace id (reused from the previous span of the same trace), ids and trace state."""
        cached_id, trace_field = self._trace
        if trace_id != cached_id:
            trace_field = b"\x0a\x10" + trace_id.to_bytes(16, "big")
            self._trace = (trace_id, trace_field)
        if state:
            head = trace_field + _SPAN_ID(0x1208, span_id) + b"\x1a" + _string(state)
            return head + _SPAN_ID(0x2208, parent_id) if parent_id else head
        if parent_id:
            return trace_field + _SPAN_AND_PARENT(0x1208, span_id, 0x2208, parent_id)
        return trace_field + _SPAN_ID(0x1208, span_id)

    def _name(self, name: str, kind: int) -> bytes:
        """A span's name and kind with their tags."""
        key = (name, kind)
        found = self._names.get(key)
        if found is None:
            if len(self._names) >= CACHE_LIMIT:
                self._names.clear()
            found = self._names[key] = b"\x2a" + _string(name) + _KINDS[kind]
        return found

    def _server(self, span: ServerSpan) -> bytes:
        """The request's span from its record: the shape's attributes by identity, then what is new
        with the request (the same attributes, in the same order, as `ServerSpan.recorded`)."""
        trace_id, span_id, parent_id, state, start_ns, end_ns, name, shape, request_id, ttft_ms, cost, usage, limits = (
            span
        )
        parts = [
            self._head(trace_id, span_id, parent_id, state),
            self._name(name, SERVER),
            _TIMES(0x39, start_ns, 0x41, end_ns),
            self._shared_encoding(shape, b"\x4a"),
        ]
        number = self._number
        parts += (b"\x4a", self._text(g.REQUEST_ID, request_id))
        if ttft_ms is not None:
            parts += (b"\x4a", number(g.TFY_TTFT_MS, ttft_ms))
        if cost is not None:
            parts += (b"\x4a", number(g.TFY_COST, cost))
        if usage is not None:
            for key, value in usage_items(usage, tfy=False):
                parts += (b"\x4a", number(key, value))
        if limits is not None:
            parts += (b"\x5a", self._limit_event(limits))
        parts.append(_UNSET_REMOTE_FLAGS if parent_id else _UNSET_FLAGS)
        return b"".join(parts)

    def _limit_event(self, limits: LimitEvent) -> bytes:
        """The limit check's event (length-prefixed): its rules' shared encoding, then each kind's room."""
        event_ns, rules, headroom = limits
        event = [b"\x09", _FIXED64(event_ns), self._event_name(g.LIMIT_EVENT), self._shared_encoding(rules, b"\x1a")]
        keys, number = self._room_keys, self._number
        for room in headroom:
            found = keys.get(room.name)
            if found is None:
                if len(keys) >= CACHE_LIMIT:
                    keys.clear()
                found = keys[room.name] = (
                    f"tfy_gateway.limits.remaining.{room.name}",
                    f"tfy_gateway.limits.limit.{room.name}",
                )
            event += (b"\x1a", number(found[0], room.remaining), b"\x1a", number(found[1], room.limit))
        return _delimited(b"".join(event))

    def _answered(self, span: AnsweredSpan) -> bytes:
        """An answered upstream call's span from its record (as `AnsweredSpan.recorded`)."""
        trace_id, span_id, parent_id, state, start_ns, end_ns, name, start, response, status, usage, latency_ms = span
        parts = [
            self._head(trace_id, span_id, parent_id, state),
            self._name(name, CLIENT),
            _TIMES(0x39, start_ns, 0x41, end_ns),
        ]
        self._group(parts, start)
        if response:
            self._attributes(parts, b"\x4a", response)
        number = self._number
        parts += (b"\x4a", number("http.response.status_code", status))
        if usage is not None:
            for key, value in usage_items(usage):
                parts += (b"\x4a", number(key, value))
        parts += (b"\x4a", number(g.TFY_LATENCY_MS, latency_ms), _UNSET_FLAGS)
        return b"".join(parts)

    def _event_name(self, name: str) -> bytes:
        tagged = self._event_names.get(name)
        if tagged is None:
            if len(self._event_names) >= CACHE_LIMIT:
                self._event_names.clear()
            tagged = self._event_names[name] = b"\x12" + _string(name)
        return tagged

    def _guardrail(self, span: GuardrailSpan) -> bytes:
        """An `apply_guardrail` span: its ids, then its shape's template filled with its times, latency
        and event time (one struct call for everything after the ids)."""
        trace_id, span_id, parent_id, state, start_ns, end_ns, latency_ms, event_ns, shape = span
        head = self._head(trace_id, span_id, parent_id, state)
        template = shape.template
        if template is None:
            template = shape.template = self._guardrail_template(shape)
        pack, name, attributes, event, rest = template
        return head + pack(name, start_ns, 0x41, end_ns, attributes, latency_ms, event, event_ns, rest)

    def _guardrail_template(self, shape: GuardrailShape) -> GuardrailTemplate:
        """The struct and constant parts of a guardrail shape's spans: name, kind and the start time's
        tag; the attributes up to the latency's double; the event up to its time; the event's name and
        attributes with the span's unset status and flags."""
        name = b"\x2a" + _string(shape.name) + _KINDS[CLIENT] + b"\x39"
        latency = b"\x0a" + _string(g.TFY_GUARDRAIL_LATENCY_MS) + b"\x12\x09\x21"
        attributes = self._shared_encoding(shape.attributes, b"\x4a") + b"\x4a" + varint(len(latency) + 8) + latency
        event_rest = b"\x12" + _string(g.GUARDRAIL_RESULT_EVENT) + self._shared_encoding(shape.event, b"\x1a")
        event = b"\x5a" + varint(9 + len(event_rest)) + b"\x09"
        layout = f"<{len(name)}sQBQ{len(attributes)}sd{len(event)}sQ{len(event_rest) + len(_UNSET_FLAGS)}s"
        return struct.Struct(layout).pack, name, attributes, event, event_rest + _UNSET_FLAGS

    def _group(self, parts: list[bytes], attributes: dict[str, Any]) -> None:
        """A span's start attributes. A `SharedAttributes` dict (a route's, a target's: never mutated)
        is found by identity; another from the cache when the same set was encoded before (the value
        types are part of the key: 1 and 1.0 are equal but encode differently)."""
        if attributes.__class__ is SharedAttributes:
            parts.append(self._shared_encoding(attributes, b"\x4a"))
            return
        try:
            token = (tuple(attributes.items()), tuple(map(type, attributes.values())))
            encoded = self._groups.get(token)
        except TypeError:  # an unhashable value
            self._attributes(parts, b"\x4a", attributes.items())
            return
        if encoded is None:
            found: list[bytes] = []
            self._attributes(found, b"\x4a", attributes.items())
            if len(self._groups) >= CACHE_LIMIT:
                self._groups.clear()
            encoded = self._groups[token] = b"".join(found)
        parts.append(encoded)

    def _shared_encoding(self, attributes: dict[str, Any], tag: bytes) -> bytes:
        """The encoding of a shared dict's attributes under `tag`, by identity (an entry keeps its dict
        alive, so the id cannot be reused meanwhile)."""
        key = (id(attributes), tag)
        found = self._shared.get(key)
        if found is not None and found[0] is attributes:
            return found[1]
        encoded: list[bytes] = []
        self._attributes(encoded, tag, attributes.items())
        if len(self._shared) >= CACHE_LIMIT:
            self._shared.clear()
        joined = b"".join(encoded)
        self._shared[key] = (attributes, joined)
        return joined

    def _key(self, key: str) -> bytes:
        """A key's encoding with its tags, up to its value's length."""
        prefix = self._keys.get(key)
        if prefix is None:
            if len(self._keys) >= CACHE_LIMIT:
                self._keys.clear()
            prefix = self._keys[key] = b"\x0a" + _string(key) + b"\x12"
        return prefix

    def _text(self, key: str, value: str) -> bytes:
        """A string attribute new with every request (an id), as a length-prefixed `KeyValue`."""
        return _delimited(self._key(key) + _delimited(b"\x0a" + _string(value)))

    def _number(self, key: str, value: float) -> bytes:
        """A numeric attribute as a length-prefixed `KeyValue`: a float from its key's prefix, an int
        from the cache of (key, value) unless its values are new with every request (`UNCACHED`)."""
        kind = value.__class__
        if kind is float:
            prefix = self._floats.get(key)
            if prefix is None:
                if len(self._floats) >= CACHE_LIMIT:
                    self._floats.clear()
                body = b"\x0a" + _string(key) + b"\x12\x09\x21"
                prefix = self._floats[key] = varint(len(body) + 8) + body
            return prefix + _DOUBLE(value)
        if kind is not int:  # a bool or anything else: the general path
            return self._key_value(key, value) or b"\x00"
        item = (key, int(value))
        found = self._ints.get(item)
        if found is None:
            found = _delimited(self._key(key) + _delimited(b"\x18" + varint(item[1] & _INT64)))
            if key not in UNCACHED:
                if len(self._ints) >= CACHE_LIMIT:
                    self._ints.clear()
                self._ints[item] = found
        return found

    def _key_value(self, key: str, value: Any) -> bytes | None:
        """`key_value`, with the key's encoding kept (a value new with every request is encoded anew,
        its key need not be)."""
        encoded = any_value(value)
        if encoded is None:
            return None
        return _delimited(self._key(key) + _delimited(encoded))

    def _attributes(self, parts: list[bytes], tag: bytes, items: Iterable[tuple[str, Any]]) -> None:
        """Each attribute under `tag`: a float (a measurement, new every time) from its key's cached
        prefix; another from the cache when the same key had an equal value of the same type before
        (1, 1.0 and True are equal but encode differently), else encoded and cached, unless its key's
        values are new with every request (`UNCACHED`)."""
        cache, floats = self._cache, self._floats
        for item in items:
            key, value = item
            kind = value.__class__
            if kind is float:
                prefix = floats.get(key)
                if prefix is None:
                    if len(floats) >= CACHE_LIMIT:
                        floats.clear()
                    body = b"\x0a" + _string(key) + b"\x12\x09\x21"
                    prefix = floats[key] = varint(len(body) + 8) + body
                parts += (tag, prefix + _DOUBLE(value))
                continue
            try:
                hit = cache.get(item)
            except TypeError:  # an unhashable value (a list, or a tuple holding one)
                hit, kind = None, list
            if hit is not None and hit[0] is kind:
                parts += (tag, hit[1])
                continue
            encoded = self._key_value(key, value)
            if encoded is None:
                continue
            if kind is not list and key not in UNCACHED:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[item] = (kind, encoded)
            parts += (tag, encoded)
