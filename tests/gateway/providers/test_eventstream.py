"""The gateway's event-stream decoder: whole frames out of any split of the bytes, checksums enforced,
and botocore's own decoder as the peer that says the fake provider's frames are real ones."""

from __future__ import annotations

import struct
import uuid
import zlib

import orjson
import pytest
from botocore.eventstream import EventStreamBuffer

from tfy_gateway.fakeprovider.bedrock_routes import event, exception, frame
from tfy_gateway.gateway.providers.eventstream import EventStreamDecoder, EventStreamError, Message, event_of

FRAMES = [
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hé"}}),
    exception("throttlingException", "Too many requests, please wait before trying again."),
]


def test_botocore_decodes_the_fake_providers_frames() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(FRAMES))
    messages = list(buffer)
    assert [m.headers[":message-type"] for m in messages] == ["event", "event", "exception"]
    assert messages[1].headers[":event-type"] == "contentBlockDelta"
    assert messages[1].headers[":content-type"] == "application/json"
    assert orjson.loads(messages[1].payload)["delta"] == {"text": "Hé"}
    assert messages[2].headers[":exception-type"] == "throttlingException"


def test_decoder_agrees_with_botocore_on_every_split() -> None:
    data = b"".join(FRAMES)
    expected = [(dict(m.headers), m.payload) for m in _botocore(data)]
    for size in (1, 2, 7, 13, len(data)):
        decoder = EventStreamDecoder()
        got: list[Message] = []
        for start in range(0, len(data), size):
            got.extend(decoder.feed(data[start : start + size]))
        assert [(dict(m.headers), m.payload) for m in got] == expected
        assert decoder.pending == 0


def test_partial_frame_is_held_back() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(FRAMES[0][:-1]) == []
    assert decoder.pending == len(FRAMES[0]) - 1
    assert len(decoder.feed(FRAMES[0][-1:])) == 1


@pytest.mark.parametrize("where", [5, -2])  # in the prelude, in the message CRC
def test_corrupted_frame_is_refused(where: int) -> None:
    damaged = bytearray(FRAMES[1])
    damaged[where] ^= 0xFF
    with pytest.raises(EventStreamError, match="checksum"):
        EventStreamDecoder().feed(bytes(damaged))


def test_every_header_type_is_read() -> None:
    ident = uuid.uuid4()
    raw = b"".join(
        [
            _header("t", 0, b""),
            _header("f", 1, b""),
            _header("b", 2, struct.pack(">b", -3)),
            _header("s", 3, struct.pack(">h", 300)),
            _header("i", 4, struct.pack(">i", -70000)),
            _header("l", 5, struct.pack(">q", 2**40)),
            _header("y", 6, struct.pack(">H", 2) + b"\x00\x01"),
            _header("z", 7, struct.pack(">H", 2) + b"ok"),
            _header("ts", 8, struct.pack(">q", 1700000000000)),
            _header("u", 9, ident.bytes),
        ]
    )
    prelude = struct.pack(">II", 12 + len(raw) + 4, len(raw))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw
    (message,) = EventStreamDecoder().feed(head + struct.pack(">I", zlib.crc32(head)))
    assert dict(message.headers) == {
        "t": True,
        "f": False,
        "b": -3,
        "s": 300,
        "i": -70000,
        "l": 2**40,
        "y": b"\x00\x01",
        "z": "ok",
        "ts": 1700000000000,
        "u": ident,
    }
    botocore_headers = dict(_botocore(head + struct.pack(">I", zlib.crc32(head)))[0].headers)  # type: ignore[attr-defined]
    assert {**message.headers, "u": ident.bytes} == botocore_headers  # botocore keeps a uuid as its bytes


def test_event_names() -> None:
    decoded = EventStreamDecoder().feed(b"".join(FRAMES))
    assert [event_of(m)[0] for m in decoded] == ["messageStart", "contentBlockDelta", "exception:throttlingException"]
    error = frame({":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, b"")
    (message,) = EventStreamDecoder().feed(error)
    assert event_of(message) == ("error:InternalFailure", b'{"message":"boom"}')


def _header(name: str, kind: int, value: bytes) -> bytes:
    return bytes([len(name)]) + name.encode() + bytes([kind]) + value


def _botocore(data: bytes) -> list[object]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)
