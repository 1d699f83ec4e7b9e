"""Teams, from `team` manifests: list, get, delete (create and change them with apply)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.config.plans import describe
from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.apply import delete_resource
from tfy_gateway.gateway.control_plane.http import (
    find_resource,
    json_response,
    paginated,
    require_admin,
    require_user,
)
from tfy_gateway.gateway.identities import TEAM_TYPE
from tfy_gateway.gateway.snapshot import Resource
from tfy_gateway.gateway.state import GatewayState, get_state


def _teams(state: GatewayState) -> list[Resource]:
    return state.config.snapshot.of_type_prefix(TEAM_TYPE)


def _find_team(state: GatewayState, ident: str) -> Resource:
    return find_resource(_teams(state), ident, "team")


async def list_teams(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    return json_response(paginated(request, [views.team(r, state.tenant) for r in _teams(state)]))


async def get_team(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    return json_response({"data": views.team(_find_team(state, request.path_params["id"]), state.tenant)})


async def delete_team(request: Request) -> Response:
    principal = require_admin(request)
    state = get_state(request)
    team = _find_team(state, request.path_params["id"])
    await delete_resource(state, team.key, describe(team.manifest), principal)
    return json_response({})


routes = [
    Route("/api/svc/v1/teams", list_teams, methods=["GET"]),
    Route("/api/svc/v1/teams/{id}", get_team, methods=["GET"]),
    Route("/api/svc/v1/teams/{id}", delete_team, methods=["DELETE"]),
]
