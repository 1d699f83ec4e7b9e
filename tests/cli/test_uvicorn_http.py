"""serve's uvicorn protocol: a plain answer's head goes out with its body in one write, a stream's
with its first event when that follows in the same turn of the loop, nothing a client waits for is
held longer, and real exchanges (plain, HEAD, streamed, 100-continue) complete."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tfy_gateway.cli.uvicorn_http import OneWriteHttpToolsProtocol, OneWriteTransport

PLAIN_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"
STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def wrapped() -> tuple[OneWriteTransport, Recorder]:
    recorder = Recorder()
    return OneWriteTransport(recorder), recorder  # type: ignore[arg-type]


def test_a_plain_answers_head_goes_out_with_its_body() -> None:
    transport, recorder = wrapped()
    transport.write(PLAIN_HEAD)
    assert recorder.writes == []
    transport.write(b"{}")
    assert recorder.writes == [PLAIN_HEAD + b"{}"]
    transport.flush()  # nothing left to flush
    assert recorder.writes == [PLAIN_HEAD + b"{}"]


def test_heads_a_client_waits_for_are_written_at_once() -> None:
    transport, recorder = wrapped()
    transport.write(STREAM_HEAD)  # a stream's head, without a loop to flush it at the end of the turn
    continue_ = b"HTTP/1.1 100 Continue\r\n\r\n"
    transport.write(continue_)  # the client sends its body only after this
    assert recorder.writes == [STREAM_HEAD, continue_]


async def test_a_streams_head_goes_out_with_its_first_event_in_the_same_turn() -> None:
    recorder = Recorder()
    transport = OneWriteTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(STREAM_HEAD)
    assert recorder.writes == []
    transport.write(b"7\r\ndata: 0\r\n")  # the first event, sent right after the head
    assert recorder.writes == [STREAM_HEAD + b"7\r\ndata: 0\r\n"]
    transport.write(PLAIN_HEAD)  # the next answer on the connection: held for its body as before
    await asyncio.sleep(0)  # the first head's end-of-turn flush must not send this one early
    await asyncio.sleep(0)
    assert recorder.writes == [STREAM_HEAD + b"7\r\ndata: 0\r\n"]
    transport.write(b"{}")
    assert recorder.writes[-1] == PLAIN_HEAD + b"{}"


async def test_a_streams_head_waits_no_longer_than_the_current_turn() -> None:
    recorder = Recorder()
    transport = OneWriteTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(STREAM_HEAD)  # no event ready: the client must not wait for the headers
    await asyncio.sleep(0)
    assert recorder.writes == [STREAM_HEAD]
    continue_ = b"HTTP/1.1 100 Continue\r\n\r\n"
    transport.write(continue_)  # never held: the client sends its body only after this
    assert recorder.writes == [STREAM_HEAD, continue_]


def test_a_held_head_is_flushed_at_the_end_of_the_response_or_on_close() -> None:
    transport, recorder = wrapped()
    transport.write(PLAIN_HEAD)  # e.g. a HEAD answer: no body write follows
    transport.flush()
    assert recorder.writes == [PLAIN_HEAD]
    transport.write(PLAIN_HEAD)
    transport.close()
    assert recorder.writes == [PLAIN_HEAD, PLAIN_HEAD] and recorder.closing
    closed, gone = wrapped()
    gone.closing = True  # the connection was lost: nothing more is written to it
    closed.write(PLAIN_HEAD)
    closed.flush()
    assert gone.writes == []


async def events() -> AsyncIterator[bytes]:
    for n in range(3):
        yield b"data: %d\n\n" % n


async def echo(request: Request) -> Response:
    return PlainTextResponse(await request.body())


APP = Starlette(
    routes=[
        Route("/plain", lambda request: PlainTextResponse("hello"), methods=["GET", "HEAD"]),
        Route("/stream", lambda request: StreamingResponse(events(), media_type="text/event-stream")),
        Route("/echo", echo, methods=["POST"]),
    ]
)


async def exchange(port: int, request: bytes, *, body_after_continue: bytes | None = None) -> bytes:
    """One request on a new connection; the whole answer (the server closes: Connection: close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    if body_after_continue is not None:
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body_after_continue)
    answer = await reader.read()
    writer.close()
    return answer


async def test_real_exchanges_complete() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        APP, host="127.0.0.1", port=port, lifespan="off", http=OneWriteHttpToolsProtocol, timeout_keep_alive=120
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        close = b"Host: t\r\nConnection: close\r\n"
        plain = await asyncio.wait_for(exchange(port, b"GET /plain HTTP/1.1\r\n" + close + b"\r\n"), 30)
        assert plain.startswith(b"HTTP/1.1 200 OK\r\n") and plain.endswith(b"\r\n\r\nhello")
        head = await asyncio.wait_for(exchange(port, b"HEAD /plain HTTP/1.1\r\n" + close + b"\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 5\r\n" in head
        assert head.endswith(b"\r\n\r\n")
        # Kept alive, a HEAD answer's held head goes out when the response ends (no body write follows).
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /plain HTTP/1.1\r\nHost: t\r\n\r\n")
        kept = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert kept.startswith(b"HTTP/1.1 200 OK\r\n")
        writer.close()
        stream = await asyncio.wait_for(exchange(port, b"GET /stream HTTP/1.1\r\n" + close + b"\r\n"), 30)
        assert b"transfer-encoding: chunked" in stream and b"data: 2\n\n" in stream
        continued = await asyncio.wait_for(
            exchange(
                port,
                b"POST /echo HTTP/1.1\r\n" + close + b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\n",
                body_after_continue=b"ping",
            ),
            30,
        )
        assert continued.startswith(b"HTTP/1.1 200 OK\r\n") and continued.endswith(b"ping")
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
