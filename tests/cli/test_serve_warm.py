"""`serve` has the data plane build its upstream client shortly after it is ready, not on the first call."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import pytest
import uvicorn
from starlette.applications import Starlette

from tfy_gateway.cli import serve
from tfy_gateway.gateway.providers import DeferredTransport, HttpResponse, MemoryTransport


class Closable(MemoryTransport):
    async def aclose(self) -> None:
        pass


class Factory:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Closable:
        self.calls += 1
        return Closable(lambda request: HttpResponse(200, {}, b""))


async def test_warming_starts_building_the_data_planes_deferred_transport() -> None:
    factory = Factory()
    transport = DeferredTransport(factory)
    app = SimpleNamespace(state=SimpleNamespace(data_plane=SimpleNamespace(transport=transport)))
    serve.warm_upstream_client(app)
    built = await transport._transport()  # the build warm() started, awaited here
    assert factory.calls == 1 and isinstance(built, Closable)
    await transport.aclose()


async def test_warming_leaves_an_app_without_a_data_plane_or_a_deferred_transport_alone() -> None:
    serve.warm_upstream_client(SimpleNamespace(state=SimpleNamespace()))
    given = MemoryTransport(lambda request: HttpResponse(200, {}, b""))  # an injected transport has no warm()
    serve.warm_upstream_client(SimpleNamespace(state=SimpleNamespace(data_plane=SimpleNamespace(transport=given))))


async def test_the_server_warms_once_it_has_started(monkeypatch: pytest.MonkeyPatch) -> None:
    warmed = asyncio.Event()
    seen: list[object] = []

    def warm(app: object) -> None:
        seen.append(app)
        warmed.set()

    monkeypatch.setattr(serve, "WARM_AFTER_S", 0.0)
    monkeypatch.setattr(serve, "warm_upstream_client", warm)
    app = Starlette()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve._warming_server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off"), app)
    running = asyncio.ensure_future(server.serve())
    try:
        await asyncio.wait_for(warmed.wait(), 30)
        assert server.started and seen == [app]
    finally:
        server.should_exit = True
        await asyncio.wait_for(running, 30)
