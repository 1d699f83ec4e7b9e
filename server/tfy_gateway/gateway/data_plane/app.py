"""The `/api/llm/...` ASGI app: one route for every endpoint and alias, dispatched by a dict lookup.

`GET models`, `GET models/{model}` and `GET health` answer from memory; the model-calling endpoints
run a `Pipeline`. Unknown paths name what is supported; known-but-unsupported APIs (responses,
batches, files...) say so explicitly. A wrong method is a 405 with `Allow`, as HTTP requires.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import unquote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tfy_gateway.gateway.config import CompiledConfig
from tfy_gateway.gateway.data_plane.asgi import JSON_TYPE, Receive, Scope, Send, send_bytes
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS, UNSUPPORTED, route_of
from tfy_gateway.gateway.data_plane.failures import DataPlaneError, error_json
from tfy_gateway.gateway.data_plane.headers import authorization_of
from tfy_gateway.gateway.data_plane.pipeline import Pipeline, model_not_found
from tfy_gateway.gateway.data_plane.runtime import DataPlane, data_plane_of
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.metrics import CONTENT_TYPE

SUPPORTED = ", ".join(["models", "health", *ENDPOINTS, "files", "batches"])


class DataPlaneApp:
    """Pure ASGI endpoint for `/api/llm/...`, served before routing and middleware (`GatewayApp`); the
    `DataPlane` the lifespan opened is in the app's state."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plane: DataPlane = scope["app"].state.data_plane
        route = route_of(scope["path_params"].get("rest", ""))
        method = scope["method"]
        spec = ENDPOINTS.get(route)
        if spec is not None:
            if method != "POST":
                await _error(send, _wrong_method(route, method, "POST"), [(b"allow", b"POST")])
                return
            await Pipeline(plane, spec, scope, receive, send).run()
            return
        if route == "models" and method == "GET":
            await _models(plane.config.current, scope, send)
        elif route.startswith("models/") and route != "models/":
            if method != "GET":
                await _error(send, _wrong_method(route, method, "GET"), [(b"allow", b"GET")])
            else:
                await _model(plane.config.current, unquote(route[len("models/") :]), scope, send)
        elif route == "health" and method == "GET":
            config = plane.config.current
            # `config_version` counts installs in this process; `store_version` (the store's change counter
            # at the loaded configuration) and `worker` tell which process of `serve --workers N` or which
            # replica answered and whether it has loaded a given write.
            body = orjson.dumps(
                {
                    "status": "ok",
                    "models": len(config.catalog.entries),
                    "config_version": config.version,
                    "store_version": plane.state.writer.loaded_version,
                    "worker": os.getpid(),
                }
            )
            await send_bytes(send, 200, body, [JSON_TYPE])
        elif route in ("models", "health"):
            await _error(send, _wrong_method(route, method, "GET"), [(b"allow", b"GET")])
        elif route.startswith("responses/"):
            message = (
                f"/api/llm/{route}: the local gateway stores no responses, so it cannot retrieve, cancel or "
                "delete one; POST /api/llm/responses answers without storing (send the whole conversation "
                "in 'input' instead of 'previous_response_id')."
            )
            await _error(send, DataPlaneError(404, message, type="not_found_error", code="unsupported_endpoint"))
        elif route in UNSUPPORTED:
            message = (
                f"/api/llm/{route} ({UNSUPPORTED[route]}) is not supported by the local gateway; "
                f"supported endpoints: {SUPPORTED}."
            )
            await _error(send, DataPlaneError(404, message, type="not_found_error", code="unsupported_endpoint"))
        else:
            message = f"No data-plane endpoint /api/llm/{route}; supported endpoints: {SUPPORTED}."
            await _error(send, DataPlaneError(404, message, type="not_found_error", code="unknown_url"))


def _wrong_method(route: str, method: str, allowed: str) -> DataPlaneError:
    return DataPlaneError(405, f"Use {allowed} for /api/llm/{route}, not {method}.", code="method_not_allowed")


async def _models(config: CompiledConfig, scope: Scope, send: Send) -> None:
    """The models the caller's token may use, in OpenAI's list format: admins see every model, others
    what `gateway.access` grants them. Any token works (PAT or VAT)."""
    try:
        principal = config.identities.require(authorization_of(scope["headers"]))
    except ApiError as exc:
        await _error(send, exc)
        return
    data = [
        {"id": entry.id, "object": "model", "owned_by": entry.account, "created": 0}
        for entry in config.snapshot.access.visible(principal)
    ]
    await send_bytes(send, 200, orjson.dumps({"object": "list", "data": data}), [JSON_TYPE])


async def _model(config: CompiledConfig, model: str, scope: Scope, send: Send) -> None:
    """`GET models/{model}` (the SDK's `models.retrieve`): OpenAI's model object when the caller's
    token may use it, else 404 `model_not_found`, as OpenAI answers for a model one cannot see."""
    try:
        principal = config.identities.require(authorization_of(scope["headers"]))
    except ApiError as exc:
        await _error(send, exc)
        return
    access = config.snapshot.access
    entry = access.models.get(model)
    if entry is None or not access.allows(principal, model):
        await _error(send, model_not_found(model))
        return
    body = {"id": entry.id, "object": "model", "owned_by": entry.account, "created": 0}
    await send_bytes(send, 200, orjson.dumps(body), [JSON_TYPE])


async def _error(send: Send, error: ApiError, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send_bytes(send, error.status, error_json(error), [JSON_TYPE, *headers])


async def metrics(request: Request) -> Response:
    """`GET /metrics`: the data plane's Prometheus metrics, in the text format."""
    plane = data_plane_of(request)
    plane.metrics.logs_dropped.set(plane.logs.dropped)
    return Response(plane.metrics.render(), media_type=CONTENT_TYPE)
