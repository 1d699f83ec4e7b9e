"""The limits a request's upstream attempts get (`x-tfy-request-timeout`, `x-tfy-ttft-timeout-ms`,
`upstream_timeout_s`) and whose limit an expiry was (408: the client's, 504: the gateway's).

The end-to-end tests run one gateway in process whose upstream is a MemoryTransport: it records the
`Timeouts` each attempt carried, and its never-answering models let only the limit under test end
a call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tfy_gateway.gateway import GatewaySettings, create_app
from tfy_gateway.gateway.data_plane.deadlines import Deadlines, deadlines, gateway_deadlines
from tfy_gateway.gateway.providers import HttpRequest, HttpResponse, MemoryTransport, Timeouts, Trickle

TOKEN = "tfy_deadlines_admin_" + "d" * 28
MINUTE = 60.0
GATEWAY = gateway_deadlines(MINUTE)

Client = Callable[..., Awaitable[httpx.Response]]


def test_without_headers_the_gateways_limits_apply_and_expire_as_504s() -> None:
    chosen = deadlines(None, None, GATEWAY)
    assert chosen is GATEWAY and chosen.timeouts == Timeouts(connect=MINUTE, first_token=MINUTE, read=MINUTE)
    assert {chosen.status(phase) for phase in ("connect", "first_token", "read", "total")} == {504}


def test_the_request_timeout_replaces_the_gateways_and_is_the_clients() -> None:
    for seconds in (2.0, 3600.0):  # shorter or longer than the gateway's: it replaces it either way
        chosen = deadlines(seconds, None, GATEWAY)
        assert chosen.timeouts == Timeouts.within(seconds)
        assert [chosen.status(phase) for phase in ("connect", "first_token", "read")] == [408, 408, 408]


def test_the_ttft_timeout_tightens_the_first_token_only() -> None:
    chosen = deadlines(None, 0.5, GATEWAY)
    assert chosen.timeouts == Timeouts(connect=MINUTE, first_token=0.5, read=MINUTE)
    assert (chosen.status("first_token"), chosen.status("read")) == (408, 504)
    # Longer than the limit already there: that one still decides, and it is the gateway's.
    assert deadlines(None, 2 * MINUTE, GATEWAY) == GATEWAY
    both = deadlines(1.0, 0.25, GATEWAY)
    assert both == Deadlines(Timeouts(connect=1.0, first_token=0.25, read=1.0), both.by_client)
    assert {both.status(phase) for phase in ("connect", "first_token", "read")} == {408}


def account() -> dict[str, Any]:
    def model(name: str) -> dict[str, Any]:
        return {"type": "integration/model/openai", "name": name, "model_id": name, "model_types": ["chat"]}

    return {
        "name": "mem",
        "type": "provider-account/openai",
        "base_url": "http://upstream.test/v1",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:mem-group:API_KEY"},
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [model("quick"), model("silent")],
    }


async def answer(request: HttpRequest) -> HttpResponse | Trickle:
    """`quick` answers at once (a stream in one piece); `silent` sends headers, then nothing ever."""
    body = json.loads(request.body)
    if body["model"] == "silent":
        return Trickle(200, {"content-type": "text/event-stream"}, silence())
    if body.get("stream"):
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
        sse = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        return HttpResponse(200, {"content-type": "text/event-stream"}, sse)
    completion = {"object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(completion).encode())


async def silence() -> AsyncIterator[bytes]:
    await asyncio.Event().wait()
    yield b""


@asynccontextmanager
async def gateway(tmp_path: Path, upstream_timeout_s: float) -> AsyncIterator[tuple[Client, MemoryTransport]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "secrets.json").write_text(json.dumps({"mem-group": {"API_KEY": "sk-mem-0123456789"}}))
    settings = GatewaySettings(
        data_dir=data_dir, admin_token=TOKEN, watch_interval_s=0, upstream_timeout_s=upstream_timeout_s
    )
    upstream = MemoryTransport(answer)
    app = create_app(settings, transport=upstream)
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=asgi, base_url="http://gw", headers=headers, timeout=MINUTE) as client:
            applied = await client.put("/api/svc/v1/apply", json={"manifest": account()})
            assert applied.status_code == 200, applied.text

            async def chat(model: str, *, stream: bool = False, **headers: str) -> httpx.Response:
                body = {"model": f"mem/{model}", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
                return await client.post("/api/llm/chat/completions", json=body, headers=headers)

            yield chat, upstream


async def test_each_attempt_carries_the_limits_its_request_chose(tmp_path: Path) -> None:
    async with gateway(tmp_path, MINUTE) as (chat, upstream):
        await check_limits_sent(chat, upstream)


async def check_limits_sent(chat: Client, upstream: MemoryTransport) -> None:
    async def sent(model: str, *, stream: bool = False, **headers: str) -> Timeouts:
        response = await chat(model, stream=stream, **headers)
        assert response.status_code == 200, response.text
        return upstream.requests[-1].timeouts

    assert await sent("quick") == await sent("quick", stream=True) == Timeouts.within(MINUTE)
    assert await sent("quick", **{"x-tfy-request-timeout": "2500"}) == Timeouts.within(2.5)
    ttft = {"x-tfy-ttft-timeout-ms": "500"}
    assert await sent("quick", stream=True, **ttft) == Timeouts(connect=MINUTE, first_token=0.5, read=MINUTE)
    assert await sent("quick", **ttft) == Timeouts.within(MINUTE)  # a streams-only header


async def test_the_clients_own_limits_expire_as_408s(tmp_path: Path) -> None:
    # The gateway's own limit is a minute: only the request's headers can end these calls.
    async with gateway(tmp_path, MINUTE) as (chat, _):
        no_token = await chat("silent", stream=True, **{"x-tfy-ttft-timeout-ms": "50"})
        assert no_token.status_code == 408, no_token.text
        assert "no first token within 0.05s" in no_token.json()["message"]
        assert no_token.json()["error_origin_level"] == "gateway"
        no_answer = await chat("silent", **{"x-tfy-request-timeout": "50"})
        assert no_answer.status_code == 408, no_answer.text


async def test_the_gateways_own_limit_expires_as_a_504(tmp_path: Path) -> None:
    async with gateway(tmp_path, 0.05) as (chat, _):
        for stream in (False, True):
            response = await chat("silent", stream=stream)
            assert response.status_code == 504, response.text
            assert response.json()["message"].startswith("Request to model mem/silent timed out")
