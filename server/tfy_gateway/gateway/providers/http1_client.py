"""`Http1Client`: plain upstream POSTs over keep-alive HTTP/1.1 connections of its own.

aiohttp's client spends about 80 µs of CPU on a small POST that one asyncio Protocol fed to httptools'
parser (uvicorn's, installed with it) does in about 20: its request and response objects, connector,
timers and signals run on every call, and at c=1 their code and data next to the gateway's no longer
fit the core's cache (references/performance.md, round 6). So `AiohttpTransport.post` sends a POST with
a bytes body through this client; streams and multipart forms stay aiohttp's.

What it keeps of the aiohttp session it stands in for: a pool of idle connections per origin, dropped
after `KEEPALIVE_S` idle (aiohttp's default) or once the server closed them; TLS with the default
verifying context and SNI; redirects returned, never followed; no cookies; gzip and deflate answers
asked for and decompressed; the time limits of `client_timeout` (connect, read silence, total) with
the same phases; a header value with a line break refused (ValueError, as aiohttp). A connection whose
exchange did not end cleanly (an error, a limit, a cancelled caller) is closed, never reused.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import zlib
from collections.abc import Callable, Mapping
from typing import NamedTuple, cast

import anyio
import httptools  # uvicorn[standard]'s HTTP parser; AiohttpTransport checks it imports
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from tfy_gateway.gateway.providers.timeouts import Phase
from tfy_gateway.gateway.providers.transport import (
    ResponseTooLarge,
    TransportConnectError,
    TransportError,
    TransportTimeout,
)

KEEPALIVE_S = 15.0
"""An idle connection older than this is closed rather than reused (aiohttp's keepalive_timeout)."""
USER_AGENT = "tfy-gateway"


class Origin(NamedTuple):
    """Where a URL's request goes and what its head names, parsed once per distinct URL."""

    scheme: str
    host: str
    port: int
    start: str  # "POST <path> HTTP/1.1\r\n"
    host_line: str  # "Host: <host>\r\n", unless the caller's headers name one


@functools.lru_cache(maxsize=256)
def origin_of(url: str) -> Origin:
    """`url` as aiohttp would send it: percent-escapes as written when it has some (a SigV4-signed path
    must go out exactly as signed), else quoted by yarl; the Host header without a default port."""
    parsed = URL(url, encoded=True) if "%" in url else URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.raw_host or parsed.port is None:
        raise TransportConnectError(f"unsupported URL scheme {parsed.scheme!r}")
    start = f"POST {parsed.raw_path_qs} HTTP/1.1\r\n"
    return Origin(parsed.scheme, parsed.raw_host, parsed.port, start, f"Host: {parsed.host_port_subcomponent}\r\n")


class Limits(NamedTuple):
    """One call's limits in seconds (None: none; as aiohttp's ClientTimeout sock_connect, sock_read and
    total) and the phase `total` stands for (see aiohttp_transport.client_timeout)."""

    connect: float | None
    read: float | None
    total: float | None
    overall: Phase


class Answer(NamedTuple):
    """A complete answer, as `HttpResponse` holds it (headers case-insensitive, body decoded)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, forget: Callable[[_Connection], None]) -> None:
        self._loop = loop
        self._forget = forget
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._cap = 0
        self._framed = False  # a content-length or chunked body: its end is known without a close
        self._headers_done = False
        self.keep_alive = False
        self.closed = False
        self.idle_since = 0.0
        self._read_limit: float | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one without subclassing it
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._read_limit is not None:
            self._last_data = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(TransportError("ClientResponseError"))
        except httptools.HttpParserError:
            self._fail(TransportError("ClientResponseError"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._forget(self)
        if self._headers_done and not self._framed:  # a body that ends with the connection
            self.keep_alive = False
            self._finish()
        self._fail(TransportError("ServerDisconnectedError"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        header = (name.decode("latin-1"), value.decode("latin-1"))
        self._headers.append(header)
        lowered = header[0].lower()
        if lowered == "content-length":
            self._framed = True
            if value.isdigit() and int(value) > self._cap:
                self._fail(ResponseTooLarge(f"{int(value)} bytes, more than the gateway's cap of {self._cap}"))
        elif lowered == "transfer-encoding":
            self._framed = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._cap:
            self._fail(ResponseTooLarge(f"more than the gateway's cap of {self._cap} bytes"))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self._parser.should_keep_alive()
        self._finish()

    # the exchange
    def begin(self, cap: int, read_limit: float | None) -> asyncio.Future[None]:
        self._headers, self._body, self._size, self._cap = [], [], 0, cap
        self._framed = self._headers_done = self.keep_alive = False
        self._waiter = waiter = self._loop.create_future()
        self._read_limit = read_limit
        if read_limit is not None:
            self._last_data = self._loop.time()
            self._read_timer = self._loop.call_at(self._last_data + read_limit, self._check_read)
        return waiter

    def answer(self) -> Answer:
        headers = CIMultiDictProxy(CIMultiDict(self._headers))
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        return Answer(self._parser.get_status_code(), headers, _decoded(headers, body, self._cap))

    def expire(self, phase: Phase) -> None:
        self._fail(TransportTimeout(phase))

    def close(self) -> None:
        self.closed = True
        self._stop_read_timer()
        if self.transport is not None:
            self.transport.abort()

    def _check_read(self) -> None:
        limit = self._read_limit
        if limit is None:
            return
        due = self._last_data + limit
        if self._loop.time() >= due:
            self._fail(TransportTimeout("read"))
        else:
            self._read_timer = self._loop.call_at(due, self._check_read)

    def _stop_read_timer(self) -> None:
        self._read_limit = None
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _finish(self) -> None:
        self._stop_read_timer()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: TransportError) -> None:
        self._stop_read_timer()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
            if self.transport is not None:
                self.transport.abort()  # an exchange cut short leaves the connection unusable


def _decoded(headers: CIMultiDictProxy[str], body: bytes, cap: int) -> bytes:
    """The body without its content-encoding (gzip or deflate, which the request offered), at most `cap`
    bytes once decoded."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if not body or encoding not in ("gzip", "deflate", "x-gzip"):
        return body
    for wbits in (47, -15):  # gzip or zlib by their headers; else a raw deflate stream
        decoder = zlib.decompressobj(wbits)
        try:
            decoded = decoder.decompress(body, cap + 1)
        except zlib.error:
            continue
        if len(decoded) > cap or decoder.unconsumed_tail:
            raise ResponseTooLarge(f"more than the gateway's cap of {cap} bytes once decompressed")
        return decoded
    raise TransportError("ClientPayloadError")


class Http1Client:
    """The idle connections of one transport, per origin (create and use it inside one event loop);
    `close` cuts every connection, in use or idle."""

    def __init__(self, max_response_bytes: int, *, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: the context for https origins (default: the system's CAs, verified, as aiohttp's)."""
        self._loop = asyncio.get_running_loop()
        self._cap = max_response_bytes
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._tls = tls
        self._closed = False

    async def post(self, url: str, headers: Mapping[str, str], body: bytes, limits: Limits) -> Answer:
        origin = origin_of(url)
        loop = self._loop
        started = loop.time()
        head = _head(origin, headers, len(body))
        connection = self._reuse(origin)
        if connection is None:
            connection = await self._connect(origin, limits, started)
        try:
            waiter = connection.begin(self._cap, limits.read)
            assert connection.transport is not None
            connection.transport.write(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                connection.transport.write(body)
            timer = (
                None
                if limits.total is None
                else loop.call_at(started + limits.total, connection.expire, limits.overall)
            )
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
            answer = connection.answer()
        except BaseException:
            self._drop(connection)
            raise
        if connection.keep_alive and not connection.closed and not self._closed:
            connection.idle_since = loop.time()
            self._idle.setdefault(origin[:3], []).append(connection)
        else:
            self._drop(connection)
        return answer

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin[:3])
        if not idle:
            return None
        oldest_allowed = self._loop.time() - KEEPALIVE_S
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since >= oldest_allowed:
                if idle and idle[0].idle_since < oldest_allowed:  # the longest idle, past its time
                    self._drop(idle.pop(0))
                return connection
            self._drop(connection)
        return None

    async def _connect(self, origin: Origin, limits: Limits, started: float) -> _Connection:
        if self._closed:
            raise RuntimeError("the upstream transport is closed")
        loop = self._loop
        seconds = limits.connect
        phase: Phase = "connect"
        if limits.total is not None:
            left = started + limits.total - loop.time()
            if seconds is None or left <= seconds:
                seconds, phase = left, limits.overall
        tls = None
        if origin.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            with anyio.fail_after(None if seconds is None else max(seconds, 0.0)):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop, self._open.discard),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                )
        except TimeoutError:
            raise TransportTimeout(phase) from None
        except OSError as exc:
            raise TransportConnectError(exc.strerror or type(exc).__name__) from None
        self._open.add(connection)
        return connection

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    def close(self) -> None:
        """Close every connection: idle ones, and the exchanges under way (they fail)."""
        self._closed = True
        self._idle.clear()
        for connection in list(self._open):
            connection.close()
        self._open.clear()


def _head(origin: Origin, headers: Mapping[str, str], length: int) -> bytes:
    """The request's head: the caller's headers, then what the client adds unless the caller set it."""
    lines = [origin.start]
    names = set()
    for name, value in headers.items():
        lines.append(f"{name}: {value}\r\n")
        names.add(name.lower())
    if "host" not in names:
        lines.append(origin.host_line)
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    if "user-agent" not in names:
        lines.append(f"User-Agent: {USER_AGENT}\r\n")
    lines.append(f"Content-Length: {length}\r\n\r\n")
    head = "".join(lines)
    if head.count("\n") != len(lines) + 1 or head.count("\r") != len(lines) + 1:  # one line each, the end two
        raise ValueError("Newline or carriage return character detected in HTTP status message or header")
    return head.encode("utf-8")
