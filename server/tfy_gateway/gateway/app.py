"""The gateway's ASGI app factory.

`create_app(settings)` returns a Starlette app that is, listed explicitly: the control plane
(`/api/svc/v1`, with its views of the data plane), the dashboard (`/ui`, pages over the same
queries), the data plane (`/api/llm`, a pure ASGI app mounted
before routing, and `/metrics`) and the root page. The lifespan opens the `GatewayState` (store,
compiled config, writer), then the data plane's runtime, then config propagation; it closes them in
reverse order. `extra` extensions (embedders, tests) add routes and a lifespan hook given the state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping, MutableMapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tfy_gateway.gateway.batches import http as batch_api
from tfy_gateway.gateway.batches.runner import BatchRunner
from tfy_gateway.gateway.config.collector import tune_for_serving
from tfy_gateway.gateway.control_plane import routes as control_plane_routes
from tfy_gateway.gateway.dashboard import routes as dashboard_routes
from tfy_gateway.gateway.data_plane import PREFIX as DATA_PLANE_PREFIX
from tfy_gateway.gateway.data_plane import DataPlane, DataPlaneApp, DataPlaneOptions
from tfy_gateway.gateway.data_plane import routes as data_plane_routes
from tfy_gateway.gateway.errors import EXCEPTION_HANDLERS, ConfigError, StateError
from tfy_gateway.gateway.extension import Extension
from tfy_gateway.gateway.observability.exporter_logs import quiet_exporter_logs
from tfy_gateway.gateway.propagation import propagate
from tfy_gateway.gateway.providers import Transport
from tfy_gateway.gateway.root import routes as root_routes
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.state import GatewayState

logger = logging.getLogger(__name__)


class GatewayApp(Starlette):
    """Starlette, with the extensions' `mounts` dispatched first by a prefix test.

    The data plane's requests skip Starlette's middleware stack and regex routing (a measurable share
    of a request's CPU): its ASGI app answers every error itself, in the platform's envelope.
    """

    def __init__(self, *, mounts: Mapping[str, ASGIApp], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._mounts = _runs(mounts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, self._startup_failure_in_one_line(send))
            return
        if scope["type"] == "http":
            path = scope["path"]
            for prefixes, app in self._mounts:
                if path.startswith(prefixes):
                    prefix = next(prefix for prefix in prefixes if path.startswith(prefix))
                    scope["app"] = self
                    scope["path_params"] = {"rest": path[len(prefix) :]}
                    await app(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def _startup_failure_in_one_line(self, send: Send) -> Send:
        """A start-up that failed on a state file, a store or the configuration is reported as that
        error's one line (which file, what is wrong, what to do), not as the traceback Starlette
        formats: the operator has something to fix, not a bug to report."""

        async def relay(message: MutableMapping[str, Any]) -> None:
            error = getattr(self.state, "startup_error", None)
            if message["type"] == "lifespan.startup.failed" and isinstance(error, STARTUP_PROBLEMS):
                message = {**message, "message": str(error)}
            await send(message)

        return relay


def _runs(mounts: Mapping[str, ASGIApp]) -> tuple[tuple[tuple[str, ...], ASGIApp], ...]:
    """`mounts` in order, each run of prefixes of one app as one tuple: `str.startswith` tests a tuple
    in one call (a data-plane request passed eight Files and Batch API prefixes one by one first)."""
    runs: list[tuple[list[str], ASGIApp]] = []
    for prefix, app in mounts.items():
        if runs and runs[-1][1] is app:
            runs[-1][0].append(prefix)
        else:
            runs.append(([prefix], app))
    return tuple((tuple(prefixes), app) for prefixes, app in runs)


STARTUP_PROBLEMS = (StateError, ConfigError)
"""What a start-up can fail on that the operator fixes (a corrupt or unreadable state file, an
unreachable store, a setting): reported in one line. StateFileError (limits.sqlite3) is one."""

WORKER_SETTINGS_ENV = "TFY_GATEWAY_WORKER_SETTINGS"
"""`serve --workers N` hands its settings to each worker process as JSON in this variable."""

WARM_UPSTREAM_AFTER_S = 0.5
"""How long after start-up `serve` (each of its workers) has the data plane start building its upstream
client (aiohttp, about a sixth of start-up when imported) in a worker thread: late enough not to compete
with readiness and the first control-plane requests, early enough that the first model call rarely waits."""


def app_from_environment() -> Starlette:
    """The app of one `serve --workers N` worker (an import-string factory for uvicorn)."""
    payload = json.loads(os.environ[WORKER_SETTINGS_ENV])
    logging.basicConfig(level=payload["log_level"].upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_exporter_logs()
    settings = GatewaySettings.model_validate(payload["settings"])
    return create_app(settings, tune_gc=True, warm_upstream_after=WARM_UPSTREAM_AFTER_S)


def create_app(
    settings: GatewaySettings,
    *,
    data_plane: DataPlaneOptions | None = None,
    transport: Transport | None = None,
    extra: Sequence[Extension] = (),
    tune_gc: bool = False,
    warm_upstream_after: float | None = None,
) -> Starlette:
    """A new gateway app; nothing is opened until the ASGI lifespan starts.

    `data_plane`: what to replace in the data plane (its limits, guardrails or transport); `transport`:
    the shortcut for the last (where upstream calls go instead of the network: any `Transport`, which the
    caller closes). After start-up, `app.state.gateway` is the `GatewayState` and `app.state.data_plane`
    the complete `DataPlane`. `tune_gc`: the process serves this app alone
    (`serve`), so the app may tune the garbage collector once started.
    """
    if data_plane is not None and transport is not None:
        raise ValueError("give the transport in the DataPlaneOptions you pass")
    options = data_plane or DataPlaneOptions(transport=transport)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            state = await GatewayState.open(settings)
        except STARTUP_PROBLEMS as exc:
            app.state.startup_error = exc
            raise
        app.state.gateway = state
        try:
            async with AsyncExitStack() as stack:
                try:
                    app.state.data_plane = await stack.enter_async_context(DataPlane.open(state, options))
                except STARTUP_PROBLEMS as exc:
                    app.state.startup_error = exc  # reported as its one line (GatewayApp)
                    raise
                # Batches run through the data plane: they stop before it closes.
                app.state.batches = await stack.enter_async_context(BatchRunner.open(app.state.data_plane))
                for part in extra:
                    if part.lifespan is not None:
                        await stack.enter_async_context(part.lifespan(state))
                async with anyio.create_task_group() as tasks:
                    # Writes by other processes (replicas, the offline CLI) go live here too.
                    tasks.start_soon(propagate, state)
                    if tune_gc:
                        tune_for_serving()
                    if warm_upstream_after is not None:
                        loop = asyncio.get_running_loop()
                        loop.call_later(warm_upstream_after, warm_upstream_client, app.state.data_plane)
                    yield
                    tasks.cancel_scope.cancel()
        finally:
            await state.close()

    routes: list[BaseRoute] = [
        *control_plane_routes(),
        *dashboard_routes(),
        *data_plane_routes,
        *root_routes,
        *(route for part in extra for route in part.routes),
    ]
    # The Files and Batch APIs live under the data plane's prefix: matched before it.
    mounts: dict[str, ASGIApp] = {prefix: batch_api.app for prefix in batch_api.prefixes()}
    mounts[DATA_PLANE_PREFIX] = DataPlaneApp()
    for part in extra:
        mounts.update(part.mounts)
    return GatewayApp(mounts=mounts, routes=routes, lifespan=lifespan, exception_handlers=dict(EXCEPTION_HANDLERS))


def warm_upstream_client(data_plane: DataPlane) -> None:
    """Start building the data plane's upstream client if it is built on first use and not yet (an
    injected transport has nothing to build)."""
    warm = getattr(data_plane.transport, "warm", None)
    if warm is not None:
        warm()
