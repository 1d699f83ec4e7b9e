"""`Extension`: routes and a lifespan hook an embedder adds to the gateway app."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

if TYPE_CHECKING:
    from tfy_gateway.gateway.state import GatewayState

ExtensionLifespan = Callable[["GatewayState"], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Extension:
    """What an embedder (or a test) adds to the app with `create_app(..., extra=[...])`: routes (matched
    after the gateway's own) and a lifespan hook given the state.

    The hook runs after the state and the data plane are open and exits before they close, e.g.::

        @asynccontextmanager
        async def lifespan(state):
            print("serving configuration version", state.config.version)
            yield
    """

    name: str
    routes: Sequence[BaseRoute] = ()
    lifespan: ExtensionLifespan | None = None
    # Hot paths served before any routing or middleware: path prefix -> pure ASGI app, which gets
    # the rest of the path as `path_params["rest"]` and handles its own errors (see app.GatewayApp).
    mounts: Mapping[str, ASGIApp] = field(default_factory=dict)
