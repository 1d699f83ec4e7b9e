"""A gateway in the test's own event loop, its upstream the real fake provider, no sockets anywhere.

    async with running_gateway(tmp_path / "data") as gateway:      # or the `inprocess_gateway` fixture
        answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())

The app is `create_app(settings, transport=InProcessTransport(fake provider app))` with its lifespan
run, called through `StreamingAsgiTransport` (streams, and clients that leave, behave as over HTTP).
The fake provider answers every URL under `FAKE_ORIGIN`; another origin is a refused connection.
With `offline=True` the gateway is offline as `serve --offline` makes it (every upstream call goes to
the fake provider, secrets without a value get a placeholder) and the example provider accounts are
applied as `serve --offline` applies them. Starting one takes a tenth of a second
or so (a gateway process: a second or more), so each test can have its own.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from starlette.applications import Starlette

from tests.asgi_client import Lifespan, StreamingAsgiTransport
from tfy_gateway.fakeprovider import create_fake_provider_app
from tfy_gateway.fakeprovider.app import STATE_KEY
from tfy_gateway.fakeprovider.offline import seed_starter_accounts
from tfy_gateway.gateway import GatewaySettings, create_app
from tfy_gateway.gateway.data_plane import DataPlane, DataPlaneOptions
from tfy_gateway.gateway.providers import Transport
from tfy_gateway.gateway.providers.inprocess_transport import InProcessTransport
from tfy_gateway.platform import ControlPlaneClient

PlaneFactory = Callable[[Transport], DataPlaneOptions]  # the app's data-plane parts, given the upstream transport

FAKE_ORIGIN = "http://fake-provider.test"
GATEWAY_URL = "http://gateway.test"


class InProcessGateway:
    """One gateway app on its data dir, its fake provider, and an HTTP client to it (`http`)."""

    http: httpx.AsyncClient  # set by start()

    def __init__(
        self,
        settings: GatewaySettings,
        upstream: InProcessTransport,
        provider: web.Application,
        data_plane: PlaneFactory | None = None,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.provider = provider
        self._data_plane = data_plane
        self._app: Starlette | None = None
        self._lifespan: Lifespan | None = None

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def token(self) -> str:
        assert self.settings.admin_token is not None
        return self.settings.admin_token

    @property
    def data_plane(self) -> DataPlane:
        """The running app's data plane (its metrics, log writer, telemetry...)."""
        assert self._app is not None, "the gateway is not started"
        plane: DataPlane = self._app.state.data_plane
        return plane

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def start(self) -> None:
        if self._data_plane is None:
            app = create_app(self.settings, transport=self.upstream)
        else:
            app = create_app(self.settings, data_plane=self._data_plane(self.upstream))
        self._lifespan = Lifespan(app)
        await self._lifespan.__aenter__()
        self._app = app
        self.http = self.client()

    async def stop(self) -> None:
        """Shut the app down as `serve` does on SIGTERM; raises what the app raised unseen by a client."""
        try:
            await self.http.aclose()  # waits for the requests it started that the app still serves
        finally:
            if self._lifespan is not None:
                lifespan, self._lifespan = self._lifespan, None
                await lifespan.__aexit__(None, None, None)

    async def restart(self) -> None:
        """A new app on the same data dir (and the same fake provider), as after a process restart."""
        await self.stop()
        await self.start()

    def _transport(self) -> StreamingAsgiTransport:
        """A client's way into the running app; closing it waits for the requests it started."""
        assert self._app is not None, "the gateway is not started"
        return StreamingAsgiTransport(self._app)

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An HTTP client to this gateway (`http` is one); `options` for httpx (headers, timeout...)."""
        return httpx.AsyncClient(transport=self._transport(), base_url=GATEWAY_URL, **{"timeout": 30, **options})

    def control_plane(self, token: str | None = None) -> ControlPlaneClient:
        """The platform client (what the CLI and the MCP server use) against this gateway."""
        return ControlPlaneClient(GATEWAY_URL, token or self.token, transport=self._transport())

    async def apply(self, manifest: dict[str, Any]) -> None:
        response = await self.http.put(
            "/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False}, headers=self.auth()
        )
        assert response.status_code == 200, response.text

    async def add_user(self, email: str, *, teams: Sequence[str] = ()) -> str:
        """A new (non-admin) user's PAT, added through the control plane as `tfy-gateway users add` adds
        it (ControlPlaneClient.create_user); it works at once."""
        async with self.control_plane() as client:
            added = await client.create_user(email, teams=teams)
        return added.token

    def provider_requests(self) -> list[dict[str, Any]]:
        """What the fake provider's `GET /_fake/requests` lists: its recent requests, oldest first."""
        return list(self.provider[STATE_KEY].requests)

    def provider_stats(self) -> dict[str, int]:
        """What the fake provider's `GET /_fake/stats` says: requests, and clients that left early."""
        state = self.provider[STATE_KEY]
        return {"requests": state.served, "disconnects": state.disconnects}


async def seed_offline_accounts(gateway: InProcessGateway) -> list[str]:
    """The example provider accounts, as `serve --offline` applies them."""
    async with gateway.control_plane() as client:
        report = await seed_starter_accounts(client)
    return report.applied


@contextlib.asynccontextmanager
async def running_gateway(
    data_dir: Path,
    *,
    offline: bool = True,
    provider_key: str | None = None,
    data_plane: PlaneFactory | None = None,
    **settings: Any,
) -> AsyncIterator[InProcessGateway]:
    """A started in-process gateway on `data_dir`; `settings` override `GatewaySettings` fields.

    provider_key: the API key the fake provider requires (none: any key, as `serve --offline`).
    data_plane: the app's `DataPlaneOptions` (own limits or guardrails) on the transport it is given.
    """
    provider = create_fake_provider_app(api_key=provider_key)
    options: dict[str, Any] = {"admin_token": "tfy_inprocess_" + secrets.token_hex(16), **settings}
    if offline:
        options.setdefault("offline_upstream", FAKE_ORIGIN)
    gateway_settings = GatewaySettings(data_dir=data_dir, **options)
    async with InProcessTransport(provider, origin=FAKE_ORIGIN) as upstream:
        gateway = InProcessGateway(gateway_settings, upstream, provider, data_plane)
        await gateway.start()
        try:
            if offline:
                await seed_offline_accounts(gateway)
            yield gateway
        finally:
            await gateway.stop()
