"""Real receivers for alert deliveries, on loopback free ports, started and stopped by the tests.

`Receiver`: a tiny aiohttp server that records every POST (path, headers, JSON body) and answers as
told per path prefix (Slack-Web-API-like paths answer `{"ok": true}`), after `delay_s` when told (a
slow receiver: it has the request, the sender has no answer yet). It can be stopped and started
again on the same port, to play a webhook that is down at first. `SmtpSink`: an aiosmtpd server that
keeps every message it accepts.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import orjson
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.helpers import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    content_type: str = "text/plain"
    delay_s: float = 0.0


class Receiver:
    """POST-anything HTTP server recording what arrives; `answers[prefix]` overrides the reply."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Received] = []
        self.answers: dict[str, Answer] = {
            "/slack/api": Answer(200, b'{"ok": true, "ts": "1.2"}', "application/json"),
            "/pd/": Answer(202, b'{"status": "success", "message": "Event processed"}', "application/json"),
        }
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, prefix: str) -> list[Received]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append(Received(request.path, dict(request.headers), orjson.loads(raw) if raw else None))
        answer = next((a for prefix, a in self.answers.items() if request.path.startswith(prefix)), Answer())
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)  # the receiver's own slowness, not a wait for a state
        return web.Response(status=answer.status, body=answer.body, content_type=answer.content_type)


@dataclass
class SmtpSink:
    """An SMTP server (aiosmtpd, its own thread) keeping each accepted message."""

    port: int = field(default_factory=free_port)
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    _controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # aiosmtpd's hook name
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
