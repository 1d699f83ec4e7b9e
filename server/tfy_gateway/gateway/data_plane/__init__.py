"""The OpenAI-compatible data plane of the local gateway (`/api/llm/...`), plugged in as an Extension.

Hot path: a pure-ASGI endpoint (`app.DataPlaneApp`) runs one `pipeline.Pipeline` per request: bearer
token -> principal, capped body -> orjson, model access and routing plan against the compiled
config, policy hooks, upstream call(s) through the provider adapters over one pooled aiohttp
session, then a request-log record queued for the batched writer and Prometheus metrics. Nothing on
the request path touches SQLite.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from tfy_gateway.gateway.data_plane import admin, budget_api, limit_views
from tfy_gateway.gateway.data_plane.app import DataPlaneApp
from tfy_gateway.gateway.data_plane.hooks import Guardrails, Limits
from tfy_gateway.gateway.data_plane.runtime import DataPlane
from tfy_gateway.gateway.extension import Extension
from tfy_gateway.gateway.providers import Transport

PREFIX = "/api/llm/"


def routes(plane: DataPlane) -> list[BaseRoute]:
    return [
        # `mounts` serves /api/llm/... first; the route keeps the path documented in the route table.
        Route("/api/llm/{rest:path}", DataPlaneApp(plane)),
        *admin.routes(plane),
        *limit_views.routes(plane),
        *budget_api.routes(plane),
    ]


def extension(
    *, limits: Limits | None = None, guardrails: Guardrails | None = None, transport: Transport | None = None
) -> Extension:
    """The data plane as an Extension (settings come from the app's `GatewaySettings`).

    `limits` replaces the default rate limiter and budgets (`limiting.PolicyLimits`), `guardrails` the
    admit-everything default of the pipeline's guardrail hook, `transport` the pooled aiohttp client
    (tests answer upstream calls in process with it; the caller closes it).
    """
    plane = DataPlane(limits=limits, guardrails=guardrails, transport=transport)
    return Extension(
        name="data-plane", routes=routes(plane), lifespan=plane.lifespan, mounts={PREFIX: DataPlaneApp(plane)}
    )


__all__ = ["DataPlane", "extension", "routes"]
