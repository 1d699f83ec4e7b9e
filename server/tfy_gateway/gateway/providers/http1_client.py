"""`Http1Client`: plain upstream POSTs over keep-alive HTTP/1.1 connections of its own.

aiohttp's client spends about 80 µs of CPU on a small POST that one asyncio Protocol fed to httptools'
parser (uvicorn's, installed with it) does in about 20: its request and response objects, connector,
timers and signals run on every call, and at c=1 their code and data next to the gateway's no longer
fit the core's cache (references/performance.md, round 6). So `AiohttpTransport` sends a POST with a
bytes body, plain or streamed, through this client; multipart forms stay aiohttp's.

What it keeps of the aiohttp session it stands in for: a pool of idle connections per origin, dropped
after `KEEPALIVE_S` idle (aiohttp's default) or once the server closed them; TLS with the default
verifying context and SNI; redirects returned, never followed; no cookies; gzip and deflate answers
asked for and decompressed; the time limits of `client_timeout` (connect, read silence, total) with
the same phases; a header value with a line break refused (ValueError, as aiohttp). A connection whose
exchange did not end cleanly (an error, a limit, a cancelled caller) is closed, never reused. A host's
addresses are looked up once per 300 s for every new connection to it (`HostAddresses`), as aiohttp's
DNS cache did.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import zlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple, cast

import anyio
import httptools  # uvicorn[standard]'s HTTP parser; AiohttpTransport checks it imports
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from tfy_gateway.gateway.providers.host_addresses import HostAddresses
from tfy_gateway.gateway.providers.timeouts import Phase
from tfy_gateway.gateway.providers.transport import (
    STREAM_DRAIN_S,
    ResponseTooLarge,
    TracedHeaders,
    TransportConnectError,
    TransportError,
    TransportTimeout,
)

KEEPALIVE_S = 15.0
"""An idle connection older than this is closed rather than reused (aiohttp's keepalive_timeout)."""
USER_AGENT = "tfy-gateway"
FRAMING = frozenset(("content-length", "transfer-encoding"))
ENCODINGS = "gzip, deflate"
"""What a whole answer may come in (decoded here); a stream asks for none (identity) but is decoded too."""
STREAM_BUFFER = 256 * 1024
"""A stream's unread bytes past which the connection stops reading until its reader catches up."""
KEPT_HEADS = 256
"""The request heads kept (`Http1Client._head`): one per target, endpoint and kind of call in use."""


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
    if parsed.scheme not in ("http", "https"):
        raise TransportConnectError(f"unsupported URL scheme {parsed.scheme!r} (http or https)")
    if not parsed.raw_host or parsed.port is None:
        raise TransportConnectError("the upstream URL names no host; check the provider account's base_url")
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
    """One keep-alive connection; one exchange at a time. The parser's callbacks record what arrived
    and wake whoever waits (`wait`); the caller reads the state (`_Http1Stream`, `Http1Client.post`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, forget: Callable[[_Connection], None]) -> None:
        self._loop = loop
        self._forget = forget
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self._size = 0
        self._cap: int | None = None
        self._framed = False  # a content-length or chunked body: its end is known without a close
        self.headers_done = False
        self._informational = False
        self.eof = False
        self.error: TransportError | None = None
        self.keep_alive = False
        self.closed = False
        self._paused = False
        self.idle_since = 0.0
        self._read_limit: float | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._total_timer: asyncio.TimerHandle | None = None
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
        except httptools.HttpParserError:  # HttpParserUpgrade too: nothing here speaks another protocol
            self.fail(TransportError("ClientResponseError"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._forget(self)
        if self.headers_done and not self._framed and not self.eof:  # a body that ends with the connection
            self.keep_alive = False
            self.on_message_complete()
        self.fail(TransportError("ServerDisconnectedError"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        header = (name.decode("latin-1"), value.decode("latin-1"))
        self.headers.append(header)
        lowered = header[0].lower()
        if lowered == "content-length":
            self._framed = True
            cap = self._cap
            if cap is not None and value.isdigit() and int(value) > cap:
                self.fail(ResponseTooLarge(f"{int(value)} bytes, more than the gateway's cap of {cap}"))
        elif lowered == "transfer-encoding":
            self._framed = True

    def on_headers_complete(self) -> None:
        if self._parser.get_status_code() < 200:  # 103 Early Hints and the like: the answer follows
            self._informational = True
            return
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        cap = self._cap
        if cap is None:  # a stream: held back while the reader is behind
            self.chunks.append(body)
            self._wake()
            if self._size > STREAM_BUFFER and not self._paused and self.transport is not None:
                self._paused = True
                self.transport.pause_reading()
        elif self._size > cap:
            self.fail(ResponseTooLarge(f"more than the gateway's cap of {cap} bytes"))
        else:
            self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = self._framed = False
            self.headers = []
            return
        if self.error is None:
            self.keep_alive = self._parser.should_keep_alive()
            self.eof = True
            self.stop_timers()
            self._wake()

    # the exchange
    def begin(self, cap: int | None, limits: Limits, started: float) -> None:
        """Ready for a new exchange; `cap` None: a stream (read as it comes, no size cap)."""
        self.headers, self.chunks, self._size, self._cap = [], [], 0, cap
        self._framed = self.headers_done = self.eof = self.keep_alive = self._informational = False
        self.error = None
        loop = self._loop
        if limits.read is not None:
            self._read_limit = limits.read
            self._last_data = loop.time()
            self._read_timer = loop.call_at(self._last_data + limits.read, self._check_read)
        if limits.total is not None:
            self._total_timer = loop.call_at(started + limits.total, self.fail, TransportTimeout(limits.overall))

    async def wait(self) -> None:
        """Until something arrives (headers, body, the end, an error)."""
        self._waiter = waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def take(self) -> bytes:
        """The body read so far, handed over (a paused stream reads on)."""
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks, self._size = [], 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def status_and_headers(self) -> tuple[int, CIMultiDictProxy[str]]:
        return self._parser.get_status_code(), CIMultiDictProxy(CIMultiDict(self.headers))

    def fail(self, error: TransportError) -> None:
        """End the exchange with `error` (unless it ended already); the connection cannot be reused."""
        if self.eof or self.error is not None:
            return
        self.error = error
        self.stop_timers()
        self._wake()
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.closed = True
        self.stop_timers()
        if self.transport is not None:
            self.transport.abort()

    def stop_timers(self) -> None:
        self._read_limit = None
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        if self._total_timer is not None:
            self._total_timer.cancel()
            self._total_timer = None

    def _check_read(self) -> None:
        limit = self._read_limit
        if limit is None:
            return
        if self._paused:  # not reading while the stream's reader is behind: not the server's silence
            self._last_data = self._loop.time()
        due = self._last_data + limit
        if self._loop.time() >= due:
            self.fail(TransportTimeout("read"))
        else:
            self._read_timer = self._loop.call_at(due, self._check_read)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Http1Stream:
    """An answer read as it arrives (`HttpStream`); its connection goes back to the pool only when
    the body was read to its end."""

    def __init__(self, client: Http1Client, origin: Origin, connection: _Connection) -> None:
        self._client = client
        self._origin = origin
        self._connection: _Connection | None = connection
        self.status, self.headers = connection.status_and_headers()
        encoding = self.headers.get("content-encoding", "").strip().lower()
        self._decoder = zlib.decompressobj(47) if encoding in ("gzip", "x-gzip", "deflate") else None

    async def read(self) -> bytes:
        connection = self._connection
        if connection is None:
            return b""
        while not connection.chunks:
            if connection.error is not None:
                raise connection.error
            if connection.eof:
                return b""
            await connection.wait()
        data = connection.take()
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error:
                raise TransportError("ClientPayloadError") from None
        return data

    async def aclose(self, *, drain: bool = False) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if drain and not connection.eof and connection.error is None:
                loop = asyncio.get_running_loop()
                until = loop.time() + STREAM_DRAIN_S
                while not connection.eof and connection.error is None and loop.time() < until:
                    connection.take()
                    alarm = loop.call_at(until, connection.fail, TransportTimeout("read"))
                    try:
                        await connection.wait()
                    finally:
                        alarm.cancel()
        finally:
            self._client.release(self._origin, connection)


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
        self._addresses = HostAddresses(self._loop)
        # Requests written during the current loop turn after its first; None: none sent in this turn yet.
        self._deferred: list[tuple[_Connection, bytes | tuple[bytes, bytes]]] | None = None
        # Head fields of shared read-only headers, by the ids of the headers and the origin (each entry
        # holds both, so neither id can be another object's while it is kept): all of them, then the
        # caller's and the client's apart, for a trace context's lines to go between.
        self._heads: dict[tuple[int, int, str], tuple[Mapping[str, str], Origin, bytes, bytes, bytes]] = {}

    async def post(self, url: str, headers: Mapping[str, str], body: bytes, limits: Limits) -> Answer:
        """POST and read the whole answer (at most the size cap, decoded)."""
        origin = origin_of(url)
        head = self._head(origin, headers, len(body), ENCODINGS)
        connection = await self._send(origin, head, body, limits, self._cap)
        try:
            while not connection.eof:
                if connection.error is not None:
                    raise connection.error
                await connection.wait()
            status, answer_headers = connection.status_and_headers()
            answer = Answer(status, answer_headers, _decoded(answer_headers, connection.take(), self._cap))
        except BaseException:
            self._drop(connection)
            raise
        self.release(origin, connection)
        return answer

    async def open_stream(self, url: str, headers: Mapping[str, str], body: bytes, limits: Limits) -> _Http1Stream:
        """POST and return once the answer's headers arrived; `limits.total` runs until its end."""
        origin = origin_of(url)
        connection = await self._send(origin, self._head(origin, headers, len(body), "identity"), body, limits, None)
        try:
            while not connection.headers_done:
                if connection.error is not None:
                    raise connection.error
                await connection.wait()
        except BaseException:
            self._drop(connection)
            raise
        return _Http1Stream(self, origin, connection)

    def _head(self, origin: Origin, headers: Mapping[str, str], length: int, encodings: str) -> bytes:
        """The request's head. A target's headers when nothing is added per call come as one shared
        read-only mapping (`wire.build_headers`): the fields of those are built once and kept. With a
        trace context added (`TracedHeaders`), the kept fields take the trace's lines where the
        caller's headers end: the same head as the mapping's own, without building it again."""
        trace = None
        if type(headers) is TracedHeaders:
            if not _appendable(headers):
                return _head(origin, headers, length, encodings)
            trace, headers = headers.trace, headers.shared
        if type(headers) is not MappingProxyType:
            return _head(origin, headers, length, encodings)
        key = (id(headers), id(origin), encodings)
        kept = self._heads.get(key)
        if kept is None or kept[0] is not headers or kept[1] is not origin:
            if len(self._heads) >= KEPT_HEADS:
                self._heads.clear()
            own, added = _parts(origin, headers, encodings)
            kept = self._heads[key] = (headers, origin, own + added, own, added)
        if trace is None:
            return kept[2] + b"Content-Length: %d\r\n\r\n" % length
        return kept[3] + _lines(trace) + kept[4] + b"Content-Length: %d\r\n\r\n" % length

    async def _send(self, origin: Origin, head: bytes, body: bytes, limits: Limits, cap: int | None) -> _Connection:
        started = self._loop.time()
        connection = self._reuse(origin)
        if connection is None:
            connection = await self._connect(origin, limits, started)
        connection.begin(cap, limits, started)
        transport = connection.transport
        assert transport is not None
        message = head + body if len(body) < 65536 else (head, body)
        deferred = self._deferred
        if deferred is None:  # the first request of this loop turn goes out at once
            _write(transport, message)
            self._deferred = []
            self._loop.call_soon(self._end_turn)
        else:
            deferred.append((connection, message))
        return connection

    def _end_turn(self) -> None:
        """Send the requests deferred during this loop turn, back to back: the upstream, woken by the
        turn's first request, takes them in one go rather than being woken for each (the wake-up,
        charged to the writer, cost ~10 µs a request at c=32)."""
        deferred, self._deferred = self._deferred, None
        for connection, message in deferred or ():
            transport = connection.transport
            if transport is None or transport.is_closing():  # its exchange failed or was given up meanwhile
                continue
            try:
                _write(transport, message)
            except Exception as exc:  # as the write would have failed its caller's call, not the others'
                connection.fail(TransportError(type(exc).__name__))

    def release(self, origin: Origin, connection: _Connection) -> None:
        """Back to the pool after an exchange that ended properly; otherwise closed."""
        connection.stop_timers()
        if connection.eof and connection.keep_alive and not connection.closed and not self._closed:
            connection.idle_since = self._loop.time()
            self._idle.setdefault(origin[:3], []).append(connection)
        else:
            self._drop(connection)

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

        def protocol() -> _Connection:
            return _Connection(loop, self._open.discard)

        try:
            if seconds is None:
                connection = await self._dial(protocol, origin, tls)
            else:
                with anyio.fail_after(max(seconds, 0.0)):
                    connection = await self._dial(protocol, origin, tls)
        except TimeoutError:
            raise TransportTimeout(phase) from None
        except OSError as exc:
            raise TransportConnectError(exc.strerror or type(exc).__name__) from None
        self._open.add(connection)
        return connection

    async def _dial(
        self, protocol: Callable[[], _Connection], origin: Origin, tls: ssl.SSLContext | None
    ) -> _Connection:
        """A connection to the first of the host's (cached) addresses that accepts one."""
        hostname = origin.host if tls is not None else None
        failure: OSError = OSError(f"no address for {origin.host}")
        for family, address in await self._addresses.of(origin.host, origin.port):
            try:
                _, connection = await self._loop.create_connection(
                    protocol, address[0], address[1], family=family, ssl=tls, server_hostname=hostname
                )
            except OSError as exc:
                failure = exc
                continue
            return connection
        raise failure

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


def _write(transport: asyncio.Transport, message: bytes | tuple[bytes, bytes]) -> None:
    if isinstance(message, bytes):
        transport.write(message)
    else:
        transport.writelines(message)


def _head(origin: Origin, headers: Mapping[str, str], length: int, encodings: str) -> bytes:
    """The request's head: its fields (`_parts`), then the body's length."""
    own, added = _parts(origin, headers, encodings)
    return own + added + b"Content-Length: %d\r\n\r\n" % length


ADDED = frozenset(("host", "accept-encoding", "user-agent"))
"""The fields the client adds when the caller's headers do not name them."""


def _parts(origin: Origin, headers: Mapping[str, str], encodings: str) -> tuple[bytes, bytes]:
    """The request line with the caller's header fields, and the fields the client adds unless the
    caller set them (`encodings`: the Accept-Encoding it offers); the length is the caller's to add."""
    lines = [origin.start]
    names = set()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in FRAMING:  # the body is framed by the length `_head` adds, whatever the caller said
            continue
        lines.append(f"{name}: {value}\r\n")
        names.add(lowered)
    own = _checked(lines)
    added = []
    if "host" not in names:
        added.append(origin.host_line)
    if "accept-encoding" not in names:
        added.append(f"Accept-Encoding: {encodings}\r\n")
    if "user-agent" not in names:
        added.append(f"User-Agent: {USER_AGENT}\r\n")
    return own, _checked(added)


def _appendable(headers: TracedHeaders) -> bool:
    """Whether the trace's lines may simply follow the shared headers' (`Http1Client._head`): each of
    its names new to them, none that the client frames or adds itself."""
    shared = headers.shared
    for name in headers.trace:
        lowered = name.lower()
        if name in shared or lowered in FRAMING or lowered in ADDED:
            return False
    return True


def _lines(headers: Mapping[str, str]) -> bytes:
    """`headers` as header fields."""
    return _checked([f"{name}: {value}\r\n" for name, value in headers.items()])


def _checked(lines: list[str]) -> bytes:
    """`lines` as bytes, each a single line (a name or value with a line break is refused, as aiohttp)."""
    fields = "".join(lines)
    if fields.count("\n") != len(lines) or fields.count("\r") != len(lines):  # one line each
        raise ValueError("Newline or carriage return character detected in HTTP status message or header")
    return fields.encode("utf-8")
