"""`MemoryTransport`: a `Transport` that answers from a function, for unit tests without sockets.

    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, b'{"ok": true}')

    transport = MemoryTransport(handler)
    await call(transport, target, "chat", body)
    assert transport.requests[-1].url.endswith("/chat/completions")

The handler may be async (a slow one trips timeouts as the network would) and may raise
`TransportError` to play a network failure. Streams hand out the response body in `chunk_size` pieces
(default: in one piece), so SSE framing across reads can be exercised. To put every phase of an
attempt in the test's hands (`HttpRequest.timeouts`, see timeouts.py):
- `connect`, awaited before the handler, plays opening the connection (bounded by the connect limit);
- the handler plays the provider until its headers (bounded by the read limit);
- a `Trickle` answer's body comes piece by piece from an async iterator the test drives (an event
  it sets, a queue it fills), each piece bounded by the read limit: a slow first chunk, a stall
  mid-stream, an endless stream.
The total limit (and for a plain call the first-token one, which ends with its body) bounds them
all, as a deadline from the start of the attempt. An expired limit raises `TransportTimeout` with
its phase, as `AiohttpTransport` does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from multidict import CIMultiDict, CIMultiDictProxy

from tfy_gateway.gateway.providers.deadlines import Deadlines
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Trickle:
    """An answer whose body arrives piece by piece, when `pieces` yields it."""

    status: int
    headers: Mapping[str, str]
    pieces: AsyncIterable[bytes]


Answer = HttpResponse | Trickle
Handler = Callable[[HttpRequest], "Answer | Awaitable[Answer]"]
Connect = Callable[[HttpRequest], Awaitable[None]]


class MemoryStream:
    """A response body handed out piece by piece; records whether it was closed and how.

    A whole `HttpResponse` body is cut in `chunk_size` pieces, each there at once; a `Trickle`'s
    pieces come when its iterator yields them, each wait bounded by `limits` (none: unbounded).
    """

    def __init__(self, response: Answer, chunk_size: int | None = None, limits: Deadlines | None = None) -> None:
        self._status = response.status
        self._headers = _case_insensitive(response.headers)
        self._limits = limits
        self._ready: deque[bytes] = deque()
        self._coming: AsyncIterator[bytes] | None = None
        if isinstance(response, Trickle):
            self._coming = aiter(response.pieces)
        else:
            body = response.body
            size = chunk_size or max(1, len(body))
            self._ready.extend(body[i : i + size] for i in range(0, len(body), size))
        self.closed = False
        self.drained: bool | None = None  # the `drain` flag of the (first) aclose

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def fully_read(self) -> bool:
        return not self._ready and self._coming is None

    async def read(self) -> bytes:
        await asyncio.sleep(0)  # a read is a suspension point, as on a socket
        if self.closed:
            return b""
        if self._ready:
            return self._ready.popleft()
        if self._coming is None:
            return b""
        try:
            piece = anext(self._coming)
            return await (self._limits.wait(piece, "read") if self._limits is not None else piece)
        except StopAsyncIteration:
            self._coming = None
            return b""

    async def aclose(self, *, drain: bool = False) -> None:
        if not self.closed:
            self.closed, self.drained = True, drain


class MemoryTransport:
    """Answers every request with `handler(request)`; keeps the requests (and opened streams) it saw.

    connect: awaited first for each request, as opening a connection (a slow one trips the connect
    limit; raising `TransportConnectError` plays a refused connection).
    """

    def __init__(self, handler: Handler, *, chunk_size: int | None = None, connect: Connect | None = None) -> None:
        self._handler = handler
        self._chunk_size = chunk_size
        self._connect = connect
        self.requests: list[HttpRequest] = []
        self.streams: list[MemoryStream] = []

    async def _answer(self, request: HttpRequest, limits: Deadlines) -> Answer:
        self.requests.append(request)
        if self._connect is not None:
            await limits.wait(self._connect(request), "connect")
        answer = self._handler(request)
        if isinstance(answer, (HttpResponse, Trickle)):
            return answer
        return await limits.wait(answer, "read")

    async def post(self, request: HttpRequest) -> HttpResponse:
        limits = Deadlines(request.timeouts, streaming=False)
        answer = await self._answer(request, limits)
        if isinstance(answer, Trickle):
            body = MemoryStream(answer, limits=limits)
            parts = []
            while part := await body.read():
                parts.append(part)
            answer = HttpResponse(answer.status, answer.headers, b"".join(parts))
        return HttpResponse(answer.status, _case_insensitive(answer.headers), answer.body)

    async def open_stream(self, request: HttpRequest) -> MemoryStream:
        limits = Deadlines(request.timeouts, streaming=True)
        stream = MemoryStream(await self._answer(request, limits), self._chunk_size, limits)
        self.streams.append(stream)
        return stream


def _case_insensitive(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Headers looked up case-insensitively, like a real response's."""
    return CIMultiDictProxy(CIMultiDict(headers))
