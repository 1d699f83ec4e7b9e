"""AiohttpTransport against real local aiohttp servers: redirects are not followed, no cookies are kept, and its lifecycle."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from tests.gateway.providers.conftest import openai_target, serving
from tfy_gateway.gateway.providers import AiohttpTransport, HttpRequest, Timeouts, UpstreamError, UpstreamStream, call

CHAT: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


async def test_redirects_are_not_followed() -> None:
    elsewhere: list[str] = []
    redirected: list[str] = []

    async def other_host(request: web.Request) -> web.Response:
        elsewhere.append(request.path)
        return web.json_response({"object": "chat.completion", "choices": []})

    async with serving(other_host) as other:

        async def upstream(request: web.Request) -> web.Response:
            redirected.append(request.path)
            location = f"http://127.0.0.1:{other.port}/v1/chat/completions"
            return web.Response(status=307, headers={"Location": location})

        async with serving(upstream) as first, AiohttpTransport() as transport:
            target = openai_target(f"http://127.0.0.1:{first.port}")
            answer = await transport.post(HttpRequest(target.base_url + "/chat/completions", {}, b"{}"))
            assert answer.status == 307  # handed back as is
            for body in (CHAT, {**CHAT, "stream": True}):
                with pytest.raises(UpstreamError) as refused:
                    result = await call(transport, target, "chat", body)
                    if isinstance(result, UpstreamStream):
                        async with result:
                            async for _ in result:
                                pass
                # A 502 that names the status and why; the redirect's host, never its path or a key.
                assert refused.value.status == 502
                assert "HTTP 307" in str(refused.value) and "does not follow redirects" in str(refused.value)
                assert f"127.0.0.1:{other.port}" in str(refused.value) and "/v1/chat" not in str(refused.value)
    assert len(redirected) == 3
    assert elsewhere == []  # nothing, credentials included, reached the other host


async def test_close_is_idempotent_and_final() -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async with serving(ok) as server:
        transport = AiohttpTransport(connection_limit=2)
        request = HttpRequest(
            f"http://127.0.0.1:{server.port}/x", {"accept": "application/json"}, b"{}", timeouts=Timeouts.within(5)
        )
        answer = await transport.post(request)
        assert answer.status == 200 and answer.content_type == "application/json" and answer.body == b'{"ok": true}'
        await transport.aclose()
        await transport.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await transport.post(request)


async def test_an_oversized_answer_is_a_502_without_reading_it_all() -> None:
    big = b"x" * (3 * 1024 * 1024)

    async def declared(request: web.Request) -> web.Response:
        return web.Response(body=big, content_type="application/json")

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(48):  # 3 MB in 64 KB pieces, no content-length
            await response.write(b"x" * 65536)
        await response.write_eof()
        return response

    for handler in (declared, chunked):
        async with serving(handler) as server, AiohttpTransport(max_response_bytes=1024 * 1024) as transport:
            target = openai_target(f"http://127.0.0.1:{server.port}")
            with pytest.raises(UpstreamError) as refused:
                await call(transport, target, "chat", CHAT)
            assert refused.value.status == 502 and "cap of" in str(refused.value), handler.__name__


async def test_the_session_keeps_no_cookies() -> None:
    """One upstream answer's Set-Cookie is not sent with the next call (of maybe another caller)."""
    seen: list[str | None] = []

    async def upstream(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({})
        response.set_cookie("affinity", "caller-a")
        return response

    async with serving(upstream) as server, AiohttpTransport() as transport:
        # A host name: aiohttp's default jar ignores cookies from an IP address anyway.
        request = HttpRequest(f"http://localhost:{server.port}/v1/chat/completions", {}, b"{}")
        for _ in range(2):
            assert (await transport.post(request)).status == 200
    assert seen == [None, None]
