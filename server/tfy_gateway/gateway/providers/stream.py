"""Upstream SSE streams re-emitted as OpenAI chunk events.

`UpstreamStream` is what the data plane iterates: each item is one complete SSE event
(`b"data: {...}\\n\\n"`, the last one `b"data: [DONE]\\n\\n"`), ready to write to the client. After the
iteration `usage`, `finish_reason`, `ttft` and `duration` are known. Closing the stream early (client
went away) closes the upstream connection, which cancels the generation upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from tfy_gateway.gateway.providers.base import (
    UpstreamError,
    UpstreamTarget,
    UpstreamTimeout,
    Usage,
    credential_values,
    redact,
)
from tfy_gateway.gateway.providers.transport import open_stream, transport_error

DONE = b"data: [DONE]\n\n"
_DRAIN_SECONDS = 1.0


class SSEDecoder:
    """Incremental `text/event-stream` parser over an aiohttp body: yields (event name, data)."""

    def __init__(self, content: aiohttp.StreamReader) -> None:
        self._content = content
        self._lines: deque[bytes] = deque()
        self._partial = b""

    async def _line(self) -> bytes | None:
        while not self._lines:
            chunk = await self._content.readany()
            if not chunk:
                if self._partial:
                    line, self._partial = self._partial, b""
                    return line.rstrip(b"\r")
                return None
            parts = (self._partial + chunk).split(b"\n")
            self._partial = parts.pop()
            self._lines.extend(parts)
        return self._lines.popleft().rstrip(b"\r")

    async def next_event(self) -> tuple[str, bytes] | None:
        """The next event with data, or None at the end of the body. Comments are skipped."""
        event = ""
        data: list[bytes] = []
        while True:
            line = await self._line()
            if line is None:
                return (event, b"\n".join(data)) if data else None
            if not line:
                if data:
                    return event, b"\n".join(data)
                event = ""
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode("utf-8", "replace")


class UpstreamStream:
    """Base of every adapter's stream; subclasses implement `_handle(event, data)` and `_end()`."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        target: UpstreamTarget,
        *,
        started: float,
        timeout: float | None,
        url: str,
    ) -> None:
        self.status = response.status
        self.headers = response.headers
        self.target = target
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.ttft: float | None = None  # seconds from sending the request to the first output token
        self.duration: float | None = None  # seconds from sending the request to the end of the stream
        self.completed = False  # the upstream ended the stream properly
        self._response = response
        self._decoder = SSEDecoder(response.content)
        self._started = started
        self._timeout = timeout
        self._url = url
        self._pending: deque[bytes] = deque()
        self._eof = False
        self._closed = False

    def __aiter__(self) -> UpstreamStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._pending:
            if self._eof:
                await self.aclose()
                raise StopAsyncIteration
            await self._pull()
        return self._pending.popleft()

    async def __aenter__(self) -> UpstreamStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def prefetch(self) -> None:
        """Read until the first chunk is buffered, so failures before it can still be retried."""
        while not self._pending and not self._eof:
            await self._pull()

    async def aclose(self) -> None:
        """Release the upstream connection: back to the pool if the body was read to the end,
        otherwise closed (which is how a client disconnect cancels the upstream generation)."""
        if self._closed:
            return
        self._closed = True
        if self.completed and not self._response.content.is_eof():
            with contextlib.suppress(asyncio.TimeoutError, aiohttp.ClientError, OSError):
                await asyncio.wait_for(self._response.content.read(), _DRAIN_SECONDS)
        if self._response.content.is_eof():
            self._response.release()
        else:
            self._response.close()

    async def _pull(self) -> None:
        try:
            event = await self._decoder.next_event()
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
            await self.aclose()
            raise transport_error(self.target, self._url, exc, self._timeout) from None
        try:
            if event is None:
                self._end()
                self._finish()
            else:
                self._handle(event[0], event[1])
        except UpstreamError:
            await self.aclose()
            raise

    def _emit(self, chunk: bytes) -> None:
        self._pending.append(chunk)

    def _first_token(self) -> None:
        if self.ttft is None:
            self.ttft = time.perf_counter() - self._started

    def _finish(self) -> None:
        self._eof = True
        self.duration = time.perf_counter() - self._started

    def _handle(self, event: str, data: bytes) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        """The upstream body ended without an explicit end-of-stream event."""
        raise NotImplementedError


def stream_error(target: UpstreamTarget, payload: dict[str, Any]) -> UpstreamError:
    """An error event inside a stream (`{"error": {...}}`)."""
    error = payload.get("error")
    message = "upstream reported an error mid-stream"
    status = 502
    error_type = None
    if isinstance(error, dict):
        message = str(error.get("message") or message)
        code = error.get("code")
        if isinstance(code, int) and 400 <= code <= 599:
            status = code
        error_type = str(error.get("type") or "") or None
    elif isinstance(error, str):
        message = error
    return UpstreamError(status, redact(message, credential_values(target)), target.provider, error_type=error_type)


StreamFactory = Callable[[aiohttp.ClientResponse, float], UpstreamStream]


async def start_stream(
    session: aiohttp.ClientSession,
    target: UpstreamTarget,
    url: str,
    *,
    headers: Mapping[str, str],
    data: Any,
    factory: StreamFactory,
    timeout: float | None,
    ttft_timeout: float | None,
) -> UpstreamStream:
    """Open the stream and buffer its first chunk before returning.

    Everything up to the first chunk happens before any byte reaches the client, so the data plane can
    still retry or fall back on errors here. The first chunk must arrive within `ttft_timeout`
    (UpstreamTimeout 408) and within `timeout` (UpstreamTimeout 504), whichever is shorter.
    """
    started = time.perf_counter()

    async def opening() -> UpstreamStream:
        response = await open_stream(session, target, url, headers=headers, data=data, timeout=timeout)
        stream = factory(response, started)
        try:
            await stream.prefetch()
        except BaseException:
            await stream.aclose()
            raise
        return stream

    limits = [t for t in (timeout, ttft_timeout) if t is not None]
    if not limits:
        return await opening()
    try:
        return await asyncio.wait_for(opening(), min(limits))
    except asyncio.TimeoutError:
        if ttft_timeout is not None and (timeout is None or ttft_timeout <= timeout):
            message = f"{target.provider} sent no first token within {ttft_timeout:g}s"
            raise UpstreamTimeout(408, message, target.provider) from None
        raise UpstreamTimeout(504, f"{target.provider} did not answer within {timeout:g}s", target.provider) from None
