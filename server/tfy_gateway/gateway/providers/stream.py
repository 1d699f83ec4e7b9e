"""Upstream SSE streams re-emitted as OpenAI chunk events.

`UpstreamStream` is what the data plane iterates: each item is one complete SSE event
(`b"data: {...}\\n\\n"`, the last one `b"data: [DONE]\\n\\n"`), ready to write to the client. After the
iteration `usage`, `finish_reason`, `ttft` and `duration` are known. Closing the stream early (client
went away) closes the upstream connection, which cancels the generation upstream.

The stream does the reading, timing and closing; what each event means is its `ChunkTranslator`'s
business (pure, see wire.py), so both halves are testable on their own.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import anyio

from tfy_gateway.gateway.providers.base import (
    UpstreamError,
    UpstreamStreamCut,
    UpstreamTarget,
    UpstreamTimeout,
    Usage,
    error_from_body,
    redirect_refused,
)
from tfy_gateway.gateway.providers.coarse_deadlines import COARSE_FROM_S, coarse_deadlines_of
from tfy_gateway.gateway.providers.timeouts import Timeouts
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpStream, Transport, TransportError
from tfy_gateway.gateway.providers.wire import (
    DONE,
    ChunkTranslator,
    ErrorReader,
    EventFraming,
    Translated,
    transport_error,
)


class SSEDecoder:
    """Incremental `text/event-stream` parser over a streamed body: yields (event name, data).

    The body is kept as one buffer and a read position (no copy per line). The usual event, one
    `data: ...` line and a blank line already read whole, is cut out of the buffer at once; anything
    else (comments, named events, several data lines, CRLF endings) goes line by line. An event not
    yet complete is parsed again from its start once more of the body arrived. `buffered_event`
    gives the events a read brought beyond the first without waiting for the body."""

    def __init__(self, body: HttpStream) -> None:
        self._body = body
        self._buffer = b""
        self._pos = 0
        self._eof = False

    async def _more(self) -> bool:
        """Append the body's next read to what is left of the buffer; False at the end of the body."""
        if self._eof:
            return False
        chunk = await self._body.read()
        if not chunk:
            self._eof = True
            return False
        self._buffer = self._buffer[self._pos :] + chunk if self._pos < len(self._buffer) else chunk
        self._pos = 0
        return True

    def _parse(self, *, final: bool) -> tuple[str, bytes] | None:
        """The next complete event in the buffer, consumed; None when none is complete (nothing is
        consumed then). `final`: the body has ended, so an unterminated last line and event count."""
        buffer, pos = self._buffer, self._pos
        if buffer.startswith(b"data: ", pos):
            newline = buffer.find(b"\n", pos)
            if newline > 0 and buffer[newline + 1 : newline + 2] == b"\n" and buffer[newline - 1] != 13:  # no "\r"
                self._pos = newline + 2
                return "", buffer[pos + 6 : newline]
        event = ""
        data: list[bytes] = []
        while True:
            newline = buffer.find(b"\n", pos)
            if newline < 0:
                if not final:
                    return None
                line, last, pos = buffer[pos:].rstrip(b"\r"), True, len(buffer)
            else:
                line, last, pos = buffer[pos:newline].rstrip(b"\r"), False, newline + 1
            if not line:
                if data:
                    self._pos = pos
                    return event, b"\n".join(data)
                event = ""
            elif not line.startswith(b":"):
                name, _, value = line.partition(b":")
                if value.startswith(b" "):
                    value = value[1:]
                if name == b"data":
                    data.append(value)
                elif name == b"event":
                    event = value.decode("utf-8", "replace")
            if last:
                self._pos = pos
                return (event, b"\n".join(data)) if data else None

    @property
    def buffered(self) -> bool:
        """Some of the body is read and not parsed yet."""
        return self._pos < len(self._buffer)

    def buffered_event(self) -> tuple[str, bytes] | None:
        """The next event if the body already brought all of it, else None (without reading)."""
        return None if self._eof or self._pos >= len(self._buffer) else self._parse(final=False)

    async def next_event(self) -> tuple[str, bytes] | None:
        """The next event with data, or None at the end of the body. Comments are skipped."""
        while True:
            if self._eof:
                return self._parse(final=True)
            if self._pos < len(self._buffer) and (event := self._parse(final=False)) is not None:
                return event
            if not await self._more():
                return self._parse(final=True)
            buffer = self._buffer  # the usual read: exactly one whole `data: ...` event, no "\r"
            if (
                buffer.startswith(b"data: ")
                and buffer.endswith(b"\n\n")
                and buffer.find(b"\n") == len(buffer) - 2
                and buffer[-3] != 13
            ):
                self._pos = len(buffer)
                return "", buffer[6:-2]


class UpstreamStream:
    """An open upstream stream, iterated as OpenAI chunk events (see the module docstring)."""

    def __init__(
        self,
        http: HttpStream,
        target: UpstreamTarget,
        translator: ChunkTranslator,
        *,
        started: float,
        timeouts: Timeouts,
        url: str,
        framing: EventFraming | None = None,
    ) -> None:
        self.status = http.status
        self.headers = http.headers
        self.target = target
        self.ttft: float | None = None  # seconds from sending the request to the first output token
        self.duration: float | None = None  # seconds from sending the request to the end of the stream
        self.completed = False  # the upstream ended the stream properly
        # Chunks with output handed to the caller: the basis of a usage estimate if the stream is cut.
        self.content_chunks = 0
        self._http = http
        self._translator = translator
        self._decoder = (framing or SSEDecoder)(http)
        self._started = started
        self._timeouts = timeouts
        self._url = url
        self._pending: deque[bytes] = deque()
        self._pending_delivered = False  # a chunk was handed to the caller
        self._eof = False
        self._closed = False
        self._failure: UpstreamError | None = None  # met by `ready`, raised after the chunks before it

    @property
    def usage(self) -> Usage | None:
        return self._translator.usage

    @property
    def finish_reason(self) -> str | None:
        return self._translator.finish_reason

    def __aiter__(self) -> UpstreamStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._pending:
            if self._failure is not None:
                await self.aclose()
                raise self._failure
            if self._eof:
                await self.aclose()
                raise StopAsyncIteration
            await self._pull()
        return self._deliver(self._pending.popleft())

    def _deliver(self, chunk: bytes) -> bytes:
        self._pending_delivered = True
        if self.ttft is not None and chunk != DONE:
            self.content_chunks += 1
        return chunk

    def ready(self) -> list[bytes]:
        """The chunks that follow without waiting for the upstream (what its last read brought beyond
        the chunk just handed out), handed out now, in order, so that a caller can forward them in
        one write. A provider error among them is raised by the next iteration, after them."""
        decoder = self._decoder
        if not self._pending and (self._eof or not isinstance(decoder, SSEDecoder) or not decoder.buffered):
            return []  # the usual case: the last read brought one event
        chunks = [self._deliver(chunk) for chunk in self._pending]
        self._pending.clear()
        if not isinstance(decoder, SSEDecoder):
            return chunks
        while not self._eof and self._failure is None and (event := decoder.buffered_event()) is not None:
            try:
                self._take(self._translator.feed(event[0], event[1]), at_end=False)
            except UpstreamError as exc:
                self._failure = exc
            chunks += [self._deliver(chunk) for chunk in self._pending]
            self._pending.clear()
        return chunks

    async def __aenter__(self) -> UpstreamStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def prefetch(self) -> None:
        """Read until the first chunk is buffered, so failures before it can still be retried."""
        while not self._pending and not self._eof:
            await self._pull()

    async def aclose(self) -> None:
        """Release the upstream connection: kept for reuse if the stream ended properly, otherwise
        closed (which is how a client disconnect cancels the upstream generation)."""
        if self._closed:
            return
        self._closed = True
        await self._http.aclose(drain=self.completed)

    async def _pull(self) -> None:
        try:
            event = await self._decoder.next_event()
        except TransportError as exc:
            await self.aclose()
            error = transport_error(self.target, self._url, exc, self._timeouts)
            if self._pending_delivered:  # the answer had begun: the provider broke it off
                provider = self.target.provider
                raise UpstreamStreamCut(502, f"{provider} broke off the stream: {error.message}", provider) from None
            raise error from None
        try:
            if event is None:
                self._take(self._translator.end(), at_end=True)
            else:
                self._take(self._translator.feed(event[0], event[1]), at_end=False)
        except UpstreamError:
            await self.aclose()
            raise

    def _take(self, translated: Translated, *, at_end: bool) -> None:
        if translated.first_token and self.ttft is None:
            self.ttft = time.perf_counter() - self._started
        self._pending.extend(translated.chunks)
        if at_end or translated.done:
            self.completed = translated.done
            self._eof = True
            self.duration = time.perf_counter() - self._started


def _no_first_token(target: UpstreamTarget, limit: float) -> UpstreamTimeout:
    return UpstreamTimeout(
        f"{target.provider} sent no first token within {limit:g}s", target.provider, phase="first_token"
    )


async def _read_all(http: HttpStream) -> bytes:
    parts = []
    while chunk := await http.read():
        parts.append(chunk)
    return b"".join(parts)


async def start_stream(
    transport: Transport,
    target: UpstreamTarget,
    request: HttpRequest,
    translator: ChunkTranslator,
    *,
    framing: EventFraming | None = None,
    error: ErrorReader | None = None,
) -> UpstreamStream:
    """Open the stream and buffer its first chunk before returning.

    Everything up to the first chunk happens before any byte reaches the client, so the data plane can
    still retry or fall back on errors here. The first chunk must arrive within
    `request.timeouts.first_token` (UpstreamTimeout, phase first_token); the transport bounds the
    other phases (connect, read, total).
    """
    started = time.perf_counter()
    timeouts = request.timeouts

    async def opening() -> UpstreamStream:
        try:
            http = await transport.open_stream(request)
        except TransportError as exc:
            raise transport_error(target, request.url, exc, timeouts) from None
        if http.status >= 400:
            try:
                raw = await _read_all(http)
            except TransportError:
                raw = b""
            finally:
                await http.aclose()
            raise (error or error_from_body)(target, http.status, http.headers, raw)
        if http.status >= 300:
            await http.aclose()
            raise redirect_refused(target, http.status, http.headers)
        stream = UpstreamStream(
            http, target, translator, started=started, timeouts=timeouts, url=request.url, framing=framing
        )
        try:
            await stream.prefetch()
        except BaseException:
            await stream.aclose()
            raise
        return stream

    limit = timeouts.first_token
    if limit is None:
        return await opening()
    coarse = coarse_deadlines_of(transport) if limit >= COARSE_FROM_S else None
    if coarse is not None:  # a long limit (the gateway's own): the transport's once-a-second watch
        deadline = coarse.start(limit)
        try:
            return await opening()
        except asyncio.CancelledError:
            if coarse.timed_out(deadline):
                raise _no_first_token(target, limit) from None
            raise
        finally:
            coarse.finish(deadline)
    try:
        with anyio.fail_after(limit):  # not asyncio.wait_for, which can swallow a cancellation (deadlines.py)
            return await opening()
    except TimeoutError:
        raise _no_first_token(target, limit) from None
