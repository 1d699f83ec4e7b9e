"""The HTTP/1.1 protocol `serve` runs uvicorn with: uvicorn's httptools protocol, leaner per request.

Every request through uvicorn pays its Python work beside the app's: the parser's callbacks, the
scope, a cycle and a task, the response head, a keep-alive timer, the proxy-headers middleware. The
floor pays it too; references/performance.md measured it among the largest costs of a gateway request
(round 6: 35-40 µs from the read to the app, 63 µs in the send, at c=1). `ServeHttpToolsProtocol` is
uvicorn's protocol with the same behaviour and less work on that path:

- the response side is `uvicorn_cycle.ServeCycle` (a checked head written with its body in one write);
- the keep-alive timeout is one timer per connection, re-armed for what is left when it fires while
  the connection is idle, instead of a timer created on every response and cancelled on every read;
- uvicorn's proxy-headers middleware (X-Forwarded-For / -Proto from trusted clients) runs only for
  requests that carry one of its headers: without them it changes nothing, and every request went
  through its coroutine.

It depends on uvicorn's protocol internals (the pinned range in pyproject.toml);
tests/cli/test_uvicorn_http.py checks the behaviours it keeps against real exchanges.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

import httptools
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tfy_gateway.cli.uvicorn_cycle import ServeCycle

FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto")


class ServeHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the per-request work of the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proxied = self.app  # the app behind uvicorn's proxy-headers middleware, when it has one
        if isinstance(self.app, ProxyHeadersMiddleware):
            self.proxied = self.app.app
        self.forwarded = False  # the request being parsed carries X-Forwarded-For or -Proto
        self.idle_since: float | None = None
        self.header_names: dict[bytes, bytes] = {}  # response header names known valid, lowercased

    def data_received(self, data: bytes) -> None:
        self.idle_since = None  # the keep-alive timer, when it fires, finds the connection busy
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def send_400_response(self, msg: str) -> None:
        if self.cycle is not None:
            self.cycle.flush_head()  # type: ignore[attr-defined]  # the answer before it keeps its bytes
        super().send_400_response(msg)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        value = value.rstrip(b" \t")  # llhttp keeps trailing whitespace, which RFC 9110 excludes
        if name == b"expect":
            if value.lower() == b"100-continue":
                self.expect_100_continue = True
        elif name in FORWARDED:
            self.forwarded = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        forwarded, self.forwarded = self.forwarded, False
        parser = self.parser
        http_version = parser.get_http_version()
        scope = self.scope
        scope["method"] = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        if parser.should_upgrade() and self._should_upgrade():
            return
        parsed_url = httptools.parse_url(self.url)
        raw_path = parsed_url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        root_path = self.root_path
        scope["path"] = root_path + path
        scope["raw_path"] = root_path.encode("ascii") + raw_path if root_path else raw_path
        scope["query_string"] = parsed_url.query or b""
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app: Any = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        else:
            app = self.app if forwarded else self.proxied
        existing_cycle = self.cycle
        self.cycle = ServeCycle(
            scope,
            self.transport,
            self.flow,
            self.logger,
            self.access_logger,
            self.access_log,
            self.server_state.default_headers,
            asyncio.Event(),
            self.expect_100_continue,
            http_version != "1.0" and parser.should_keep_alive(),
            self.on_response_complete,
            self.loop,
            self.header_names,
        )
        if existing_cycle is None or existing_cycle.response_complete:
            self._start_asgi_task(self.cycle, app)
        else:  # pipelined: queued until the answer before it is complete
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, app))

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.keep_alive_expired)

    def keep_alive_expired(self) -> None:
        """The keep-alive timer: close a connection idle for the whole timeout, else wait for the rest."""
        self.timeout_keep_alive_task = None
        if self.idle_since is None or self.transport.is_closing():
            return  # busy (the next response completed re-arms it), or closed already
        left = self.idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self.keep_alive_expired)
        else:
            self.timeout_keep_alive_handler()
