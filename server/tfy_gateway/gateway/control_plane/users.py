"""Users: list and get (the platform's API), and `POST /users`, which `tfy-gateway users add` calls."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.http import json_response, paginated, read_object, require_admin, require_user
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import NewUser, plan_user, subject_of, team_memberships
from tfy_gateway.gateway.snapshot import Change, ConfigSnapshot
from tfy_gateway.gateway.state import get_state


async def list_users(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    snapshot = state.config.snapshot
    memberships = team_memberships(snapshot.manifests())
    users = sorted(snapshot.users.values(), key=lambda u: (u.created_at, u.email))
    items = [views.user(u, (*memberships.get(u.email, ()), "everyone"), state.tenant) for u in users]
    return json_response(paginated(request, items))


async def get_user(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    ident = request.path_params["id"]
    snapshot = state.config.snapshot
    memberships = team_memberships(snapshot.manifests())
    for user in snapshot.users.values():
        if ident in (user.id, user.email):
            teams = (*memberships.get(user.email, ()), "everyone")
            return json_response({"data": views.user(user, teams, state.tenant)})
    raise ApiError(404, f"No user {ident!r}; add one with 'tfy-gateway users add EMAIL'.")


async def create_user(request: Request) -> Response:
    """`POST /users` (admin): `{email, teams?, isAdmin?, tokenName?}` -> `{data: user, token}`, the user
    and its first token (shown once), usable by the very next request. A local-gateway endpoint: the
    platform invites users through its identity provider."""
    principal = require_admin(request)
    state = get_state(request)
    body = await read_object(request)
    email, teams = body.get("email"), body.get("teams") or []
    is_admin, token_name = body.get("isAdmin", False), body.get("tokenName") or "default"
    if not isinstance(email, str):
        raise ApiError(422, "'email' is required, e.g. alice@example.com.")
    if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
        raise ApiError(422, f"'teams' must be a list of team names, got {teams!r}.")
    if not isinstance(is_admin, bool):
        raise ApiError(422, f"'isAdmin' must be true or false, got {is_admin!r}.")
    if not isinstance(token_name, str):
        raise ApiError(422, f"'tokenName' must be a string, got {token_name!r}.")
    created_by = subject_of(principal)

    def add(snapshot: ConfigSnapshot) -> tuple[Change, NewUser]:
        return plan_user(snapshot, email, teams=teams, is_admin=is_admin, token_name=token_name, created_by=created_by)

    added = await state.writer.write(add, what=f"user {email}")
    memberships = team_memberships(state.config.snapshot.manifests())
    view = views.user(added.user, (*memberships.get(added.user.email, ()), "everyone"), state.tenant)
    return json_response({"data": view, "token": added.issued.token})


routes = [
    Route("/api/svc/v1/users", list_users, methods=["GET"]),
    Route("/api/svc/v1/users", create_user, methods=["POST"]),
    Route("/api/svc/v1/users/{id}", get_user, methods=["GET"]),
]
