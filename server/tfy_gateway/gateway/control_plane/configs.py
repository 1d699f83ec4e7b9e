"""`GET /llm-gateway/config/{type}`: the tenant's singleton gateway configuration of one type."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.http import json_response, require_user
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.state import get_state
from tfy_gateway.manifests import GATEWAY_CONFIG_TYPES


async def get_config(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    config_type = request.path_params["type"]
    if config_type not in GATEWAY_CONFIG_TYPES:
        raise ApiError(
            404,
            f"Unknown gateway config type {config_type!r}; known types: {', '.join(sorted(GATEWAY_CONFIG_TYPES))}.",
        )
    resource = state.config.snapshot.gateway_config(config_type)
    if resource is None:
        raise ApiError(
            404,
            f"No {config_type} is configured on this gateway yet; create one with "
            f"'tfy apply -f <file>' (a manifest with type: {config_type}).",
        )
    return json_response(views.gateway_config(resource, state.tenant))


routes = [Route("/api/svc/v1/llm-gateway/config/{type}", get_config, methods=["GET"])]
