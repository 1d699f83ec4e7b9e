"""The gateway's ASGI app factory.

`create_app(settings)` returns a Starlette app whose state (store, authenticator, snapshot) is built
in the lifespan and reachable through `get_state(request)`. Parts of the gateway plug in as
`Extension`s: routes plus an optional lifespan hook that receives the `GatewayState` (e.g. the data
plane subscribes to config snapshots there). By default the app is the control plane, the data plane
and the root page, listed in `default_extensions`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tfy_gateway.gateway.config.collector import tune_for_serving
from tfy_gateway.gateway.errors import EXCEPTION_HANDLERS
from tfy_gateway.gateway.extension import Extension
from tfy_gateway.gateway.propagation import propagate
from tfy_gateway.gateway.providers import Transport
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.state import GatewayState

logger = logging.getLogger(__name__)


def default_extensions(*, transport: Transport | None = None) -> list[Extension]:
    from tfy_gateway.gateway.control_plane import extension as control_plane
    from tfy_gateway.gateway.data_plane import extension as data_plane
    from tfy_gateway.gateway.root import extension as root

    return [control_plane(), data_plane(transport=transport), root()]


class GatewayApp(Starlette):
    """Starlette, with the extensions' `mounts` dispatched first by a prefix test.

    The data plane's requests skip Starlette's middleware stack and regex routing (a measurable share
    of a request's CPU): its ASGI app answers every error itself, in the platform's envelope.
    """

    def __init__(self, *, mounts: Mapping[str, ASGIApp], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._mounts = tuple(mounts.items())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            for prefix, app in self._mounts:
                if path.startswith(prefix):
                    scope["app"] = self
                    scope["path_params"] = {"rest": path[len(prefix) :]}
                    await app(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


WORKER_SETTINGS_ENV = "TFY_GATEWAY_WORKER_SETTINGS"
"""`serve --workers N` hands its settings to each worker process as JSON in this variable."""


def app_from_environment() -> Starlette:
    """The app of one `serve --workers N` worker (an import-string factory for uvicorn)."""
    payload = json.loads(os.environ[WORKER_SETTINGS_ENV])
    logging.basicConfig(level=payload["log_level"].upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(GatewaySettings.model_validate(payload["settings"]), tune_gc=True)


def create_app(
    settings: GatewaySettings,
    extensions: Sequence[Extension] | None = None,
    *,
    tune_gc: bool = False,
    transport: Transport | None = None,
) -> Starlette:
    """A new gateway app; nothing is opened until the ASGI lifespan starts. `tune_gc`: the process
    serves this app alone (`serve`), so the app may tune the garbage collector once started.
    `transport`: where upstream calls go instead of the network (any `Transport`; the caller closes it)."""
    if extensions is not None and transport is not None:
        raise ValueError("give the data plane's transport to its extension when passing extensions")
    parts = list(default_extensions(transport=transport) if extensions is None else extensions)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = await GatewayState.open(settings)
        app.state.gateway = state
        try:
            async with AsyncExitStack() as stack:
                for part in parts:
                    if part.lifespan is not None:
                        await stack.enter_async_context(part.lifespan(state))
                async with anyio.create_task_group() as tasks:
                    # Writes by other processes (replicas, the offline CLI) go live here too.
                    tasks.start_soon(propagate, state)
                    if tune_gc:
                        tune_for_serving()
                    yield
                    tasks.cancel_scope.cancel()
        finally:
            await state.close()

    routes: list[BaseRoute] = [route for part in parts for route in part.routes]
    mounts = {prefix: app for part in parts for prefix, app in part.mounts.items()}
    return GatewayApp(mounts=mounts, routes=routes, lifespan=lifespan, exception_handlers=dict(EXCEPTION_HANDLERS))
