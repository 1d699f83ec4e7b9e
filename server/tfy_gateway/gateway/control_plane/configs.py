"""`GET /llm-gateway/config/{type}`: the tenant's gateway configuration of one type.

Singleton types answer one `GatewayConfiguration`. V2 limit configs (`tenant-budget-config`,
`team-budget-config`, `tenant-rate-limit-config/model|mcp`) are many named manifests per type: they
answer `{"data": [GatewayConfiguration, ...]}` sorted by name, or with `?name=` that one (inferred:
the platform's SDK types this endpoint as a single object). A type may contain `/`: those families
get a route of their own, so other paths under `config/` (the platform's `config/budget/usage`) stay
free for their own routes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.http import json_response, require_user, text_param
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.state import GatewayState, get_state
from tfy_gateway.manifests import GATEWAY_CONFIG_TYPES, NAMED_CONFIG_TYPES

PREFIX = "/api/svc/v1/llm-gateway/config"


async def get_config(request: Request) -> Response:
    return _get(request, request.path_params["type"])


def _family_route(family: str) -> Route:
    """`config/<family>/<kind>` for the types `<family>/<kind>` (e.g. tenant-rate-limit-config/model)."""

    async def get_family_config(request: Request) -> Response:
        return _get(request, f"{family}/{request.path_params['kind']}")

    return Route(f"{PREFIX}/{family}/{{kind}}", get_family_config, methods=["GET"])


def _get(request: Request, config_type: str) -> Response:
    require_user(request)
    state = get_state(request)
    if config_type in NAMED_CONFIG_TYPES:
        return _named(state, config_type, text_param(request, "name"))
    if config_type not in GATEWAY_CONFIG_TYPES:
        known = sorted(GATEWAY_CONFIG_TYPES | NAMED_CONFIG_TYPES)
        raise ApiError(404, f"Unknown gateway config type {config_type!r}; known types: {', '.join(known)}.")
    resource = state.config.snapshot.gateway_config(config_type)
    if resource is None:
        raise ApiError(
            404,
            f"No {config_type} is configured on this gateway yet; create one with "
            f"'tfy apply -f <file>' (a manifest with type: {config_type}).",
        )
    return json_response(views.gateway_config(resource, state.tenant))


def _named(state: GatewayState, config_type: str, name: str | None) -> Response:
    found = sorted((r for r in state.config.snapshot.resources.values() if r.type == config_type), key=lambda r: r.name)
    if name is None:
        return json_response({"data": [views.gateway_config(r, state.tenant) for r in found]})
    for resource in found:
        if resource.name == name:
            return json_response(views.gateway_config(resource, state.tenant))
    raise ApiError(404, f"No {config_type} named {name!r} is configured on this gateway.")


FAMILIES = sorted({t.split("/")[0] for t in NAMED_CONFIG_TYPES if "/" in t})
routes = [Route(f"{PREFIX}/{{type}}", get_config, methods=["GET"]), *map(_family_route, FAMILIES)]
