"""`Extension`: how a part of the gateway (control plane, data plane, ...) plugs into the app."""

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
    """Routes (matched after those of earlier extensions) and a lifespan hook given the state.

    The hook runs after the state is loaded and exits before the store closes, e.g.::

        @asynccontextmanager
        async def lifespan(state):
            unsubscribe = state.snapshot.subscribe(compile_rules)
            yield
            unsubscribe()
    """

    name: str
    routes: Sequence[BaseRoute] = ()
    lifespan: ExtensionLifespan | None = None
    # Hot paths served before any routing or middleware: path prefix -> pure ASGI app, which gets
    # the rest of the path as `path_params["rest"]` and handles its own errors (see app.GatewayApp).
    mounts: Mapping[str, ASGIApp] = field(default_factory=dict)
