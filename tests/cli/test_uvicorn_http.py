"""serve's uvicorn protocol: the bytes uvicorn's own protocol sends, a plain answer's head in one write
with its body, a stream's with its first event when that follows in the same turn of the loop,
nothing a client waits for held longer, the keep-alive timeout, proxy headers, pipelining, and real
exchanges (plain, HEAD, streamed, 100-continue) over a socket."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE
from uvicorn.server import ServerState

from tfy_gateway.cli.uvicorn_cycle import INVALID_VALUE_BYTES, header_name
from tfy_gateway.cli.uvicorn_http import ServeHttpToolsProtocol

App = Callable[[Any, Any, Any], Awaitable[None]]
DATE = (b"date", b"Mon, 07 Dec 2026 17:00:00 GMT")


class Recorder:
    """A socket transport that keeps what is written to it, write by write."""

    def __init__(self, peer: str = "10.1.2.3") -> None:
        self.writes: list[bytes] = []
        self.closing = False
        self.peer = peer

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": (self.peer, 50000)}.get(name, default)


def connect(
    app: App, http: Any = ServeHttpToolsProtocol, peer: str = "10.1.2.3", **options: Any
) -> tuple[Any, Recorder, ServerState]:
    """`app` behind a protocol on a recorded connection, as uvicorn would build them."""
    config = uvicorn.Config(app, http=http, lifespan="off", **{"log_level": "warning", **options})
    config.load()
    state = ServerState()
    state.default_headers = [DATE]
    protocol = config.http_protocol_class(
        config=config, server_state=state, app_state={}, _loop=asyncio.get_running_loop()
    )  # type: ignore[call-arg]
    transport = Recorder(peer)
    protocol.connection_made(transport)
    return protocol, transport, state


async def settle(transport: Recorder, state: ServerState, answers: int) -> None:
    """Turn the loop until `answers` responses are complete, or the connection is closed."""
    for _ in range(10_000):
        if state.total_requests >= answers or transport.closing:
            break
        await asyncio.sleep(0)
    for _ in range(3):  # a stream's held head is flushed at the end of a turn
        await asyncio.sleep(0)


def answering(status: int, headers: list[tuple[bytes, bytes]], *bodies: bytes) -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for n, body in enumerate(bodies):
            await send({"type": "http.response.body", "body": body, "more_body": n < len(bodies) - 1})
        if not bodies:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


GET = b"GET /a%20b?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
CASES = [
    (200, [(b"Content-Type", b"application/json"), (b"content-length", b"2")], (b"{}",), GET),
    (
        200,
        [(b"content-type", b"text/event-stream"), (b"Transfer-Encoding", b"chunked")],
        (b"data: 1\n\n", b"data: 2\n\n", b""),
        GET,
    ),
    (200, [(b"x-a", b"1")], (b"no", b" length"), GET),  # neither header: uvicorn adds chunked framing
    (200, [(b"content-length", b"5"), (b"Connection", b"keep-alive, Close")], (b"bye..",), GET),
    (200, [(b"content-length", b"5")], (b"",), b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"),
    (204, [], (), GET),
    (304, [(b"etag", b'"x"')], (), GET),
    (200, [(b"content-length", b"2"), (b"x-tab", b"a\tb")], (b"ok",), b"GET / HTTP/1.0\r\nHost: t\r\n\r\n"),
]


@pytest.mark.parametrize("status,headers,bodies,request_", CASES)
async def test_the_bytes_are_uvicorns(
    status: int, headers: list[tuple[bytes, bytes]], bodies: tuple[bytes, ...], request_: bytes
) -> None:
    sent = []
    for http in ("httptools", ServeHttpToolsProtocol):
        protocol, transport, state = connect(answering(status, headers, *bodies), http)
        protocol.data_received(request_)
        await settle(transport, state, 1)
        sent.append((b"".join(transport.writes), transport.closing))
    assert sent[0] == sent[1]
    assert sent[1][0].startswith(b"HTTP/1.1 %d " % status)


async def test_over_the_concurrency_limit_the_answer_is_uvicorns_503() -> None:
    sent = []
    for http in ("httptools", ServeHttpToolsProtocol):
        protocol, transport, state = connect(answering(204, []), http, limit_concurrency=1)
        protocol.data_received(GET)
        await settle(transport, state, 1)
        sent.append(b"".join(transport.writes))
    assert sent[0] == sent[1] and sent[1].startswith(b"HTTP/1.1 503 ")


async def test_a_client_gone_mid_request_gets_nothing_and_the_app_hears_of_it() -> None:
    heard: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        heard.append((await receive())["type"])  # waits: the request is complete, the answer not sent
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport, state = connect(app)
    protocol.data_received(GET)
    await settle(transport, state, 0)
    protocol.connection_lost(None)
    for _ in range(100):
        if heard:
            break
        await asyncio.sleep(0)
    await settle(transport, state, 1)
    assert heard == ["http.disconnect"] and transport.writes == [] and transport.closing


async def test_the_access_log_is_uvicorns() -> None:
    lines: list[list[str]] = []
    for http in ("httptools", ServeHttpToolsProtocol):
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        access = logging.getLogger("uvicorn.access")
        protocol, transport, state = connect(answering(200, [(b"content-length", b"2")], b"ok"), http, log_level="info")
        access.addHandler(handler)
        try:
            protocol.access_log = True  # as uvicorn decides when the access logger has a handler
            protocol.data_received(GET)
            await settle(transport, state, 1)
        finally:
            access.removeHandler(handler)
        lines.append([record.getMessage() for record in records])
    assert lines[0] == lines[1] == ['10.1.2.3:50000 - "GET /a%20b?x=1 HTTP/1.1" 200']


async def test_a_plain_answers_head_goes_out_with_its_body() -> None:
    protocol, transport, state = connect(answering(200, [(b"content-length", b"2")], b"{}"))
    protocol.data_received(GET)
    await settle(transport, state, 1)
    assert transport.writes == [
        b"HTTP/1.1 200 OK\r\ndate: Mon, 07 Dec 2026 17:00:00 GMT\r\ncontent-length: 2\r\n\r\n{}"
    ]
    assert not transport.closing


async def test_a_streams_head_goes_out_with_its_first_event_in_the_same_turn() -> None:
    chunked = [(b"content-type", b"text/event-stream"), (b"transfer-encoding", b"chunked")]
    protocol, transport, state = connect(answering(200, chunked, b"data: 0\n\n", b""))
    protocol.data_received(GET)
    await settle(transport, state, 1)
    assert len(transport.writes) == 2 and transport.writes[0].endswith(b"\r\n\r\n9\r\ndata: 0\n\n\r\n")
    assert transport.writes[1] == b"0\r\n\r\n"


STREAM_HEAD = b"HTTP/1.1 200 OK\r\ndate: Mon, 07 Dec 2026 17:00:00 GMT\r\ntransfer-encoding: chunked\r\n\r\n"
NO_CONTENT_HEAD = b"HTTP/1.1 204 No Content\r\ndate: Mon, 07 Dec 2026 17:00:00 GMT\r\n\r\n"


@pytest.mark.parametrize(
    "status,headers,head,rest",
    [
        (200, [(b"transfer-encoding", b"chunked")], STREAM_HEAD, [b"0\r\n\r\n"]),  # a stream, no event ready
        (204, [], NO_CONTENT_HEAD, []),  # no Content-Length: no promise that a body write follows
    ],
)
async def test_a_head_without_content_length_waits_no_longer_than_the_current_turn(
    status: int, headers: list[tuple[bytes, bytes]], head: bytes, rest: list[bytes]
) -> None:
    later = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await later.wait()  # the rest of the response comes later: the client must not wait for the head
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    protocol, transport, state = connect(app)
    protocol.data_received(GET)
    for _ in range(100):
        if transport.writes:
            break
        await asyncio.sleep(0)
    assert transport.writes == [head]
    later.set()
    await settle(transport, state, 1)
    assert transport.writes[1:] == rest and state.total_requests == 1


async def test_100_continue_is_written_at_once() -> None:
    got: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport, state = connect(app)
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    for _ in range(100):
        if transport.writes:
            break
        await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    protocol.data_received(b"ping")
    await settle(transport, state, 1)
    assert got == [b"ping"] and transport.writes[1].endswith(b"\r\n\r\nok")


async def test_an_error_after_the_start_writes_the_held_head_then_closes() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        raise ValueError("boom")

    protocol, transport, state = connect(app)
    protocol.data_received(GET)
    await settle(transport, state, 1)
    assert transport.closing and len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize(
    "bad", [(b"x-bad", b"a\r\nset-cookie: x"), (b"x-bad", b"\x00"), (b"x bad", b"1"), (b"x:bad", b"1")]
)
async def test_invalid_header_names_and_values_are_refused(bad: tuple[bytes, bytes]) -> None:
    headers = [(b"content-length", b"2"), (b"x-fine", b"ok"), bad]
    protocol, transport, state = connect(answering(200, headers, b"{}"))
    protocol.data_received(GET)
    await settle(transport, state, 1)
    assert transport.closing and transport.writes == []  # nothing of the answer, the connection closed
    if b" " in bad[0] or b":" in bad[0]:
        with pytest.raises(RuntimeError):
            header_name(bad[0])


async def test_pipelined_requests_are_answered_in_order() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = scope["path"].encode()
        await answering(200, [(b"content-length", b"%d" % len(body))], body)(scope, receive, send)

    protocol, transport, state = connect(app)
    protocol.data_received(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /two HTTP/1.1\r\nHost: t\r\n\r\n")
    await settle(transport, state, 2)
    assert [write.rsplit(b"\r\n\r\n", 1)[1] for write in transport.writes] == [b"/one", b"/two"]


async def test_the_scope_is_uvicorns() -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(dict(scope))
        await answering(204, [])(scope, receive, send)

    request = b"GET /a%20b?x=1 HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n"
    for http in ("httptools", ServeHttpToolsProtocol):
        for peer in ("10.1.2.3", "127.0.0.1"):  # an untrusted client's proxy headers are ignored
            protocol, transport, state = connect(app, http, peer=peer)
            protocol.data_received(request)
            protocol.data_received(GET)  # a second request on the connection gets a scope of its own
            await settle(transport, state, 2)
    stock, ours = scopes[:4], scopes[4:]
    assert ours == stock
    assert ours[0]["path"] == "/a b" and ours[0]["client"] == ("10.1.2.3", 50000) and ours[0]["scheme"] == "http"
    assert ours[2]["client"] == ("1.2.3.4", 0) and ours[2]["scheme"] == "https"
    assert ours[3]["client"] == ("127.0.0.1", 50000) and ours[3]["scheme"] == "http"
    assert ours[2]["asgi"] is not ours[3]["asgi"] and ours[2]["headers"] is not ours[3]["headers"]


async def test_an_idle_connection_closes_after_the_keep_alive_timeout_and_a_busy_one_does_not() -> None:
    protocol, transport, state = connect(answering(200, [(b"content-length", b"2")], b"ok"), timeout_keep_alive=30)
    protocol.data_received(GET)
    await settle(transport, state, 1)
    timer = protocol.timeout_keep_alive_task
    assert timer is not None and not transport.closing
    protocol.data_received(GET)  # busy again: the timer stays, and finds the connection busy
    assert protocol.timeout_keep_alive_task is timer
    protocol.keep_alive_expired()
    assert protocol.timeout_keep_alive_task is None and not transport.closing
    await settle(transport, state, 2)  # answered: idle again, a timer armed
    assert protocol.timeout_keep_alive_task is not None
    protocol.timeout_keep_alive_task.cancel()
    protocol.keep_alive_expired()  # fired while idle for less than the timeout: waits for the rest
    rest = protocol.timeout_keep_alive_task
    assert rest is not None and not transport.closing
    assert 0 < rest.when() - asyncio.get_running_loop().time() <= 30
    rest.cancel()
    protocol.idle_since -= 30  # idle for the whole timeout
    protocol.keep_alive_expired()
    assert transport.closing
    protocol.idle_since = asyncio.get_running_loop().time()
    protocol.keep_alive_expired()  # a closed connection's timer is not re-armed
    assert protocol.timeout_keep_alive_task is None


async def test_an_idle_connection_is_closed_by_its_timer() -> None:
    protocol, transport, state = connect(answering(200, [(b"content-length", b"2")], b"ok"), timeout_keep_alive=0.05)
    protocol.data_received(GET)
    await settle(transport, state, 1)
    deadline = asyncio.get_running_loop().time() + 30
    while not transport.closing and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert transport.closing


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
        APP, host="127.0.0.1", port=port, lifespan="off", http=ServeHttpToolsProtocol, timeout_keep_alive=120
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
        writer.write(b"GET /plain HTTP/1.1\r\nHost: t\r\n\r\n")  # and the connection serves the next one
        again = await asyncio.wait_for(reader.readuntil(b"hello"), 30)
        assert again.startswith(b"HTTP/1.1 200 OK\r\n")
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
        chunked = await asyncio.wait_for(
            exchange(
                port,
                b"POST /echo HTTP/1.1\r\n"
                + close
                + b"Transfer-Encoding: chunked\r\n\r\n2\r\npi\r\n2\r\nng\r\n0\r\n\r\n",
            ),
            30,
        )
        assert chunked.endswith(b"\r\n\r\nping")
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)


def test_the_value_check_refuses_exactly_the_bytes_uvicorn_refuses() -> None:
    refused = {byte for byte in range(256) if HEADER_VALUE_RE.search(bytes([byte]))}
    assert set(INVALID_VALUE_BYTES) == refused
