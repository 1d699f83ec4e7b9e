"""`MemoryTransport`: a `Transport` that answers from a function, for unit tests without sockets.

    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, b'{"ok": true}')

    transport = MemoryTransport(handler)
    await call(transport, target, "chat", body)
    assert transport.requests[-1].url.endswith("/chat/completions")

The handler may be async (a slow one trips timeouts as the network would) and may raise
`TransportError` to play a network failure. Streams hand out the response body in `chunk_size` pieces
(default: in one piece), so SSE framing across reads can be exercised.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse, TransportTimeout

Handler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]


class MemoryStream:
    """A response body handed out piece by piece; records whether it was closed and how."""

    def __init__(self, response: HttpResponse, chunk_size: int | None) -> None:
        self._response = response
        body = response.body
        size = chunk_size or max(1, len(body))
        self._pieces = deque(body[i : i + size] for i in range(0, len(body), size))
        self.closed = False
        self.drained: bool | None = None  # the `drain` flag of the (first) aclose

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def fully_read(self) -> bool:
        return not self._pieces

    async def read(self) -> bytes:
        await asyncio.sleep(0)  # a read is a suspension point, as on a socket
        return self._pieces.popleft() if self._pieces and not self.closed else b""

    async def aclose(self, *, drain: bool = False) -> None:
        if not self.closed:
            self.closed, self.drained = True, drain


class MemoryTransport:
    """Answers every request with `handler(request)`; keeps the requests (and opened streams) it saw."""

    def __init__(self, handler: Handler, *, chunk_size: int | None = None) -> None:
        self._handler = handler
        self._chunk_size = chunk_size
        self.requests: list[HttpRequest] = []
        self.streams: list[MemoryStream] = []

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        answer = self._handler(request)
        if isinstance(answer, HttpResponse):
            response = answer
        else:
            try:
                response = await asyncio.wait_for(answer, request.timeout)
            except asyncio.TimeoutError:
                raise TransportTimeout("timed out") from None
        headers = CIMultiDictProxy(CIMultiDict(response.headers))  # case-insensitive, like a real response
        return HttpResponse(response.status, headers, response.body)

    async def post(self, request: HttpRequest) -> HttpResponse:
        return await self._answer(request)

    async def open_stream(self, request: HttpRequest) -> MemoryStream:
        stream = MemoryStream(await self._answer(request), self._chunk_size)
        self.streams.append(stream)
        return stream
