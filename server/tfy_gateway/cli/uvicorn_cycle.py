"""One request/response exchange of `serve`'s HTTP protocol: uvicorn's, with a leaner response head.

uvicorn's `RequestResponseCycle.send` checks every response header with two regular expressions and
lowercases its name one header at a time, and writes the head as soon as the app starts the response:
about a tenth of a plain gateway request's server CPU (references/performance.md). `ServeCycle` sends
the same bytes with the same checks, done once per name (names repeat: a connection remembers the
valid ones) and once for all the values of a head (one search over them joined), and holds the head
for the write that follows it, so that a plain answer's head and body leave in one write (one system
call, one TCP segment, one wake-up of the client):

- a head with a Content-Length (a plain answer, whose body the app sends right after) waits for its
  body; an answer without body bytes (HEAD) writes it when the response ends;
- any other head (a stream's, chunked; a 204's or 304's) waits only until the end of the event loop's
  current turn: the data plane sends a stream's first event, already read from the provider, right
  after it, so both leave in one write; a stream whose first event is not ready gets its head on the
  next turn;
- an error that closes the connection writes a held head first, as uvicorn would have written it.

`100 Continue` is written at once (by uvicorn's `receive`). Bytes are delayed, never reordered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    STATUS_LINE,
    RequestResponseCycle,
)
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

Headers = list[tuple[bytes, bytes]]
FRAMING = frozenset((b"content-length", b"transfer-encoding", b"connection"))
"""The response headers that change how the body is framed or the connection kept."""
KNOWN_NAMES = 256
"""How many valid header names a connection remembers (the data plane sends a few dozen at most)."""
INVALID_VALUE_BYTES = bytes(range(0x00, 0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
"""The bytes uvicorn's HEADER_VALUE_RE refuses in a header value (controls but tab, and DEL). Deleting
them with `bytes.translate` and comparing lengths gives its answer at ~1 ns a byte instead of the
regular expression's ~5: a gateway-all head carries ~700 bytes of values (36k of 1.09M instructions)."""
SEPARATOR = b": "
END = b"\r\n"
LAST_CHUNK = b"0\r\n\r\n"


def header_name(name: bytes) -> bytes:
    """`name` lowercased, as uvicorn writes it, once it is known to be a valid header name."""
    if HEADER_RE.search(name):
        raise RuntimeError("Invalid HTTP header name.")
    return name.lower()


def _nothing() -> None:
    """A finished cycle's `on_response`: the protocol has moved on to the next request."""


class ServeCycle(RequestResponseCycle):
    """uvicorn's cycle (the receive side and the ASGI wrapper's checks as they are) with `send` and
    the head held as the module's docstring says."""

    def __init__(
        self,
        scope: Any,
        transport: asyncio.Transport,
        flow: FlowControl,
        logger: logging.Logger,
        access_logger: logging.Logger,
        access_log: bool,
        default_headers: Headers,
        message_event: asyncio.Event,
        expect_100_continue: bool,
        keep_alive: bool,
        on_response: Callable[..., None],
        loop: asyncio.AbstractEventLoop,
        names: dict[bytes, bytes],
    ) -> None:
        self.scope = scope
        self.transport = transport
        self.flow = flow
        self.logger = logger
        self.access_logger = access_logger
        self.access_log = access_log
        self.default_headers = default_headers
        self.message_event = message_event
        self.on_response = on_response
        self.disconnected = False
        self.keep_alive = keep_alive
        self.waiting_for_100_continue = expect_100_continue
        self.body = bytearray()
        self.more_body = True
        self.response_started = False
        self.response_complete = False
        self.chunked_encoding: bool | None = None
        self.expected_content_length = 0
        self.loop = loop
        self.names = names  # the connection's valid header names, lowercased (`header_name`)
        self.held: bytes | None = None
        self.flush_soon: asyncio.Handle | None = None

    def flush_head(self) -> None:
        """Write a held head now (the end of the turn for a stream, or before the connection closes)."""
        if self.flush_soon is not None:
            self.flush_soon.cancel()
            self.flush_soon = None
        held = self.held
        if held is not None:
            self.held = None
            if not self.transport.is_closing():  # a connection already lost takes nothing more
                self.transport.write(held)

    async def run_asgi(self, app: Any) -> None:
        """uvicorn's ASGI wrapper, a held head written before any close."""
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                await self.send_500_response()
            else:
                self.flush_head()
                self.transport.close()
        else:
            if result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
                self.flush_head()
                self.transport.close()
            elif not self.response_started and not self.disconnected:
                self.logger.error("ASGI callable returned without starting response.")
                await self.send_500_response()
            elif not self.response_complete and not self.disconnected:
                self.logger.error("ASGI callable returned without completing response.")
                self.flush_head()
                self.transport.close()
        finally:
            self.on_response = _nothing

    async def send(self, message: Any) -> None:  # uvicorn's checks, one branch each
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            if message["type"] != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message['type']}'.")
            self.response_started = True
            self.waiting_for_100_continue = False
            status_code = message["status"]
            if self.access_log:
                self.access_logger.info(
                    '%s - "%s %s HTTP/%s" %d',
                    get_client_addr(self.scope),
                    self.scope["method"],
                    get_path_with_query_string(self.scope),
                    self.scope["http_version"],
                    status_code,
                )
            self.held = self._head(status_code, message.get("headers", ()))
            if self.chunked_encoding is not False:  # no Content-Length: no promise that a body write follows
                self.flush_soon = self.loop.call_soon(self.flush_head)
        elif not self.response_complete:
            if message["type"] != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message['type']}'.")
            body = message.get("body", b"")
            more_body = message.get("more_body", False)
            if self.scope["method"] == "HEAD":
                self.expected_content_length = 0
                data = b""
            elif self.chunked_encoding:
                if body:
                    data = b"%x\r\n%b\r\n%b" % (len(body), body, b"" if more_body else LAST_CHUNK)
                else:
                    data = b"" if more_body else LAST_CHUNK
            else:
                if len(body) > self.expected_content_length:
                    raise RuntimeError("Response content longer than Content-Length")
                self.expected_content_length -= len(body)
                data = body
            held = self.held
            if held is not None:
                self.held = None
                if self.flush_soon is not None:
                    self.flush_soon.cancel()
                    self.flush_soon = None
                data = held + data
            if data:
                self.transport.write(data)
            if not more_body:
                if self.expected_content_length != 0:
                    raise RuntimeError("Response content shorter than Content-Length")
                self.response_complete = True
                self.message_event.set()
                if not self.keep_alive:
                    self.transport.close()
                self.on_response()
        else:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after response already completed.")

    def _head(self, status_code: int, headers: Any) -> bytes:
        """The status line and headers as uvicorn writes them; sets the body's framing."""
        content = [STATUS_LINE[status_code]]
        for default_name, default_value in self.default_headers:
            content += (default_name, SEPARATOR, default_value, END)
        has_connection_close = False
        names = self.names
        for raw_name, value in headers:
            name = names.get(raw_name)
            if name is None:
                if len(names) >= KNOWN_NAMES:
                    names.clear()
                name = names[raw_name] = header_name(raw_name)
            if name in FRAMING:
                if name == b"content-length":
                    if self.chunked_encoding is None:
                        self.expected_content_length = int(value.decode())
                        self.chunked_encoding = False
                elif name == b"transfer-encoding":
                    if value.lower() == b"chunked":
                        self.expected_content_length = 0
                        self.chunked_encoding = True
                elif b"close" in [token.lower().strip() for token in value.split(b",")]:
                    self.keep_alive = False
                    has_connection_close = True
            content += (name, SEPARATOR, value, END)
        values = b"\t".join(content[3::4])  # every value at once: \t is valid in one
        if len(values.translate(None, INVALID_VALUE_BYTES)) != len(values):
            raise RuntimeError("Invalid HTTP header value.")
        if not self.keep_alive and not has_connection_close:
            content.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status_code not in (204, 304):
            self.chunked_encoding = True  # neither content-length nor transfer-encoding given
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(END)
        return b"".join(content)
