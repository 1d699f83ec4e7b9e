"""OTLP protobuf of a whole request's spans (`RequestSpans`) from one template per request shape.

A request that went well ends with the same spans as the request before it of the same shape (route,
caller, rules, target, answer model, guardrail results...): the same names, attributes and events,
but for a few values new with every request: ids, times, durations, token counts, the request and
response ids, what is left of each limit. `RequestEncoder` keeps, per shape and per length of those
values, one struct per span holding everything constant between them, so a span is one `pack` call
and its length (hence every length prefix) is known before it is written. `SpanEncoder`, its base,
writes the same spans one by one: the reference the tests compare with, and the path of every
request whose spans this does not cover (trace state, usage details, values of unusual types).

A template's key holds the ids of the shared attribute dicts it was built from, and the template
holds the dicts themselves: while it is kept, no other object can have those ids, so a key found is
the same dicts. Keys and templates live in the export thread only.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tfy_gateway.gateway.observability import genai as g
from tfy_gateway.gateway.observability.otlp_encoding import (
    CACHE_LIMIT,
    COST_HEAD,
    LATENCY_HEAD,
    TTFT_HEAD,
    SpanEncoder,
)
from tfy_gateway.gateway.observability.otlp_wire import (
    DOUBLE,
    FIXED64,
    INT64,
    SPAN_AND_PARENT,
    SPAN_ID,
    UNSET_FLAGS,
    UNSET_REMOTE_FLAGS,
    plain_counts,
    varint,
)
from tfy_gateway.gateway.observability.span_records import RequestSpans
from tfy_gateway.gateway.observability.spans import CLIENT, SERVER, SharedAttributes

if TYPE_CHECKING:
    from tfy_gateway.gateway.providers import Usage

Pack = Callable[..., bytes]
_NO_COUNTS = (b"", b"")  # a span without usage: its count fields are empty


class RequestTemplate:
    """The structs and constant parts of one request shape's spans: `call`, the answered call's (pack,
    c0 .. c8); `guardrails`, each guardrail span's (pack, c0, name, attributes, event, rest); `server`,
    the request span's (pack, c0 .. c6) up to its limit event; `event`, that event's head up to its
    time, its constant part after it and each limit kind's (head for what is left, limit); `flags`,
    the request span's last fields; `size`, every byte written; `shared`, the dicts whose ids are in
    its key (kept alive with it)."""

    __slots__ = ("call", "event", "flags", "guardrails", "server", "shared", "size")

    def __init__(self) -> None:
        self.call: tuple[Any, ...] = ()
        self.guardrails: list[tuple[Any, ...]] = []
        self.server: tuple[Any, ...] = ()
        self.event: tuple[bytes, bytes, list[tuple[bytes, bytes]]] | None = None
        self.flags = b""
        self.shared: tuple[object, ...] = ()
        self.size = 0


def _span_struct(codes: str, after: int = 0) -> tuple[Pack, bytes, int]:
    """A span's struct from the codes of everything after its length prefix (little-endian, no padding),
    `after` bytes of the span written after it: the pack, the prefix (`ScopeSpans.spans`' tag and the
    span's length) and the bytes a span takes."""
    body = struct.calcsize("<" + codes) + after
    prefix = b"\x12" + varint(body)
    return struct.Struct(f"<{len(prefix)}s{codes}").pack, prefix, len(prefix) + body


def _head(field: bytes, value: bytes) -> bytes:
    """`field` without its trailing `value`."""
    return field[: len(field) - len(value)]


class RequestEncoder(SpanEncoder):
    """`SpanEncoder` writing each `RequestSpans` from its shape's template (see the module docstring)."""

    def __init__(self, resource: dict[str, str], scope: str) -> None:
        super().__init__(resource, scope)
        self._requests: dict[tuple[Any, ...], RequestTemplate] = {}

    def _request(self, parts: list[bytes], record: RequestSpans) -> int:
        call, guardrails, server = record
        trace_id, span_id, parent_id, state, start_ns, end_ns, name, shape, request_id, ttft_ms, cost, usage, limits = (
            server
        )
        _, call_id, _, _, call_start, call_end, call_name, start, response, status, call_usage, latency_ms = call
        if (
            state
            or shape.__class__ is not SharedAttributes
            or start.__class__ is not SharedAttributes
            or (limits is not None and limits[1].__class__ is not SharedAttributes)
            or latency_ms.__class__ is not float
            or status.__class__ is not int
            or (ttft_ms is not None and ttft_ms.__class__ is not float)
            or (cost is not None and cost.__class__ is not float)
        ):
            return 0
        counts = _NO_COUNTS if usage is None else plain_counts(usage)
        call_counts = counts if call_usage is usage else _NO_COUNTS if call_usage is None else plain_counts(call_usage)
        if counts is None or call_counts is None:
            return 0
        sent, received = counts
        call_sent, call_received = call_counts
        rid = request_id.encode("utf-8", "replace")
        response_id = b""
        rest = response
        if response and response[0][0] == g.RESPONSE_ID:
            response_id = response[0][1].encode("utf-8", "replace")
            rest = response[1:]
        rooms: list[bytes] = []  # what is left of each kind of limit, as written
        kinds: list[tuple[Any, ...]] = []  # and what decides its parts: kind, limit, types, length
        if limits is not None:
            for room_name, limit, remaining, _ in limits[2]:
                kind = remaining.__class__
                if kind is int:
                    value = varint(remaining & INT64)
                elif kind is float:
                    value = DOUBLE(remaining)
                else:
                    return 0
                rooms.append(value)
                kinds.append((room_name, limit, limit.__class__, kind, len(value)))
        shapes = [guardrail[8] for guardrail in guardrails]
        key = (
            id(shape),
            name,
            parent_id != 0,
            len(rid),
            ttft_ms is None,
            cost is None,
            usage is None,
            len(sent),
            len(received),
            id(start),
            call_name,
            status,
            rest is response,
            len(response_id),
            tuple(rest),
            call_usage is None,
            len(call_sent),
            len(call_received),
            id(limits[1]) if limits is not None else 0,
            tuple(kinds),
            tuple(shapes),
        )
        try:
            template = self._requests.get(key)
        except TypeError:  # a value that is no key: the general path
            return 0
        if template is None:
            template = self._request_template(key, record, rid, response_id, counts, call_counts, rooms)
        trace_field = b"\x0a\x10" + trace_id.to_bytes(16, "big")
        c = template.call
        parts.append(
            c[0](
                c[1],
                trace_field,
                SPAN_AND_PARENT(0x1208, call_id, 0x2208, span_id),
                c[2],
                call_start,
                0x41,
                call_end,
                c[3],
                response_id,
                c[4],
                call_sent,
                c[5],
                call_received,
                c[6],
                call_sent,
                c[7],
                call_received,
                c[8],
                latency_ms,
                c[9],
            )
        )
        for guardrail, t in zip(guardrails, template.guardrails):  # noqa: B905 (one each: the key holds their shapes)
            parts.append(
                t[0](
                    t[1],
                    trace_field,
                    SPAN_AND_PARENT(0x1208, guardrail[1], 0x2208, span_id),
                    t[2],
                    guardrail[4],
                    0x41,
                    guardrail[5],
                    t[3],
                    guardrail[6],
                    t[4],
                    guardrail[7],
                    t[5],
                )
            )
        ids = SPAN_AND_PARENT(0x1208, span_id, 0x2208, parent_id) if parent_id else SPAN_ID(0x1208, span_id)
        c = template.server
        parts.append(
            c[0](
                c[1],
                trace_field,
                ids,
                c[2],
                start_ns,
                0x41,
                end_ns,
                c[3],
                rid,
                c[4],
                DOUBLE(ttft_ms) if ttft_ms is not None else b"",
                c[5],
                DOUBLE(cost) if cost is not None else b"",
                c[6],
                sent,
                c[7],
                received,
            )
        )
        event = template.event
        if event is not None:
            parts += (event[0], FIXED64(limits[0]), event[1])
            for (head, limit_field), value in zip(event[2], rooms):  # noqa: B905 (one each: the key holds the kinds)
                parts += (head, value, limit_field)
        parts.append(template.flags)
        return template.size

    def _request_template(
        self,
        key: tuple[Any, ...],
        record: RequestSpans,
        rid: bytes,
        response_id: bytes,
        counts: tuple[bytes, bytes],
        call_counts: tuple[bytes, bytes],
        rooms: list[bytes],
    ) -> RequestTemplate:
        """The template of `record`'s shape, its constant parts taken from what the general path writes."""
        call, guardrails, server = record
        shape, usage, limits = server[7], server[11], server[12]
        start, response, status, call_usage = call[7], call[8], call[9], call[10]
        template = RequestTemplate()
        template.shared = (shape, start, limits[1] if limits is not None else None)
        size = 0
        # The answered call: name and kind, times, shared attributes, the answer's id, model and finish
        # reasons, status, usage (the conventions' and the platform's counts), latency
        named = self._name(call[6], CLIENT) + b"\x39"
        shared = self._shared_encoding(start, b"\x4a")
        rest = response
        if response_id:
            shared += _head(self._text_field(b"\x4a", g.RESPONSE_ID, response[0][1]), response_id)
            rest = response[1:]
        answer: list[bytes] = []
        self._attributes(answer, b"\x4a", rest)
        answer.append(self._number_field(b"\x4a", "http.response.status_code", status))
        heads = self._count_heads(call_usage, True)
        sent, received = call_counts
        pack, prefix, written = _span_struct(
            f"18s20s{len(named)}sQBQ{len(shared)}s{len(response_id)}s{len(b''.join(answer)) + len(heads[0])}s"
            f"{len(sent)}s{len(heads[1])}s{len(received)}s{len(heads[2])}s{len(sent)}s{len(heads[3])}s"
            f"{len(received)}s{len(LATENCY_HEAD)}sd{len(UNSET_FLAGS)}s"
        )
        template.call = (
            pack,
            prefix,
            named,
            shared,
            b"".join(answer) + heads[0],
            *heads[1:],
            LATENCY_HEAD,
            UNSET_FLAGS,
        )
        size += written
        # Each guardrail run: its shape's parts around ids, times, latency and the result event's time
        for guardrail in guardrails:
            guardrail_shape = guardrail[8]
            made = guardrail_shape.template
            if made is None:
                made = guardrail_shape.template = self._guardrail_template(guardrail_shape)
            _, name, attributes, event, after = made
            pack, prefix, written = _span_struct(f"18s20s{len(name)}sQBQ{len(attributes)}sd{len(event)}sQ{len(after)}s")
            template.guardrails.append((pack, prefix, name, attributes, event, after))
            size += written
        # The request's span: name and kind, times, the shape's attributes, its id, time to first token,
        # cost, usage (the conventions' counts only), then the limit event and its flags
        named = self._name(server[6], SERVER) + b"\x39"
        shared = self._shared_encoding(shape, b"\x4a") + _head(self._text_field(b"\x4a", g.REQUEST_ID, server[8]), rid)
        ttft_head = TTFT_HEAD if server[9] is not None else b""
        cost_head = COST_HEAD if server[10] is not None else b""
        heads = self._count_heads(usage, False)
        sent, received = counts
        event_size = 0
        if limits is not None:
            rules = self._event_name(g.LIMIT_EVENT) + self._shared_encoding(limits[1], b"\x1a")
            room_parts = []
            body = 9 + len(rules)
            for (room_name, limit, remaining, _), value in zip(limits[2], rooms, strict=True):
                room = self._rooms.get((room_name, limit, limit.__class__)) or self._room(room_name, limit)
                head = room[1] if remaining.__class__ is float else room[0][len(value)]
                room_parts.append((head, room[2]))
                body += len(head) + len(value) + len(room[2])
            template.event = (b"\x5a" + varint(body) + b"\x09", rules, room_parts)
            event_size = 1 + len(varint(body)) + body  # the event's tag, length and body
        ids = 20 if server[2] else 10
        template.flags = UNSET_REMOTE_FLAGS if server[2] else UNSET_FLAGS
        pack, prefix, written = _span_struct(
            f"18s{ids}s{len(named)}sQBQ{len(shared)}s{len(rid)}s{len(ttft_head)}s{8 if ttft_head else 0}s"
            f"{len(cost_head)}s{8 if cost_head else 0}s{len(heads[0])}s{len(sent)}s{len(heads[1])}s{len(received)}s",
            event_size + len(template.flags),
        )
        template.server = (pack, prefix, named, shared, ttft_head, cost_head, heads[0], heads[1])
        template.size = size + written
        if len(self._requests) >= CACHE_LIMIT:
            self._requests.clear()
        self._requests[key] = template
        return template

    def _count_heads(self, usage: Usage | None, tfy: bool) -> tuple[bytes, ...]:
        """The usage fields' heads around its counts (as `SpanEncoder._usage` writes them), or empty ones."""
        if usage is None:
            return (b"", b"", b"", b"")
        written: list[bytes] = []
        self._usage(written, usage, tfy)
        heads = written[0::2]
        return (*heads, b"", b"")[:4]
