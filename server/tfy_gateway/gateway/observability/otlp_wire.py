"""The protobuf wire format of OTLP spans: varints, length-delimited fields, `AnyValue`/`KeyValue`
messages and the fixed-width fields a span's ids, times and flags take (opentelemetry/proto/trace/v1/
trace.proto, common.proto). Shared by the span encoders (`otlp_encoding`, `otlp_requests`).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfy_gateway.gateway.providers import Usage

BYTES = tuple(bytes((n,)) for n in range(128))
DOUBLE = struct.Struct("<d").pack
FIXED64 = struct.Struct("<Q").pack
FIXED32 = struct.Struct("<I").pack
INT64 = (1 << 64) - 1

TIMES = struct.Struct("<BQBQ").pack  # Span.start_time_unix_nano and end_time_unix_nano, with their tags
EVENT_TIME = struct.Struct("<BQ").pack  # Event.time_unix_nano with its tag
SPAN_ID = struct.Struct(">HQ").pack  # Span.span_id with its tag and length (ids are big-endian bytes)
SPAN_AND_PARENT = struct.Struct(">HQHQ").pack  # Span.span_id and parent_span_id, likewise

SEQUENCES = (tuple, list)  # tuples, not `X | Y` unions: those are built anew at every call

HAS_IS_REMOTE = 0x100  # SpanFlags: the SDK always says whether the parent was remote
IS_REMOTE = 0x200
STATUS_ERROR = 2
KINDS = tuple(b"\x30" + BYTES[kind] for kind in range(6))  # Span.kind with its tag
UNSET = b"\x7a\x00"  # an unset status, written as the SDK writes it
FLAGS = b"\x85\x01" + FIXED32(HAS_IS_REMOTE)
REMOTE_FLAGS = b"\x85\x01" + FIXED32(HAS_IS_REMOTE | IS_REMOTE)
UNSET_FLAGS, UNSET_REMOTE_FLAGS = UNSET + FLAGS, UNSET + REMOTE_FLAGS  # a span's usual last fields


def varint(n: int) -> bytes:
    if n < 0x80:
        return BYTES[n]
    if n < 0x4000:  # a span's length, most often
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n < 0x800000000:  # token counts, what is left of a limit: unrolled, no loop
        if n < 0x200000:
            return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, n >> 14))
        if n < 0x10000000:
            return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, ((n >> 14) & 0x7F) | 0x80, n >> 21))
        return bytes(
            ((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, ((n >> 14) & 0x7F) | 0x80, ((n >> 21) & 0x7F) | 0x80, n >> 28)
        )
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def plain_counts(usage: Usage) -> tuple[bytes, bytes] | None:
    """The prompt and completion token counts as varints when they are all the usage says (no cache or
    reasoning counts, non-negative ints: two or four fields from heads kept by length); None otherwise."""
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    if (
        usage.cached_tokens
        or usage.cache_write_tokens
        or usage.reasoning_tokens
        or prompt.__class__ is not int
        or completion.__class__ is not int
        or prompt < 0
        or completion < 0
    ):
        return None
    return varint(prompt), varint(completion)


def delimited(payload: bytes) -> bytes:
    """A length-delimited field's length prefix and payload (the caller writes the tag)."""
    size = len(payload)
    return (BYTES[size] if size < 0x80 else varint(size)) + payload


def delimited_text(text: str) -> bytes:
    return delimited(text.encode("utf-8", "replace"))


def any_value(value: Any) -> bytes | None:
    """An `AnyValue` message, or None for a value an attribute cannot hold (left out, as the SDK does)."""
    if isinstance(value, str):
        return b"\x0a" + delimited_text(value)
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + varint(value & INT64)
    if isinstance(value, float):
        return b"\x21" + DOUBLE(value)
    if isinstance(value, SEQUENCES):
        items = []
        for item in value:
            encoded = any_value(item)
            if encoded is not None:
                items.append(b"\x0a" + delimited(encoded))
        return b"\x2a" + delimited(b"".join(items))
    return None


def key_value(key: str, value: Any) -> bytes | None:
    """A `KeyValue` message, length-prefixed (the caller writes the tag of the field holding it)."""
    encoded = any_value(value)
    if encoded is None:
        return None
    return delimited(b"\x0a" + delimited_text(key) + b"\x12" + delimited(encoded))


def float_head(tag: bytes, key: str) -> bytes:
    """A float attribute's field under `tag` up to its 8 bytes (AnyValue.double_value's tag included)."""
    body = b"\x0a" + delimited_text(key) + b"\x12\x09\x21"
    return tag + varint(len(body) + 8) + body
