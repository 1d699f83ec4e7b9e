"""A scripted HTTP server on loopback, for the client's wire format and error mapping.

It is a real server (stdlib `http.server` in a thread) answering what each test scripts, so the
client's requests, status handling and envelope parsing are exercised over real sockets. Behaviour
against the real gateway is tested separately with the `gateway` fixture.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or a callable(path) -> JSON-able
    raw: bytes | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class ScriptedServer:
    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], Reply] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                path = self.path
                server.seen.append(Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = server.replies.get((self.command, path.split("?")[0]))
                if reply is None:
                    reply = Reply(404, raw=b"Not Found", content_type="text/plain")
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body(path) if callable(reply.body) else reply.body
                data = reply.raw if reply.raw is not None else json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", reply.content_type)
                    self.send_header("content-length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def reply(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> None:
        self.replies[(method, path)] = Reply(status, body, **kwargs)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
