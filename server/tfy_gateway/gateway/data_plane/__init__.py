"""The OpenAI-compatible data plane of the local gateway (`/api/llm/...`); `app.create_app` mounts it.

Hot path: a pure-ASGI endpoint (`app.DataPlaneApp`) runs one `pipeline.Pipeline` per request: bearer
token -> principal, capped body -> orjson, model access and routing plan against the compiled
config, policy hooks, upstream call(s) through the provider adapters over one pooled aiohttp
session, then a request-log record queued for the batched writer and Prometheus metrics. Nothing on
the request path touches SQLite.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from tfy_gateway.gateway.data_plane.app import DataPlaneApp, metrics
from tfy_gateway.gateway.data_plane.hooks import Guardrails, Limits
from tfy_gateway.gateway.data_plane.runtime import DataPlane, DataPlaneOptions, data_plane_of

PREFIX = "/api/llm/"


routes: list[BaseRoute] = [
    # `create_app` mounts DataPlaneApp at PREFIX, served before routing; the route keeps the path
    # documented in the route table.
    Route("/api/llm/{rest:path}", DataPlaneApp()),
    Route("/metrics", metrics, methods=["GET"]),
]


__all__ = [
    "PREFIX",
    "DataPlane",
    "DataPlaneApp",
    "DataPlaneOptions",
    "Guardrails",
    "Limits",
    "data_plane_of",
    "routes",
]
