"""A guardrail service for tests, speaking the platform's custom-guardrail contract, OPA's REST data
API and Azure Content Safety's text APIs. Served over real HTTP in a thread (`serving`), or in
process (`app()` with InProcessTransport).

Custom guardrail paths: `/allow`, `/deny` (verdict false), `/hang` (never answers: the gateway's
timeout decides), `/gate` (answers `deny` once the test calls `release()`), `/transform/<suffix>`
(verdict true, transformed: the last user message, or the answer, with `<suffix>` appended),
`/status/<code>` (an error status). OPA: `POST /v1/data/<path>` denies when the request mentions
"forbidden" and has no decision under `undefined/...`. Azure: `text:analyze` rates "attack"
Violence 4; `text:shieldPrompt` finds an attack in "ignore previous instructions". Every request
is recorded (`received`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import threading
from collections.abc import Iterator
from typing import Any

from aiohttp import web


class GuardrailServer:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._gate: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def gate(self) -> asyncio.Event:
        if self._gate is None:
            self._gate = asyncio.Event()
        return self._gate

    def release(self) -> None:
        """Let `/gate` answer (from any thread: served over HTTP, the server runs in its own loop)."""
        if self.loop is None:
            self.gate().set()
        else:
            self.loop.call_soon_threadsafe(self.gate().set)


STATE = web.AppKey("guardrail_server", GuardrailServer)


def _text(body: Any) -> str:
    return str(body)


def _transformed(payload: dict[str, Any], suffix: str) -> dict[str, Any]:
    if "responseBody" in payload:
        answer = copy.deepcopy(payload["responseBody"])
        for choice in answer.get("choices") or []:
            choice["message"]["content"] = str(choice["message"].get("content") or "") + suffix
        return answer
    request = copy.deepcopy(payload["requestBody"])
    last = [m for m in request.get("messages") or [] if m.get("role") == "user"][-1]
    last["content"] = str(last.get("content") or "") + suffix
    return request


async def custom(request: web.Request) -> web.Response:
    server = request.app[STATE]
    payload = await request.json()
    server.received.append(
        {"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}, "body": payload}
    )
    action = request.match_info["action"]
    if action == "allow":
        return web.json_response({"verdict": True})
    if action == "deny":
        return web.json_response({"verdict": False, "message": "denied by the test guardrail"})
    if action == "hang":
        await asyncio.Event().wait()
    if action == "gate":
        await server.gate().wait()
        return web.json_response({"verdict": False, "message": "denied after the gate opened"})
    if action.startswith("transform"):
        suffix = request.match_info.get("arg") or "-T"
        return web.json_response({"verdict": True, "transformed": True, "result": _transformed(payload, suffix)})
    if action == "status":
        return web.json_response({"error": "failing on purpose"}, status=int(request.match_info.get("arg") or 500))
    return web.json_response({"error": f"unknown action {action}"}, status=404)


async def opa(request: web.Request) -> web.Response:
    server = request.app[STATE]
    payload = await request.json()
    server.received.append(
        {"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}, "body": payload}
    )
    if request.match_info["policy"].startswith("undefined"):
        return web.json_response({})
    if "forbidden" in _text(payload["input"].get("requestBody")):
        return web.json_response({"result": {"allow": False, "reason": "forbidden topic"}})
    return web.json_response({"result": True})


async def analyze(request: web.Request) -> web.Response:
    payload = await request.json()
    request.app[STATE].received.append(
        {"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}, "body": payload}
    )
    severity = 4 if "attack" in payload.get("text", "") else 0
    analysis = [
        {"category": c, "severity": severity if c == "Violence" else 0} for c in payload.get("categories") or []
    ]
    return web.json_response({"blocklistsMatch": [], "categoriesAnalysis": analysis})


async def shield(request: web.Request) -> web.Response:
    payload = await request.json()
    request.app[STATE].received.append(
        {"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}, "body": payload}
    )
    attack = "ignore previous instructions" in payload.get("userPrompt", "").lower()
    return web.json_response({"userPromptAnalysis": {"attackDetected": attack}, "documentsAnalysis": []})


def app(server: GuardrailServer | None = None) -> web.Application:
    application = web.Application()
    application[STATE] = server or GuardrailServer()
    application.router.add_post("/custom/{action}", custom)
    application.router.add_post("/custom/{action}/{arg}", custom)
    application.router.add_post("/v1/data/{policy:.*}", opa)
    application.router.add_post("/contentsafety/text:analyze", analyze)
    application.router.add_post("/contentsafety/text:shieldPrompt", shield)
    return application


@contextlib.contextmanager
def serving() -> Iterator[tuple[str, GuardrailServer]]:
    """The guardrail service on a free loopback port in a daemon thread: (base URL, its state)."""
    server = GuardrailServer()
    application = app(server)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    server.loop = loop
    runner = web.AppRunner(application, access_log=None, handle_signals=False, handler_cancellation=True)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name=f"guardrail-server:{port}", daemon=True)
    thread.start()
    started.wait(30)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
