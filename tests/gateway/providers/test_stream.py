"""UpstreamStream and its pieces: SSE framing, the OpenAI pass-through translator, closing and failures."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from tests.gateway.providers.conftest import openai_target
from tfy_gateway.gateway.providers import (
    HttpRequest,
    HttpResponse,
    MemoryTransport,
    TransportError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamStream,
    UpstreamStreamCut,
    call,
)
from tfy_gateway.gateway.providers.memory_transport import MemoryStream
from tfy_gateway.gateway.providers.openai_compatible import OpenAIChunks
from tfy_gateway.gateway.providers.stream import SSEDecoder
from tfy_gateway.gateway.providers.wire import DONE

TARGET = openai_target("http://openai.test")
CHAT = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
CHUNK = b'{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}'


async def test_sse_decoder_frames_across_reads() -> None:
    body = b": comment\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\n\ndata: {}\n\nevent: b\ndata: last"
    for size in (1, 3, len(body)):
        decoder = SSEDecoder(MemoryStream(HttpResponse(200, {}, body), size))
        events = []
        while (event := await decoder.next_event()) is not None:
            events.append(event)
        assert events == [("a", b"one\ntwo"), ("", b"{}"), ("b", b"last")], size


def reference_events(body: bytes) -> list[tuple[str, bytes]]:
    """The SSE events of a whole body, line by line (lines end with LF, a CR before it is dropped)."""
    events: list[tuple[str, bytes]] = []
    event, data = "", []
    for raw in body.split(b"\n"):
        line = raw.rstrip(b"\r")
        if not line:
            if data:
                events.append((event, b"\n".join(data)))
            event, data = "", []
        elif not line.startswith(b":"):
            name, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode()
    if data:
        events.append((event, b"\n".join(data)))
    return events


PIECES = [
    b"data: {}\n\n", b"data: a: b\n\n", b"event: e\n", b": note\n", b"\r\n", b"\n", b"data:tight\n",
    b"data: crlf\r\n\r\n", b"data: \n\n", b"id: 7\n", b"data: x\r\n", b"data: y\n", b"data: tail",
]  # fmt: skip


async def test_sse_decoder_reads_what_a_line_by_line_parser_reads() -> None:
    """The fast path for whole one-line events and the line-by-line path agree on any mix, cut anywhere,
    also when the events a read brought are taken at once (`buffered_event`)."""
    rng = random.Random(27)
    for _ in range(300):
        body = b"".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
        expected = reference_events(body)
        for size in {1, 2, 5, rng.randint(1, len(body)), len(body)}:
            decoder = SSEDecoder(MemoryStream(HttpResponse(200, {}, body), size))
            events = []
            while (event := await decoder.next_event()) is not None:
                events.append(event)
            assert events == expected, (body, size)
            # The same, taking what each read brought beyond its first event without waiting.
            decoder = SSEDecoder(MemoryStream(HttpResponse(200, {}, body), size))
            events = []
            while (event := await decoder.next_event()) is not None:
                events.append(event)
                while (buffered := decoder.buffered_event()) is not None:
                    events.append(buffered)
            assert events == expected, (body, size, "buffered")


def test_openai_chunks_pass_through_and_usage() -> None:
    chunks = OpenAIChunks(TARGET, strip_usage=False)
    first = chunks.feed("", CHUNK)
    assert first.chunks == (b"data: " + CHUNK + b"\n\n",) and first.first_token
    assert not chunks.feed("", CHUNK).first_token
    usage = b'{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}'
    assert chunks.feed("", usage).chunks == (b"data: " + usage + b"\n\n",)  # the client asked: kept
    assert chunks.usage is not None and chunks.usage.total_tokens == 3
    assert chunks.feed("", b"[DONE]").done
    with pytest.raises(UpstreamStreamCut):  # a body that ends with no finish_reason was cut short
        chunks.end()
    finished = OpenAIChunks(TARGET, strip_usage=False)
    finished.feed("", b'{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')
    assert finished.end().chunks == (DONE,) and finished.end().done  # finish_reason, no [DONE]: a proper end
    with pytest.raises(UpstreamError) as failed:
        chunks.feed("", b'{"error":{"message":"boom","code":503}}')
    assert failed.value.status == 503


class BreakingStream:
    """An HttpStream whose connection breaks after one piece."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: Mapping[str, str] = {}
        self.reads = 0
        self.closed_with: bool | None = None

    async def read(self) -> bytes:
        self.reads += 1
        if self.reads == 1:
            return b"data: " + CHUNK + b"\n\n"
        raise TransportError("ClientPayloadError")

    async def aclose(self, *, drain: bool = False) -> None:
        self.closed_with = drain


class BreakingTransport:
    def __init__(self) -> None:
        self.stream = BreakingStream()

    async def post(self, request: HttpRequest) -> HttpResponse:
        raise AssertionError("streams only")

    async def open_stream(self, request: HttpRequest) -> BreakingStream:
        return self.stream


async def test_a_broken_connection_mid_stream_is_a_502() -> None:
    transport = BreakingTransport()
    stream = await call(transport, TARGET, "chat", CHAT)
    assert isinstance(stream, UpstreamStream)
    received = []
    with pytest.raises(UpstreamConnectionError, match=r"connection to openai at openai\.test:80 failed"):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 1 and not stream.completed and transport.stream.closed_with is False


async def test_closing_early_does_not_keep_the_connection() -> None:
    body = b"".join(b"data: " + CHUNK + b"\n\n" for _ in range(5)) + b"data: [DONE]\n\n"
    transport = MemoryTransport(
        lambda request: HttpResponse(200, {"content-type": "text/event-stream"}, body), chunk_size=16
    )
    stream = await call(transport, TARGET, "chat", CHAT)
    assert isinstance(stream, UpstreamStream)
    await stream.__anext__()
    await stream.aclose()
    await stream.aclose()  # idempotent
    assert transport.streams[0].closed and transport.streams[0].drained is False
    assert not transport.streams[0].fully_read
