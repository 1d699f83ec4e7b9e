"""`AiohttpTransport`: the production `Transport`, one pooled aiohttp session for every upstream call.

A POST with a bytes body, plain or streamed, goes through `Http1Client` instead (http1_client.py:
keep-alive HTTP/1.1 connections of its own, about 80 µs less CPU a call than aiohttp's client) when
httptools is installed and the pool is unlimited; multipart forms and a limited pool stay aiohttp's.
Everything below holds for both.

The session is built on first use (inside the running loop) from a connection limit, with a 300 s DNS
cache and no session-wide timeout: each request carries its own (`HttpRequest.timeouts`), as aiohttp's
`sock_connect` (connect), `sock_read` (read) and `total` (total; for a plain call, the tighter of
first_token and total). A plain call whose only limit is a long overall one (the gateway's default
`upstream_timeout_s`) is watched by `CoarseDeadlines` instead of an aiohttp timer of its own (the same
one-second precision, a fraction of the CPU). Redirects are never followed: a provider's 3xx goes back
to the caller, and credentials never travel to another host. The session keeps no cookies: it is
shared by every caller of the gateway, and a cookie one provider answer set must not ride along with
another caller's request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp
from yarl import URL

from tfy_gateway.gateway.providers.coarse_deadlines import COARSE_FROM_S, CoarseDeadlines
from tfy_gateway.gateway.providers.timeouts import Phase, Timeouts
from tfy_gateway.gateway.providers.transport import (
    STREAM_DRAIN_S,
    FormField,
    FormFile,
    HttpRequest,
    HttpResponse,
    HttpStream,
    ResponseTooLarge,
    TransportConnectError,
    TransportError,
    TransportTimeout,
)

if TYPE_CHECKING:
    from tfy_gateway.gateway.providers.http1_client import Http1Client, Limits

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a non-streamed answer read into memory, at most
KEPT_LIMITS = 64
"""The `Timeouts` whose plain-call limits a transport keeps (one per configuration and request header value)."""
_NETWORK_ERRORS = (asyncio.TimeoutError, aiohttp.ClientError, OSError)


@functools.lru_cache(maxsize=256)
def client_timeout(timeouts: Timeouts, *, streaming: bool) -> tuple[aiohttp.ClientTimeout | None, Phase]:
    """aiohttp's timeout for `timeouts`, and the phase its `total` stands for.

    A plain call ends with its first token, so its `total` is the tighter of first_token and total;
    a stream's first_token is its reader's. `sock_connect`/`sock_read` are set only when tighter than
    that `total`, so that an expiry is reported as the phase whose limit it was."""
    bound, phase = timeouts.overall(streaming=streaming)
    connect, read = timeouts.connect, timeouts.read
    if connect is not None and bound is not None and connect >= bound:
        connect = None
    if read is not None and bound is not None and read >= bound:
        read = None
    if bound is None and connect is None and read is None:
        return None, phase
    return aiohttp.ClientTimeout(total=bound, sock_connect=connect, sock_read=read), phase


@functools.lru_cache(maxsize=256)
def _limits(limit: aiohttp.ClientTimeout | None, overall: Phase) -> Limits:
    """`limit` as the lean client takes it."""
    from tfy_gateway.gateway.providers.http1_client import Limits

    if limit is None:
        return Limits(None, None, None, overall)
    return Limits(limit.sock_connect, limit.sock_read, limit.total, overall)


class PlainLimits(NamedTuple):
    """A plain call's limits under one `Timeouts` (`plain_limits`)."""

    limit: aiohttp.ClientTimeout | None  # aiohttp's (`client_timeout`)
    overall: Phase  # the phase `limit.total` stands for
    coarse: float | None  # the bound a CoarseDeadlines can watch instead (`coarse_bound`)
    lean: Limits  # `limit` as the lean client takes it
    watched: Limits  # the same when the coarse watch has the bound: none of aiohttp's


def plain_limits(timeouts: Timeouts) -> PlainLimits:
    """The limits of a plain call under `timeouts` (`AiohttpTransport` keeps them per `Timeouts`)."""
    limit, overall = client_timeout(timeouts, streaming=False)
    return PlainLimits(limit, overall, coarse_bound(limit), _limits(limit, overall), _limits(None, overall))


def coarse_bound(limit: aiohttp.ClientTimeout | None) -> float | None:
    """The overall limit a `CoarseDeadlines` can watch instead of aiohttp: a long `total` alone."""
    if limit is None or limit.sock_connect is not None or limit.sock_read is not None:
        return None
    total = limit.total
    return total if total is not None and total >= COARSE_FROM_S else None


def _error(exc: BaseException, overall: Phase) -> TransportError:
    """`overall`: the phase aiohttp's `total` stands for (see client_timeout)."""
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return TransportTimeout("read")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportTimeout("connect")
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's `total`, whichever step it interrupted
        return TransportTimeout(overall)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportConnectError(exc.os_error.strerror or type(exc.os_error).__name__)
    return TransportError(type(exc).__name__)


def form_data(fields: Mapping[str, FormField]) -> aiohttp.FormData:
    """A multipart form as aiohttp encodes it (also what `InProcessTransport` sends); a repeated field
    is sent once per value."""
    form = aiohttp.FormData()
    for name, field in fields.items():
        for value in field if isinstance(field, tuple) else (field,):
            if isinstance(value, FormFile):
                form.add_field(name, value.content, filename=value.filename, content_type=value.content_type)
            else:
                form.add_field(name, value)
    return form


def _data(request: HttpRequest) -> bytes | aiohttp.FormData:
    return request.body if request.form is None else form_data(request.form)


class _AiohttpStream:
    """An open aiohttp response read with `readany` (whatever arrived, no line buffering here)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.content.readany()
        except _NETWORK_ERRORS as exc:
            raise _error(exc, "total") from None

    async def aclose(self, *, drain: bool = False) -> None:
        content = self._response.content
        if drain and not content.is_eof():
            with contextlib.suppress(*_NETWORK_ERRORS):
                await asyncio.wait_for(content.read(), STREAM_DRAIN_S)
        if content.is_eof():
            self._response.release()  # back to the pool
        else:
            self._response.close()


def _base_options(request: HttpRequest) -> dict[str, Any]:
    return {"data": _data(request), "headers": dict(request.headers), "allow_redirects": False}


def _url(url: str) -> str | URL:
    """Percent-escapes are sent as written: yarl would otherwise decode some (`%3A` in a Bedrock model
    id), and a request signed with AWS SigV4 must go out exactly as it was signed."""
    return URL(url, encoded=True) if "%" in url else url


def _http1_client() -> type[Http1Client] | None:
    """The lean client's class, imported here (the transport is built off the loop: see
    DeferredTransport); None without its parser (httptools, installed with uvicorn[standard])."""
    try:
        from tfy_gateway.gateway.providers.http1_client import Http1Client
    except ImportError:
        return None
    return Http1Client


class AiohttpTransport:
    """Owns the pooled session; close it with `aclose()` or use the transport as an async context manager.

    connection_limit: the pool size (0 = unlimited, aiohttp's meaning).
    max_response_bytes: the largest non-streamed answer read into memory (ResponseTooLarge above it),
      so that a runaway upstream cannot take the gateway's memory.
    """

    def __init__(
        self, connection_limit: int = 0, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, http1: bool = True
    ) -> None:
        self._connection_limit = connection_limit
        self._max_response_bytes = max_response_bytes
        # Plain POSTs through the lean client when it can be used (see http1_client.py); the pool
        # limit is aiohttp's, so a limited pool keeps every call on aiohttp.
        self._http1_client: type[Http1Client] | None = _http1_client() if http1 and connection_limit == 0 else None
        self._http1: Http1Client | None = None
        self._session: aiohttp.ClientSession | None = None
        self._deadlines: CoarseDeadlines | None = None
        self._closed = False
        # A plain call's limits by the id of its `Timeouts`, which each entry holds (so that the id
        # cannot be another object's while it is kept): the calls of one configuration share the
        # gateway's own, and deriving them (an aiohttp ClientTimeout, its coarse bound, the lean
        # client's form; hashing a Timeouts for an lru_cache too) cost more than this lookup.
        self._plain_limits: dict[int, tuple[Timeouts, PlainLimits]] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the upstream transport is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None), cookie_jar=aiohttp.DummyCookieJar()
            )
            self._deadlines = CoarseDeadlines(asyncio.get_running_loop())
            if self._http1_client is not None:
                self._http1 = self._http1_client(self._max_response_bytes)
        return self._session

    @property
    def coarse_deadlines(self) -> CoarseDeadlines | None:
        """The shared once-a-second deadline watch (a stream's long first-token limit uses it too);
        None until the first call built the session."""
        return self._deadlines

    def _options(self, request: HttpRequest, *, streaming: bool) -> tuple[dict[str, Any], Phase]:
        options = _base_options(request)
        limit, overall = client_timeout(request.timeouts, streaming=streaming)
        if limit is not None:
            options["timeout"] = limit
        return options, overall

    async def post(self, request: HttpRequest) -> HttpResponse:
        session = self._client()
        timeouts = request.timeouts
        kept = self._plain_limits.get(id(timeouts))
        if kept is None or kept[0] is not timeouts:
            if len(self._plain_limits) >= KEPT_LIMITS:
                self._plain_limits.clear()
            kept = self._plain_limits[id(timeouts)] = (timeouts, plain_limits(timeouts))
        limits = kept[1]
        coarse, overall = limits.coarse, limits.overall
        deadlines = self._deadlines
        if coarse is None or deadlines is None:
            return await self._send(session, request, limits.limit, overall, limits.lean)
        deadline = deadlines.start(coarse)
        try:
            return await self._send(session, request, None, overall, limits.watched)
        except asyncio.CancelledError:
            if deadlines.timed_out(deadline):
                raise TransportTimeout(overall) from None
            raise
        finally:
            deadlines.finish(deadline)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        request: HttpRequest,
        limit: aiohttp.ClientTimeout | None,
        overall: Phase,
        lean: Limits,
    ) -> HttpResponse:
        """`lean`: `limit` (and `overall`) as the lean client takes them."""
        http1 = self._http1
        if http1 is not None and request.form is None:
            status, headers, body = await http1.post(request.url, request.headers, request.body, lean)
            return HttpResponse(status, headers, body)
        options = _base_options(request)
        if limit is not None:
            options["timeout"] = limit
        return await self._post(session, request.url, options, overall)

    async def _post(
        self, session: aiohttp.ClientSession, url: str, options: dict[str, Any], overall: Phase
    ) -> HttpResponse:
        try:
            async with session.post(_url(url), **options) as response:
                body = await self._read_capped(response)
                return HttpResponse(response.status, response.headers, body)
        except _NETWORK_ERRORS as exc:
            raise _error(exc, overall) from None

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self._max_response_bytes
        declared = response.content_length
        if declared is not None:
            if declared > cap:
                raise ResponseTooLarge(f"{declared} bytes, more than the gateway's cap of {cap}")
            return await response.read()  # the usual case: one read, the length is known and allowed
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge(f"more than the gateway's cap of {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def open_stream(self, request: HttpRequest) -> HttpStream:
        session = self._client()
        http1 = self._http1
        if http1 is not None and request.form is None:
            limit, overall = client_timeout(request.timeouts, streaming=True)
            return await http1.open_stream(request.url, request.headers, request.body, _limits(limit, overall))
        options, overall = self._options(request, streaming=True)
        try:
            response = await session.post(_url(request.url), **options)
        except _NETWORK_ERRORS as exc:
            raise _error(exc, overall) from None
        return _AiohttpStream(response)

    async def aclose(self) -> None:
        """Close the pool (open streams are cut). Idempotent; the transport is unusable afterwards."""
        self._closed = True
        if self._deadlines is not None:
            self._deadlines.close()
        if self._http1 is not None:
            self._http1.close()
            self._http1 = None
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
