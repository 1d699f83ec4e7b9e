"""The data plane's production transport follows `upstream_client`."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.gateway.providers.conftest import serving
from tfy_gateway.gateway.data_plane.runtime import _aiohttp_transport
from tfy_gateway.gateway.providers import HttpRequest
from tfy_gateway.gateway.settings import GatewaySettings


async def test_upstream_client_picks_the_http_client_of_upstream_calls(tmp_path: Path) -> None:
    agents: list[str] = []

    async def upstream(request: web.Request) -> web.Response:
        agents.append(request.headers.get("User-Agent", ""))
        return web.json_response({})

    async with serving(upstream) as server:
        for client in ("http1", "aiohttp"):
            settings = GatewaySettings(data_dir=tmp_path, upstream_client=client)
            async with _aiohttp_transport(settings) as transport:  # type: ignore[attr-defined]
                answer = await transport.post(HttpRequest(f"http://127.0.0.1:{server.port}/v1/x", {}, b"{}"))
                assert answer.status == 200
    assert agents[0] == "tfy-gateway" and agents[1].startswith("Python/") and "aiohttp" in agents[1]
