"""The HTTP/1.1 protocol `serve` runs uvicorn with: httptools, a response's head and its first body bytes in one write.

uvicorn writes a response's status line and headers to the socket as soon as the app sends
`http.response.start`, and the body with `http.response.body`: two `write` system calls, two TCP
segments and two wake-ups of the client for every answer (references/performance.md counted these
writes among the largest single costs of a request). `OneWriteHttpToolsProtocol` is uvicorn's own
protocol with its transport wrapped: the head of a response with a Content-Length (a plain answer,
whose body the app sends right after) is held until the next write on the connection, which it goes
out with; the end of the response, and closing, flush it too (a HEAD answer writes no body). A
stream's head (chunked) is held only until the end of the event loop's current turn: the data plane
sends a stream's first event (already read from the provider) right after the head, in the same turn,
so both leave in one write and the client's first token arrives with its headers; a stream whose
first event is not ready gets its head at once on the next turn. `100 Continue` is written at once.
Nothing a client waits for before sending or reading more is held beyond the current turn; bytes are
delayed, never reordered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

RESPONSE_HEAD = b"HTTP/1.1 "
LENGTH_HEADER = b"\r\ncontent-length: "  # uvicorn writes header names lowercased


class OneWriteTransport:
    """A socket transport whose responses' heads wait for the write that follows them (see the
    module's docstring). Only the write path is its own; everything else is the wrapped transport's.

    loop: where a stream's held head is flushed at the end of the current turn; without one, a
    stream's head is written at once."""

    __slots__ = ("_flush_soon", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_soon: asyncio.Handle | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if self._flush_soon is not None:
                self._flush_soon.cancel()
                self._flush_soon = None
            self._transport.write(held + data)
        elif not data.startswith(RESPONSE_HEAD) or data[9:10] == b"1":  # body bytes, or 100 Continue
            self._transport.write(data)
        elif LENGTH_HEADER in data:
            self._held = data
        elif self._loop is not None:
            self._held = data
            self._flush_soon = self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():  # a connection already lost takes nothing more
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:  # the rest of asyncio.Transport, as is
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a `OneWriteTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]  # a HEAD answer's head: no body write follows
        super().on_response_complete()
