"""AWS event-stream framing (`application/vnd.amazon.eventstream`), decoded incrementally.

Bedrock's ConverseStream answers with binary frames rather than SSE. A frame is: a prelude (total
length and headers length, big-endian uint32 each) with its own CRC32, typed headers, a payload and
a CRC32 of the whole frame. Bytes arrive in arbitrary pieces, so `EventStreamDecoder` keeps the
partial frame and hands out only whole, checksum-verified messages. Pure apart from
`EventStreamEvents`, which reads an `HttpStream` and yields `(event name, payload)` like the SSE reader
does, so `UpstreamStream` treats both framings alike.

Written here rather than taken from botocore so that bearer (api-key) auth needs no AWS library;
botocore's own decoder is the test peer for the fake provider's frames.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import orjson

from tfy_gateway.gateway.providers.transport import HttpStream, TransportError

HeaderValue = bool | int | bytes | str | uuid.UUID
PRELUDE = 12  # total length, headers length, prelude CRC
MAX_MESSAGE = 16 * 1024 * 1024  # the format's limits (AWS caps a frame at 16 MiB, headers at 128 KiB)
MAX_HEADERS = 128 * 1024
_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


class EventStreamError(TransportError):
    """A frame that breaks the format (bad checksum or lengths): the bytes cannot be trusted, so the
    stream is treated like a broken connection (502, or a cut stream once the answer has begun)."""


@dataclass(frozen=True)
class Message:
    """One decoded frame."""

    headers: Mapping[str, HeaderValue]
    payload: bytes

    def text(self, name: str) -> str:
        value = self.headers.get(name)
        return value if isinstance(value, str) else ""


def _headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0
    try:
        while pos < len(raw):
            size = raw[pos]
            name = raw[pos + 1 : pos + 1 + size].decode("utf-8")
            pos += 1 + size
            kind = raw[pos]
            pos += 1
            value: HeaderValue
            if kind in (0, 1):
                value = kind == 0
            elif kind in _FIXED:
                fmt = _FIXED[kind]
                (value,) = struct.unpack_from(fmt, raw, pos)
                pos += struct.calcsize(fmt)
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", raw, pos)
                data = raw[pos + 2 : pos + 2 + length]
                if len(data) != length:
                    raise EventStreamError("an event-stream header value runs past its frame")
                value = data.decode("utf-8") if kind == 7 else bytes(data)
                pos += 2 + length
            elif kind == 9:
                value = uuid.UUID(bytes=bytes(raw[pos : pos + 16]))
                pos += 16
            else:
                raise EventStreamError(f"unknown event-stream header type {kind}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, EventStreamError):
            raise
        raise EventStreamError(f"malformed event-stream headers ({exc})") from None
    return headers


class EventStreamDecoder:
    """Bytes in (any split), whole verified messages out."""

    _CACHED_HEADER_BLOCKS = 64

    def __init__(self) -> None:
        self._buffer = bytearray()
        # A stream repeats a handful of header blocks (event type, content type, message type) byte
        # for byte: parsing each once takes most of the decoding cost off every later frame.
        self._parsed: dict[bytes, Mapping[str, HeaderValue]] = {}

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held back (non-zero at the end of a body: it was cut)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        buffer = self._buffer
        messages = []
        pos = 0
        while len(buffer) - pos >= PRELUDE:
            total, headers_length, prelude_crc = struct.unpack_from(">III", buffer, pos)
            if zlib.crc32(buffer[pos : pos + 8]) != prelude_crc:
                raise EventStreamError("event-stream prelude checksum mismatch")
            if total < PRELUDE + headers_length + 4 or total > MAX_MESSAGE or headers_length > MAX_HEADERS:
                raise EventStreamError(f"event-stream frame of impossible size ({total} bytes)")
            if len(buffer) - pos < total:
                break
            frame = bytes(buffer[pos : pos + total])
            pos += total
            (message_crc,) = struct.unpack_from(">I", frame, total - 4)
            if zlib.crc32(frame[: total - 4]) != message_crc:
                raise EventStreamError("event-stream message checksum mismatch")
            messages.append(
                Message(
                    self._headers(frame[PRELUDE : PRELUDE + headers_length]),
                    frame[PRELUDE + headers_length : total - 4],
                )
            )
        del buffer[:pos]
        return messages

    def _headers(self, raw: bytes) -> Mapping[str, HeaderValue]:
        parsed = self._parsed.get(raw)
        if parsed is None:
            parsed = MappingProxyType(_headers(raw))
            if len(self._parsed) >= self._CACHED_HEADER_BLOCKS:
                self._parsed.clear()
            self._parsed[raw] = parsed
        return parsed


def event_of(message: Message) -> tuple[str, bytes]:
    """A message as (name, payload): events by `:event-type`; exceptions as `exception:<type>` with
    their JSON payload; protocol errors as `error:<code>` with `{"message": ...}`."""
    kind = message.text(":message-type") or "event"
    if kind == "event":
        return message.text(":event-type"), message.payload
    if kind == "exception":
        return "exception:" + message.text(":exception-type"), message.payload
    text = message.text(":error-message") or message.payload.decode("utf-8", "replace")
    return "error:" + message.text(":error-code"), orjson.dumps({"message": text})


class EventStreamEvents:
    """The event source of an event-stream body (the counterpart of `stream.SSEDecoder`)."""

    def __init__(self, body: HttpStream) -> None:
        self._body = body
        self._decoder = EventStreamDecoder()
        self._ready: list[Message] = []

    async def next_event(self) -> tuple[str, bytes] | None:
        """The next message, or None at the end of the body (a partial frame there is dropped: the
        translator then sees an answer without its end and reports the cut)."""
        while not self._ready:
            chunk = await self._body.read()
            if not chunk:
                return None
            self._ready = self._decoder.feed(chunk)
        return event_of(self._ready.pop(0))
