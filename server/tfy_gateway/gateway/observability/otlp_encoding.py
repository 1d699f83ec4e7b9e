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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tfy_gateway.gateway.observability import genai as g
from tfy_gateway.gateway.observability.otlp_wire import (
    BYTES,
    DOUBLE,
    EVENT_TIME,
    FIXED64,
    FLAGS,
    INT64,
    KINDS,
    REMOTE_FLAGS,
    SPAN_AND_PARENT,
    SPAN_ID,
    STATUS_ERROR,
    TIMES,
    UNSET_FLAGS,
    UNSET_REMOTE_FLAGS,
    any_value,
    delimited,
    delimited_text,
    float_head,
    key_value,
    plain_counts,
    varint,
)
from tfy_gateway.gateway.observability.span_records import (
    AnsweredSpan,
    GuardrailShape,
    GuardrailSpan,
    GuardrailTemplate,
    LimitEvent,
    QueuedSpan,
    RequestSpans,
    ServerSpan,
    SpanRecord,
    usage_items,
)
from tfy_gateway.gateway.observability.spans import CLIENT, SERVER, RecordedSpan, SharedAttributes

if TYPE_CHECKING:
    from tfy_gateway.gateway.providers import Usage

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


# The float attributes every request's spans carry, their heads made once (not looked up each time)
TTFT_HEAD = float_head(b"\x4a", g.TFY_TTFT_MS)
COST_HEAD = float_head(b"\x4a", g.TFY_COST)
LATENCY_HEAD = float_head(b"\x4a", g.TFY_LATENCY_MS)


class SpanEncoder:
    """Encodes batches of spans of one resource and instrumentation scope; one per exporter, used by
    its export thread only (the attribute cache is not shared)."""

    def __init__(self, resource: Mapping[str, str], scope: str) -> None:
        attributes = b"".join(b"\x0a" + kv for kv in (key_value(k, v) for k, v in resource.items()) if kv)
        self._resource = b"\x0a" + delimited(attributes)  # ResourceSpans.resource
        self._scope = b"\x0a" + delimited(b"\x0a" + delimited_text(scope))  # ScopeSpans.scope
        self._cache: dict[tuple[str, Any], tuple[type, bytes]] = {}  # (key, value) -> (value's type, KeyValue)
        self._floats: dict[str, bytes] = {}  # a float attribute's KeyValue up to its 8 bytes, by key
        self._names: dict[tuple[str, int], bytes] = {}  # a span's name and kind with their tags
        self._event_names: dict[str, bytes] = {}  # an event's name with its tag
        self._trace: tuple[int, bytes] = (0, b"")  # the last trace id and its field: a request's spans share it
        self._groups: dict[tuple[tuple[tuple[str, Any], ...], tuple[type, ...]], bytes] = {}
        self._shared: dict[tuple[int, bytes], tuple[dict[str, Any], bytes]] = {}
        self._keys: dict[str, bytes] = {}  # an attribute's key with its tags, up to its value's length
        # An int attribute's field up to its varint, by (tag, key), one prefix per varint length; a float's
        # up to its 8 bytes; a string's up to its bytes, by (tag, key, length): values new with every
        # request (token counts, what is left of a limit, ids) cost a lookup and one concatenation
        self._int_heads: dict[tuple[bytes, str], tuple[bytes, ...]] = {}
        self._float_heads: dict[tuple[bytes, str], bytes] = {}
        self._text_heads: dict[tuple[bytes, str, int], bytes] = {}
        self._responses: dict[tuple[tuple[str, Any], ...], bytes] = {}  # an answer's model and finish reasons
        self._statuses: dict[int, bytes] = {}  # an upstream call's status field, by status
        self._usage_heads: dict[tuple[bool, int, int], tuple[bytes, ...]] = {}  # by tfy and the counts' lengths
        # A limit kind's heads for what is left and its encoded limit, by kind, limit and the limit's type
        self._rooms: dict[tuple[str, float, type], tuple[tuple[bytes, ...], bytes, bytes]] = {}
        self._limit_heads: dict[int, tuple[dict[str, Any], bytes]] = {}  # by the rules' shared dict's identity
        # The request's span and an answered call's span of one shape: the struct and the constant parts
        # of everything from the name to the shared attributes, by the shared dict's identity
        self._templates: dict[tuple[int, str], tuple[dict[str, Any], Callable[..., bytes], bytes, bytes]] = {}

    def encode(self, spans: Sequence[QueuedSpan]) -> bytes:
        """The `ExportTraceServiceRequest` of `spans`, written with one join: the enclosing messages'
        lengths are added up, not measured on copies (a batch is a few hundred kilobytes, and each
        concatenation of it was another copy)."""
        parts = [b"", b"", self._resource, b"", self._scope]
        size = len(self._scope)
        guardrail, server, answered = self._guardrail, self._server, self._answered
        for span in spans:
            kind = span.__class__
            if kind is RequestSpans:
                written = self._request(parts, span)  # type: ignore[arg-type]
                if not written:
                    for each in span.spans():  # type: ignore[union-attr]
                        written += self._one(parts, each)
                size += written
                continue
            if kind is GuardrailSpan:
                body = guardrail(span)  # type: ignore[arg-type]
            elif kind is ServerSpan:
                body = server(span)  # type: ignore[arg-type]
            elif kind is AnsweredSpan:
                body = answered(span)  # type: ignore[arg-type]
            else:
                body = self._span(span)  # type: ignore[arg-type]
            length = len(body)  # ScopeSpans.spans, with a span's usual length's varint inline
            prefix = (
                bytes((0x12, (length & 0x7F) | 0x80, length >> 7))
                if 0x80 <= length < 0x4000
                else b"\x12" + varint(length)
            )
            parts += (prefix, body)
            size += len(prefix) + length
        parts[3] = b"\x12" + varint(size)  # ResourceSpans.scope_spans
        size += len(parts[3]) + len(self._resource)
        parts[0], parts[1] = b"\x0a", varint(size)  # ExportTraceServiceRequest.resource_spans
        return b"".join(parts)

    def _request(self, parts: list[bytes], record: RequestSpans) -> int:
        """Write every span of `record` into `parts` (each with its `ScopeSpans.spans` tag and length) and
        return how many bytes that was; 0: nothing written, the caller writes its spans one by one (here
        always: `otlp_requests.RequestEncoder` writes them from one template per request shape)."""
        return 0

    def _one(self, parts: list[bytes], span: SpanRecord) -> int:
        """Write one span, with its tag and length, into `parts`; return how many bytes that was."""
        kind = span.__class__
        if kind is GuardrailSpan:
            body = self._guardrail(span)  # type: ignore[arg-type]
        elif kind is ServerSpan:
            body = self._server(span)  # type: ignore[arg-type]
        elif kind is AnsweredSpan:
            body = self._answered(span)  # type: ignore[arg-type]
        else:
            body = self._span(span)  # type: ignore[arg-type]
        prefix = b"\x12" + varint(len(body))
        parts += (prefix, body)
        return len(prefix) + len(body)

    def _span(self, span: RecordedSpan) -> bytes:
        parts = [
            self._head(span.trace_id, span.span_id, span.parent_id, span.trace_state),
            self._name(span.name, span.kind),
            TIMES(0x39, span.start_ns, 0x41, span.end_ns),
        ]
        self._group(parts, span.attributes)
        if span.end_attributes:
            self._attributes(parts, b"\x4a", span.end_attributes.items())
        if span.events:
            for event_name, time_ns, attributes in span.events:
                tagged = self._event_name(event_name)
                event = [b"\x09", FIXED64(time_ns), tagged]
                if attributes.__class__ is SharedAttributes:
                    event.append(self._shared_encoding(attributes, b"\x1a"))
                else:
                    self._attributes(event, b"\x1a", attributes.items())
                parts += (b"\x5a", delimited(b"".join(event)))
        if span.error is not None:
            parts += (b"\x7a", delimited(b"\x12" + delimited_text(span.error) + b"\x18" + BYTES[STATUS_ERROR]))
            parts.append(REMOTE_FLAGS if span.remote_parent else FLAGS)
        else:
            parts.append(UNSET_REMOTE_FLAGS if span.remote_parent else UNSET_FLAGS)
        return b"".join(parts)

    def _head(self, trace_id: int, span_id: int, parent_id: int, state: str) -> bytes:
        """A span's trace id (reused from the previous span of the same trace), ids and trace state."""
        cached_id, trace_field = self._trace
        if trace_id != cached_id:
            trace_field = b"\x0a\x10" + trace_id.to_bytes(16, "big")
            self._trace = (trace_id, trace_field)
        if state:
            head = trace_field + SPAN_ID(0x1208, span_id) + b"\x1a" + delimited_text(state)
            return head + SPAN_ID(0x2208, parent_id) if parent_id else head
        if parent_id:
            return trace_field + SPAN_AND_PARENT(0x1208, span_id, 0x2208, parent_id)
        return trace_field + SPAN_ID(0x1208, span_id)

    def _name(self, name: str, kind: int) -> bytes:
        """A span's name and kind with their tags."""
        key = (name, kind)
        found = self._names.get(key)
        if found is None:
            if len(self._names) >= CACHE_LIMIT:
                self._names.clear()
            found = self._names[key] = b"\x2a" + delimited_text(name) + KINDS[kind]
        return found

    def _server(self, span: ServerSpan) -> bytes:
        """The request's span from its record: the shape's attributes by identity, then what is new
        with the request (the same attributes, in the same order, as `ServerSpan.recorded`)."""
        trace_id, span_id, parent_id, state, start_ns, end_ns, name, shape, request_id, ttft_ms, cost, usage, limits = (
            span
        )
        found = self._templates.get((id(shape), name))
        if found is None or found[0] is not shape:
            found = self._template(shape, name, SERVER)
        _, pack, named, shared = found
        number = self._number_field
        cached_id, trace_field = self._trace
        if trace_id == cached_id and not parent_id and not state:  # after the request's other spans, a root
            head = trace_field + SPAN_ID(0x1208, span_id)
        else:
            head = self._head(trace_id, span_id, parent_id, state)
        parts = [head, pack(named, start_ns, 0x41, end_ns, shared), self._text_field(b"\x4a", g.REQUEST_ID, request_id)]
        if ttft_ms is not None:
            parts.append(
                TTFT_HEAD + DOUBLE(ttft_ms) if ttft_ms.__class__ is float else number(b"\x4a", g.TFY_TTFT_MS, ttft_ms)
            )
        if cost is not None:
            parts.append(COST_HEAD + DOUBLE(cost) if cost.__class__ is float else number(b"\x4a", g.TFY_COST, cost))
        if usage is not None:
            self._usage(parts, usage, False)
        if limits is not None:
            parts.append(self._limit_event(limits))
        parts.append(UNSET_REMOTE_FLAGS if parent_id else UNSET_FLAGS)
        return b"".join(parts)

    def _template(self, shared: dict[str, Any], name: str, kind: int) -> tuple[Any, Callable[..., bytes], bytes, bytes]:
        """A span shape's struct and constant parts: name, kind and the start time's tag; then, after the
        times, the shared attributes (the dict is kept, so its id is not reused while the entry lives)."""
        named = self._name(name, kind) + b"\x39"
        encoded = self._shared_encoding(shared, b"\x4a")
        pack = struct.Struct(f"<{len(named)}sQBQ{len(encoded)}s").pack
        if len(self._templates) >= CACHE_LIMIT:
            self._templates.clear()
        found = self._templates[(id(shared), name)] = (shared, pack, named, encoded)
        return found

    def _usage(self, parts: list[bytes], usage: Usage, tfy: bool) -> None:
        """The usage attributes (`usage_items`), the usual two or four counts without a list of pairs."""
        counts = plain_counts(usage)
        if counts is None:
            for key, value in usage_items(usage, tfy=tfy):
                parts.append(self._number_field(b"\x4a", key, value))
            return
        sent, received = counts
        lengths = (tfy, len(sent), len(received))
        heads = self._usage_heads.get(lengths)
        if heads is None:  # each count's field up to its varint, for these lengths
            names = (g.INPUT_TOKENS, g.OUTPUT_TOKENS) + ((g.TFY_INPUT_TOKENS, g.TFY_OUTPUT_TOKENS) if tfy else ())
            sizes = (len(sent), len(received)) * 2
            made = tuple(self._int_head(name, size) for name, size in zip(names, sizes, strict=False))
            heads = self._bounded(self._usage_heads)[lengths] = made
        if tfy:
            parts += (heads[0], sent, heads[1], received, heads[2], sent, heads[3], received)
        else:
            parts += (heads[0], sent, heads[1], received)

    def _int_head(self, key: str, size: int) -> bytes:
        """An int attribute's field (tag 0x4a) up to its varint of `size` bytes."""
        self._number_field(b"\x4a", key, 0)  # fills the key's heads
        return self._int_heads[(b"\x4a", key)][size]

    def _limit_event(self, limits: LimitEvent) -> bytes:
        """The limit check's event with its tag: its name and rules' shared encoding (one piece, by the
        rules' identity), then each kind's room: what is left from its key's heads, the limit as kept."""
        event_ns, rules, headroom = limits
        found = self._limit_heads.get(id(rules))
        if found is None or found[0] is not rules:
            head = self._event_name(g.LIMIT_EVENT) + self._shared_encoding(rules, b"\x1a")
            found = self._bounded(self._limit_heads)[id(rules)] = (rules, head)
        event = [EVENT_TIME(0x09, event_ns), found[1]]
        rooms = self._rooms
        remaining: Any  # an int (tokens, requests) or a float (cost)
        for name, limit, remaining, _ in headroom:
            room = rooms.get((name, limit, limit.__class__))  # a rule's limit: the same request after request
            if room is None:
                room = self._room(name, limit)
            kind = remaining.__class__
            if kind is int:
                number = varint(remaining & INT64)
                event += (room[0][len(number)], number, room[2])
            elif kind is float:
                event += (room[1], DOUBLE(remaining), room[2])
            else:
                event += (self._number_field(b"\x1a", f"tfy_gateway.limits.remaining.{name}", remaining), room[2])
        body = b"".join(event)
        return b"\x5a" + varint(len(body)) + body

    def _room(self, name: str, limit: Any) -> tuple[tuple[bytes, ...], bytes, bytes]:
        """A limit kind's heads for what is left (an int's by varint length, a float's) and its encoded limit."""
        remaining = f"tfy_gateway.limits.remaining.{name}"
        limit_field = self._number_field(b"\x1a", f"tfy_gateway.limits.limit.{name}", limit)
        self._number_field(b"\x1a", remaining, 0)  # fills the key's heads
        self._number_field(b"\x1a", remaining, 0.0)
        room = (self._int_heads[(b"\x1a", remaining)], self._float_heads[(b"\x1a", remaining)], limit_field)
        self._bounded(self._rooms)[(name, limit, limit.__class__)] = room
        return room

    def _answered(self, span: AnsweredSpan) -> bytes:
        """An answered upstream call's span from its record (as `AnsweredSpan.recorded`)."""
        trace_id, span_id, parent_id, state, start_ns, end_ns, name, start, response, status, usage, latency_ms = span
        parts = [self._head(trace_id, span_id, parent_id, state)]
        if start.__class__ is SharedAttributes:  # a route and target's: the shape's template
            found = self._templates.get((id(start), name))
            if found is None or found[0] is not start:
                found = self._template(start, name, CLIENT)
            _, pack, named, shared = found
            parts.append(pack(named, start_ns, 0x41, end_ns, shared))
        else:  # with the request's own parameters
            parts += (self._name(name, CLIENT), TIMES(0x39, start_ns, 0x41, end_ns))
            self._group(parts, start)
        if response:
            self._response(parts, response)
        status_field = self._statuses.get(status)
        if status_field is None or status.__class__ is not int:  # bool is an int, and 1 == True
            status_field = self._number_field(b"\x4a", "http.response.status_code", status)
            if status.__class__ is int:
                self._bounded(self._statuses)[status] = status_field
        parts.append(status_field)
        if usage is not None:
            self._usage(parts, usage, True)
        if latency_ms.__class__ is float:
            parts += (LATENCY_HEAD, DOUBLE(latency_ms), UNSET_FLAGS)
        else:
            parts += (self._number_field(b"\x4a", g.TFY_LATENCY_MS, latency_ms), UNSET_FLAGS)
        return b"".join(parts)

    def _response(self, parts: list[bytes], response: list[tuple[str, Any]]) -> None:
        """An answer's `gen_ai.response.*` attributes: its id (new every time), then the model and finish
        reasons, which repeat, encoded together once (`genai.response_attributes` writes str values)."""
        rest = response
        if response[0][0] == g.RESPONSE_ID:
            parts.append(self._text_field(b"\x4a", g.RESPONSE_ID, response[0][1]))
            rest = response[1:]
        if not rest:
            return
        try:
            key = tuple(rest)
            found = self._responses.get(key)
        except TypeError:  # an unhashable value
            self._attributes(parts, b"\x4a", rest)
            return
        if found is None:
            made: list[bytes] = []
            self._attributes(made, b"\x4a", rest)
            found = self._bounded(self._responses)[key] = b"".join(made)
        parts.append(found)

    def _event_name(self, name: str) -> bytes:
        tagged = self._event_names.get(name)
        if tagged is None:
            if len(self._event_names) >= CACHE_LIMIT:
                self._event_names.clear()
            tagged = self._event_names[name] = b"\x12" + delimited_text(name)
        return tagged

    def _guardrail(self, span: GuardrailSpan) -> bytes:
        """An `apply_guardrail` span: its ids, then its shape's template filled with its times, latency
        and event time (one struct call for everything after the ids)."""
        trace_id, span_id, parent_id, state, start_ns, end_ns, latency_ms, event_ns, shape = span
        cached_id, trace_field = self._trace
        if trace_id == cached_id and not state:  # after the request's call span: its trace id's field is kept
            head = trace_field + SPAN_AND_PARENT(0x1208, span_id, 0x2208, parent_id)
        else:
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
        name = b"\x2a" + delimited_text(shape.name) + KINDS[CLIENT] + b"\x39"
        latency = b"\x0a" + delimited_text(g.TFY_GUARDRAIL_LATENCY_MS) + b"\x12\x09\x21"
        attributes = self._shared_encoding(shape.attributes, b"\x4a") + b"\x4a" + varint(len(latency) + 8) + latency
        event_rest = b"\x12" + delimited_text(g.GUARDRAIL_RESULT_EVENT) + self._shared_encoding(shape.event, b"\x1a")
        event = b"\x5a" + varint(9 + len(event_rest)) + b"\x09"
        layout = f"<{len(name)}sQBQ{len(attributes)}sd{len(event)}sQ{len(event_rest) + len(UNSET_FLAGS)}s"
        return struct.Struct(layout).pack, name, attributes, event, event_rest + UNSET_FLAGS

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
            prefix = self._keys[key] = b"\x0a" + delimited_text(key) + b"\x12"
        return prefix

    def _text_field(self, tag: bytes, key: str, value: str) -> bytes:
        """A string attribute new with every request (an id) under `tag`: the head for its key and
        length, then its bytes."""
        data = value.encode("utf-8", "replace")
        size = len(data)
        head = self._text_heads.get((tag, key, size))
        if head is None:
            value_head = b"\x0a" + varint(size)  # AnyValue.string_value
            pair_head = self._key(key) + varint(len(value_head) + size) + value_head
            head = tag + varint(len(pair_head) + size) + pair_head
            if len(self._text_heads) >= CACHE_LIMIT:
                self._text_heads.clear()
            self._text_heads[(tag, key, size)] = head
        return head + data

    def _number_field(self, tag: bytes, key: str, value: Any) -> bytes:
        """A numeric attribute under `tag`: its key's head for a float (8 bytes) or for the length of an
        int's varint, then the value; a bool or anything else takes the general path."""
        kind = value.__class__
        if kind is float:
            head = self._float_heads.get((tag, key))
            if head is None:
                head = self._bounded(self._float_heads)[(tag, key)] = float_head(tag, key)
            return head + DOUBLE(value)
        if kind is not int:
            encoded = self._key_value(key, value)
            return tag + encoded if encoded is not None else b""
        number = varint(value & INT64)
        heads = self._int_heads.get((tag, key))
        if heads is None:
            pair = self._key(key)
            made = [b""]  # by the varint's length (1 to 10 bytes): AnyValue.int_value's tag and length
            for size in range(1, 11):
                made.append(tag + varint(len(pair) + 2 + size) + pair + BYTES[1 + size] + b"\x18")
            heads = self._bounded(self._int_heads)[(tag, key)] = tuple(made)
        return heads[len(number)] + number

    @staticmethod
    def _bounded(cache: dict[Any, Any]) -> dict[Any, Any]:
        """`cache`, emptied first when full."""
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        return cache

    def _key_value(self, key: str, value: Any) -> bytes | None:
        """`key_value`, with the key's encoding kept (a value new with every request is encoded anew,
        its key need not be)."""
        encoded = any_value(value)
        if encoded is None:
            return None
        return delimited(self._key(key) + delimited(encoded))

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
                    body = b"\x0a" + delimited_text(key) + b"\x12\x09\x21"
                    prefix = floats[key] = varint(len(body) + 8) + body
                parts += (tag, prefix + DOUBLE(value))
                continue
            try:
                hit = cache.get(item)
            except TypeError:  # an unhashable value (a list, or a tuple holding one)
                hit, kind = None, list
            if hit is not None and hit[0] is kind:
                parts += (tag, hit[1])
                continue
            if kind is str and key in UNCACHED:  # an id: new with every request
                parts.append(self._text_field(tag, key, value))
                continue
            encoded = self._key_value(key, value)
            if encoded is None:
                continue
            if kind is not list and key not in UNCACHED:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[item] = (kind, encoded)
            parts += (tag, encoded)
