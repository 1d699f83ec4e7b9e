"""A provider's JSON answer reaches the client as the provider wrote it (not parsed and encoded
again), unless an output guardrail read it: then what the guardrails passed is encoded.

One gateway in process whose upstream is a MemoryTransport answering in a layout no encoder of
the gateway's would write (indented, keys unsorted, a non-ASCII character left unescaped).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.gateway.data_plane.test_deadlines import account  # `mem/quick`, on the MemoryTransport
from tfy_gateway.gateway import GatewaySettings, create_app
from tfy_gateway.gateway.data_plane import DataPlaneOptions
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.guardrails.checks import GuardrailReport
from tfy_gateway.gateway.providers import HttpRequest, HttpResponse, MemoryTransport

TOKEN = "tfy_passthrough_admin_" + "p" * 26
COMPLETION = {
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "héllo ✓"}, "finish_reason": "stop"}],
    "model": "quick",
}
AS_SENT = json.dumps(COMPLETION, indent=2, ensure_ascii=False).encode()


def answer(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, {"content-type": "application/json"}, AS_SENT)


class RedactingSession:
    """Checks every answer and rewrites its content."""

    def __init__(self) -> None:
        self.report = GuardrailReport(("test-hook",), [])
        self.checks_output = True

    async def check_input(self, body: dict[str, Any]) -> dict[str, Any] | None:
        return None

    async def alongside(self, work: Any) -> Any:
        return await work

    async def check_output(self, body: Any, answer: dict[str, Any]) -> dict[str, Any] | None:
        message = answer["choices"][0]["message"]
        return {**answer, "choices": [{**answer["choices"][0], "message": {**message, "content": "[redacted]"}}]}

    def close(self) -> None:
        pass


class Redacting:
    def start(self, request: RequestContext) -> RedactingSession:
        return RedactingSession()


@asynccontextmanager
async def chat_client(tmp_path: Path, guardrails: Redacting | None = None) -> AsyncIterator[httpx.AsyncClient]:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "secrets.json").write_text(json.dumps({"mem-group": {"API_KEY": "sk-mem-0123456789"}}))
    settings = GatewaySettings(data_dir=data_dir, admin_token=TOKEN, watch_interval_s=0)
    app = create_app(settings, data_plane=DataPlaneOptions(guardrails=guardrails, transport=MemoryTransport(answer)))
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=asgi, base_url="http://gw", headers=headers) as client:
            applied = await client.put("/api/svc/v1/apply", json={"manifest": account()})
            assert applied.status_code == 200, applied.text
            yield client


async def ask(client: httpx.AsyncClient) -> httpx.Response:
    body = {"model": "mem/quick", "messages": [{"role": "user", "content": "hi"}]}
    response = await client.post("/api/llm/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response


async def test_the_answer_is_sent_as_the_provider_wrote_it(tmp_path: Path) -> None:
    async with chat_client(tmp_path) as client:
        response = await ask(client)
        assert response.content == AS_SENT
        assert response.headers["content-length"] == str(len(AS_SENT))


async def test_an_output_guardrail_answer_is_encoded_from_what_it_passed(tmp_path: Path) -> None:
    async with chat_client(tmp_path, Redacting()) as client:
        response = await ask(client)
        expected = {
            **COMPLETION,
            "choices": [{**COMPLETION["choices"][0], "message": {"role": "assistant", "content": "[redacted]"}}],
        }
        assert response.content == orjson.dumps(expected)
