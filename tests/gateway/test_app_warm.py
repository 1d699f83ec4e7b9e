"""`serve` (and each `--workers` worker) has the data plane build its upstream client shortly after
start-up, in the background, rather than on the first model call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.asgi_client import Lifespan
from tests.helpers import eventually
from tfy_gateway.cli.servers import hand_over
from tfy_gateway.gateway import GatewaySettings, create_app
from tfy_gateway.gateway import app as app_module
from tfy_gateway.gateway.data_plane import DataPlaneOptions
from tfy_gateway.gateway.providers import DeferredTransport, HttpResponse, MemoryTransport
from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport


class Closable(MemoryTransport):
    async def aclose(self) -> None:
        pass


class Factory:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Closable:
        self.calls += 1
        return Closable(lambda request: HttpResponse(200, {}, b""))


def settings(tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(data_dir=tmp_path / "data", admin_token="tfy_warm_test_admin", watch_interval_s=0)


async def test_the_deferred_upstream_client_is_built_after_start_up_without_a_call(tmp_path: Path) -> None:
    factory = Factory()
    transport = DeferredTransport(factory)
    app = create_app(settings(tmp_path), data_plane=DataPlaneOptions(transport=transport), warm_upstream_after=0)
    async with Lifespan(app):
        await eventually(lambda: factory.calls == 1, "the factory ran")
    await transport.aclose()
    assert factory.calls == 1


async def test_without_warming_the_client_waits_for_the_first_call(tmp_path: Path) -> None:
    factory = Factory()
    transport = DeferredTransport(factory)
    app = create_app(settings(tmp_path), data_plane=DataPlaneOptions(transport=transport))
    async with Lifespan(app):
        await asyncio.sleep(0)  # a warming timer due at once would have started the build by now
        await asyncio.sleep(0)
        assert transport._building is None and factory.calls == 0
    await transport.aclose()


async def test_an_injected_transport_has_nothing_to_build(tmp_path: Path) -> None:
    given = Closable(lambda request: HttpResponse(200, {}, b""))
    app = create_app(settings(tmp_path), transport=given, warm_upstream_after=0)
    async with Lifespan(app):
        app_module.warm_upstream_client(app.state.data_plane)  # no warm(): left alone, no error
        assert app.state.data_plane.transport is given


async def test_a_workers_app_builds_its_aiohttp_client_after_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(app_module.WORKER_SETTINGS_ENV, "")  # restored after the test
    hand_over(settings(tmp_path), "warning")  # what `serve --workers N` does before starting them
    monkeypatch.setattr(app_module, "WARM_UPSTREAM_AFTER_S", 0.0)
    app = app_module.app_from_environment()
    async with Lifespan(app):
        transport = app.state.data_plane.transport
        assert isinstance(transport, DeferredTransport)
        # The build's future, once warming started it (awaited by `eventually`): no model call was made.
        built = await eventually(lambda: transport._building, "the build started")
        assert isinstance(built, AiohttpTransport)
