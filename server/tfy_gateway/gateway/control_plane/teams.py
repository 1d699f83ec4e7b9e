"""Teams (from `team` manifests) and users (added offline with `tfy-gateway users add`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.apply import delete_resource
from tfy_gateway.gateway.control_plane.http import (
    find_resource,
    json_response,
    paginated,
    require_admin,
    require_user,
)
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import TEAM_TYPE, team_memberships
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
    require_admin(request)
    state = get_state(request)
    async with state.write_lock:
        await delete_resource(state, _find_team(state, request.path_params["id"]).key)
    return json_response({})


async def list_users(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    memberships = team_memberships(state.config.snapshot.manifests())
    users = await state.store.run(state.store.users)
    items = [views.user(u, (*memberships.get(u.email, ()), "everyone"), state.tenant) for u in users]
    return json_response(paginated(request, items))


async def get_user(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    ident = request.path_params["id"]
    memberships = team_memberships(state.config.snapshot.manifests())
    for user in await state.store.run(state.store.users):
        if ident in (user.id, user.email):
            teams = (*memberships.get(user.email, ()), "everyone")
            return json_response({"data": views.user(user, teams, state.tenant)})
    raise ApiError(404, f"No user {ident!r}; add one with 'tfy-gateway users add EMAIL'.")


routes = [
    Route("/api/svc/v1/teams", list_teams, methods=["GET"]),
    Route("/api/svc/v1/teams/{id}", get_team, methods=["GET"]),
    Route("/api/svc/v1/teams/{id}", delete_team, methods=["DELETE"]),
    Route("/api/svc/v1/users", list_users, methods=["GET"]),
    Route("/api/svc/v1/users/{id}", get_user, methods=["GET"]),
]
