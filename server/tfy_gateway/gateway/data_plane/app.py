"""The `/api/llm/...` ASGI app: one route for every endpoint and alias, dispatched by a dict lookup.

`GET models` and `GET health` answer from memory; the model-calling endpoints run a `Pipeline`.
Unknown paths name what is supported; known-but-unsupported APIs (responses, batches, files...)
say so explicitly.
"""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request

from tfy_gateway.gateway.control_plane.models import list_models
from tfy_gateway.gateway.data_plane.asgi import JSON_TYPE, Receive, Scope, Send, send_bytes
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS, UNSUPPORTED, route_of
from tfy_gateway.gateway.data_plane.failures import DataPlaneError, error_json
from tfy_gateway.gateway.data_plane.pipeline import Pipeline
from tfy_gateway.gateway.data_plane.runtime import DataPlane
from tfy_gateway.gateway.errors import ApiError

logger = logging.getLogger(__name__)

SUPPORTED = ", ".join(["models", "health", *ENDPOINTS])


class DataPlaneApp:
    """Pure ASGI endpoint for `/api/llm/...`, served before routing and middleware (`GatewayApp`)."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope["path_params"].get("rest", ""))
        method = scope["method"]
        spec = ENDPOINTS.get(route)
        if spec is not None:
            if method != "POST":
                await _error(send, DataPlaneError(405, f"Use POST for /api/llm/{route}, not {method}."))
                return
            await Pipeline(self.plane, spec, scope, receive, send).run()
            return
        if route == "models" and method == "GET":
            await self._models(scope, receive, send)
        elif route == "health" and method == "GET":
            config = self.plane.config.current
            body = orjson.dumps(
                {"status": "ok", "models": len(config.catalog.entries), "config_version": config.version}
            )
            await send_bytes(send, 200, body, [JSON_TYPE])
        elif route in ("models", "health"):
            await _error(send, DataPlaneError(405, f"Use GET for /api/llm/{route}, not {method}."))
        elif route in UNSUPPORTED:
            message = (
                f"/api/llm/{route} ({UNSUPPORTED[route]}) is not supported by the local gateway; "
                f"supported endpoints: {SUPPORTED}."
            )
            await _error(send, DataPlaneError(404, message, type="not_found_error"))
        else:
            message = f"No data-plane endpoint /api/llm/{route}; supported endpoints: {SUPPORTED}."
            await _error(send, DataPlaneError(404, message, type="not_found_error"))

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The control plane's model list (one implementation), served under the aliases too."""
        try:
            response = await list_models(Request(scope, receive))
        except ApiError as exc:
            await _error(send, exc)
            return
        except Exception:
            # Served before Starlette's error middleware (app.GatewayApp): answer the 500 here.
            logger.exception("listing models failed")
            await _error(send, DataPlaneError(500, "Internal gateway error while listing models.", origin="gateway"))
            return
        await response(scope, receive, send)


async def _error(send: Send, error: ApiError) -> None:
    await send_bytes(send, error.status, error_json(error), [JSON_TYPE])
