"""`InProcessTransport`: a `Transport` that serves an aiohttp application in this process, without sockets.

Tests and benchmarks call the real fake provider (`create_fake_provider_app`) this way, in the event
loop of the gateway under test:

    fake = create_fake_provider_app(api_key="sk-...")
    async with InProcessTransport(fake, origin="http://fake-provider.test") as transport:
        app = create_app(settings, transport=transport)   # accounts' base_url: http://fake-provider.test/v1

Each exchange is one HTTP/1.1 connection held in memory: the request's bytes go to the app's own
server protocol (aiohttp's, as `web.AppRunner` serves a socket) and its answer is parsed as it is
written (h11). So the app behaves as it does on a socket, which is the point over `MemoryTransport`:
a stream's body arrives piece by piece as the app writes it, an app that aborts its connection cuts
the stream short (TransportError), and closing a stream before its end closes the connection, which
cancels the app's handler (the fake provider counts a disconnect). Writes are paused while more than
`_HIGH_WATER` bytes wait unread, as a socket's buffers would. `HttpRequest.timeouts` hold as in
`AiohttpTransport` (read: the wait for the headers and each wait for data; total, and first_token for
a plain call: the whole exchange; a connection opens at once), each expiry a `TransportTimeout` naming
its phase. A URL of another origin fails as a refused connection does. Nothing is pooled.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import h11
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tfy_gateway.gateway.providers.aiohttp_transport import DEFAULT_MAX_RESPONSE_BYTES, form_data
from tfy_gateway.gateway.providers.deadlines import Deadlines
from tfy_gateway.gateway.providers.transport import (
    OCTET_STREAM,
    STREAM_DRAIN_S,
    HttpRequest,
    HttpResponse,
    ResponseTooLarge,
    TransportConnectError,
    TransportError,
)

_HIGH_WATER = 64 * 1024  # unread bytes at which the app's writes wait (until they are read), as on a socket


async def _encoded(request: HttpRequest) -> tuple[bytes, str]:
    """The body to send and its default content type (a form goes multipart, as aiohttp sends it)."""
    if request.form is None:
        return request.body, OCTET_STREAM
    payload = form_data(request.form)()
    return await payload.as_bytes(), str(payload.content_type)


class _ServerSide(asyncio.Transport):
    """What the app's server protocol writes to: everything it writes goes to the client's parser."""

    def __init__(self, connection: _Connection, peer: tuple[str, int]) -> None:
        super().__init__()
        self._connection = connection
        self._peer = peer
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self._peer, "sockname": ("127.0.0.1", 80)}.get(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def mark_closing(self) -> None:
        self._closing = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._connection.received(bytes(data))

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def close(self) -> None:
        self._connection.lost(by_server=True)

    def abort(self) -> None:
        self._connection.lost(by_server=True)

    def pause_reading(self) -> None:  # the request was sent whole: nothing more to hold back
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False


class _Connection:
    """One in-memory HTTP/1.1 connection: the client end, with the app's server protocol at the other."""

    def __init__(self, server: web.Server, peer: tuple[str, int], forget: Callable[[_Connection], None]) -> None:
        self._forget = forget  # called once, when the connection ends
        self._loop = asyncio.get_running_loop()
        self._parser = h11.Connection(h11.CLIENT)
        self._protocol = server()
        self._server_side = _ServerSide(self, peer)
        self._head: asyncio.Future[h11.Response] = self._loop.create_future()
        self._chunks: deque[bytes] = deque()
        self._unread = 0
        self._arrived = asyncio.Event()
        self._ended = False
        self._failure: TransportError | None = None
        self._paused = False
        self._open = True
        self._protocol.connection_made(self._server_side)

    @property
    def ended(self) -> bool:
        return self._ended

    def send(self, head: h11.Request, body: bytes) -> None:
        data = self._parser.send(head) or b""
        if body:
            data += self._parser.send(h11.Data(data=body)) or b""
        data += self._parser.send(h11.EndOfMessage()) or b""
        self._protocol.data_received(data)

    def received(self, data: bytes) -> None:
        """Bytes the app wrote: parse what they complete."""
        try:
            self._parser.receive_data(data)
            self._parse()
        except h11.RemoteProtocolError as exc:
            self._fail(TransportError(f"invalid HTTP from the app: {exc}"))
            self.close()

    def _parse(self) -> None:
        while True:
            event = self._parser.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Response):
                if not self._head.done():
                    self._head.set_result(event)
            elif isinstance(event, h11.Data):
                self._chunks.append(bytes(event.data))
                self._unread += len(event.data)
                if self._unread > _HIGH_WATER and not self._paused:
                    self._paused = True
                    self._protocol.pause_writing()
            elif isinstance(event, h11.EndOfMessage):
                self._ended = True
            elif isinstance(event, h11.ConnectionClosed):
                return
            self._arrived.set()

    def lost(self, *, by_server: bool) -> None:
        """The connection ends: the app closed it, or the client let go (`close`)."""
        if not self._open:
            return
        self._open = False
        self._server_side.mark_closing()
        self._forget(self)
        if by_server:
            try:
                self._parser.receive_data(b"")
                self._parse()
            except h11.RemoteProtocolError:
                pass
            if not self._ended:
                self._fail(TransportError("the app closed the connection before its answer ended"))
        elif not self._ended:
            self._fail(TransportError("the connection was closed"))
        # As a socket transport does: the protocol learns of the loss on the next turn of the loop.
        self._loop.call_soon(self._protocol.connection_lost, None)

    def _fail(self, failure: TransportError) -> None:
        if self._failure is None:
            self._failure = failure
        if not self._head.done():
            self._head.set_exception(failure)
            self._head.exception()  # retrieved: a head nobody waits for any more is no error
        self._arrived.set()

    def close(self) -> None:
        self.lost(by_server=False)

    async def head(self) -> h11.Response:
        return await asyncio.shield(self._head)

    async def read(self) -> bytes:
        """What arrived since the last read (waiting for something); b"" at the end."""
        while not self._chunks:
            if self._ended:
                return b""
            if self._failure is not None:
                raise self._failure
            self._arrived.clear()
            await self._arrived.wait()
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._unread = 0
        if self._paused and self._open:
            self._paused = False
            self._protocol.resume_writing()
        return data


def _headers(head: h11.Response) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(
        CIMultiDict((name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers)
    )


class _InProcessStream:
    """An answer whose headers arrived; the body is read from the connection as the app writes it."""

    def __init__(self, connection: _Connection, head: h11.Response, limits: Deadlines) -> None:
        self._connection = connection
        self._status = head.status_code
        self._headers = _headers(head)
        self._limits = limits

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    async def read(self) -> bytes:
        return await self._limits.wait(self._connection.read(), "read")

    async def aclose(self, *, drain: bool = False) -> None:
        if drain and not self._connection.ended:
            with contextlib.suppress(TransportError, asyncio.TimeoutError):
                await asyncio.wait_for(self._drain(), STREAM_DRAIN_S)
        self._connection.close()

    async def _drain(self) -> None:
        while await self._connection.read():
            pass


class InProcessTransport:
    """Serves `app` for every URL under `origin` (scheme://host[:port]); close with `aclose()`.

    The app is set up (`web.AppRunner`) on first use, in the running loop, which every later call must
    share. `max_response_bytes` caps a non-streamed answer, as `AiohttpTransport`'s does.
    """

    def __init__(
        self, app: web.Application, *, origin: str, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    ) -> None:
        parts = urlsplit(origin)
        if not parts.scheme or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"origin must be scheme://host[:port], not {origin!r}")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, handler_cancellation=True)
        self._max_response_bytes = max_response_bytes
        self._started = asyncio.Lock()
        self._server: web.Server | None = None
        self._open: set[_Connection] = set()
        self._ports = itertools.count(40000)
        self._closed = False

    async def _app_server(self) -> web.Server:
        """The app's server (a protocol factory), set up on first use."""
        if self._closed:
            raise RuntimeError("the upstream transport is closed")
        async with self._started:
            if self._server is None:
                await self._runner.setup()
                self._server = self._runner.server
        assert self._server is not None
        return self._server

    async def _connect(self, request: HttpRequest) -> _Connection:
        """A new connection that has sent `request` (headers as aiohttp would add them where missing)."""
        parts = urlsplit(request.url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            raise TransportConnectError("Connection refused")
        server = await self._app_server()
        body, content_type = await _encoded(request)
        headers = {"host": self._host, "accept": "*/*", "content-type": content_type}
        for name, value in request.headers.items():
            name = name.lower()
            if name not in ("host", "content-length") and not (name == "content-type" and request.form is not None):
                headers[name] = value
        headers["content-length"] = str(len(body))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = _Connection(server, ("127.0.0.1", next(self._ports)), self._open.discard)
        self._open.add(connection)
        connection.send(h11.Request(method="POST", target=target, headers=list(headers.items())), body)
        return connection

    async def post(self, request: HttpRequest) -> HttpResponse:
        limits = Deadlines(request.timeouts, streaming=False)
        connection = await self._connect(request)
        try:
            return await self._whole(connection, limits)
        finally:
            connection.close()  # a call given up (a timeout, a cancelled caller) cancels the app's handler

    async def _whole(self, connection: _Connection, limits: Deadlines) -> HttpResponse:
        head = await limits.wait(connection.head(), "read")
        headers = _headers(head)
        cap = self._max_response_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise ResponseTooLarge(f"{declared} bytes, more than the gateway's cap of {cap}")
        chunks: list[bytes] = []
        size = 0
        while chunk := await limits.wait(connection.read(), "read"):
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge(f"more than the gateway's cap of {cap} bytes")
            chunks.append(chunk)
        return HttpResponse(head.status_code, headers, b"".join(chunks))

    async def open_stream(self, request: HttpRequest) -> _InProcessStream:
        limits = Deadlines(request.timeouts, streaming=True)
        connection = await self._connect(request)
        try:
            head = await limits.wait(connection.head(), "read")
        except BaseException:
            connection.close()
            raise
        return _InProcessStream(connection, head, limits)

    async def aclose(self) -> None:
        """Close open connections (their handlers are cancelled) and the app. Idempotent; final."""
        self._closed = True
        for connection in list(self._open):
            connection.close()
        if self._server is not None:
            self._server = None
            await asyncio.sleep(0)  # the protocols learn of their lost connections first
            await self._runner.cleanup()

    async def __aenter__(self) -> InProcessTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
