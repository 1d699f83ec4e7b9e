"""Personal access tokens of the calling user: list, create (shown once), delete."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.http import json_response, paginated, read_object, require_user
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import check_name, issue_user_token
from tfy_gateway.gateway.state import get_state
from tfy_gateway.gateway.store import TokenRecord


async def list_tokens(request: Request) -> Response:
    principal = require_user(request)
    state = get_state(request)
    tokens = [
        t for t in await state.store.run(state.store.tokens) if t.owner_kind == "user" and t.owner == principal.name
    ]
    query = request.query_params.get("nameSearchQuery")
    if query:
        tokens = [t for t in tokens if query in t.name]
    users = {u.email: u for u in await state.store.run(state.store.users)}
    items = [views.personal_access_token(t, users.get(t.owner), state.tenant) for t in tokens]
    return json_response(paginated(request, items))


async def create_token(request: Request) -> Response:
    """Body `{"name", "expirationDate"?}` -> `{"token"}`, the only time the secret is shown."""
    principal = require_user(request)
    state = get_state(request)
    body = await read_object(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise ApiError(422, "'name' is required: 3-36 lowercase letters, digits and '-'.")
    check_name(name, "token")
    expires: Any = body.get("expirationDate")
    if expires is not None and not isinstance(expires, str):
        raise ApiError(422, f"'expirationDate' must be an ISO-8601 date string, got {expires!r}.")
    email = principal.name

    def write() -> tuple[str, TokenRecord]:
        with state.store.transaction() as tx:
            issued = issue_user_token(tx, email, name, expires)
        return issued.token, issued.record

    async with state.write_lock:
        with anyio.CancelScope(shield=True):
            token, record = await state.store.run(write)
            await state.refresh_identities()
    return json_response({"token": token, "id": record.id, "name": record.name})


async def delete_token(request: Request) -> Response:
    """Users delete their own tokens; admins may delete anyone's."""
    principal = require_user(request)
    state = get_state(request)
    token_id = request.path_params["id"]

    def write() -> None:
        with state.store.transaction() as tx:
            record = tx.token(token_id)
            if record is None or record.owner_kind != "user":
                raise ApiError(404, f"No personal access token with id {token_id!r}.")
            if record.owner != principal.name and not principal.is_admin:
                raise ApiError(403, f"Token {token_id} belongs to another user; you can delete only your own.")
            tx.delete_token(token_id)

    async with state.write_lock:
        with anyio.CancelScope(shield=True):
            await state.store.run(write)
            await state.refresh_identities()
    return json_response({"data": {"id": token_id}})


routes = [
    Route("/api/svc/v1/personal-access-tokens", list_tokens, methods=["GET"]),
    Route("/api/svc/v1/personal-access-tokens", create_token, methods=["POST"]),
    Route("/api/svc/v1/personal-access-tokens/{id}", delete_token, methods=["DELETE"]),
]
