"""Tokens: personal access tokens of the calling user (list, create, delete, as the platform's API),
and for admins every token's metadata (`GET /tokens`, a local-gateway endpoint `tfy-gateway tokens
list` reads). A created token is part of the configuration installed when the write returns, so the
very next request on this replica authenticates with it. Secrets are shown once; hashes never leave.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.http import (
    json_response,
    paginated,
    read_object,
    require_admin,
    require_user,
    text_param,
)
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import plan_revoke, plan_user_token
from tfy_gateway.gateway.state import get_state
from tfy_gateway.gateway.store import TokenRecord


def _by_age(tokens: Any) -> list[TokenRecord]:
    return sorted(tokens, key=lambda t: (t.created_at, t.id))


async def list_tokens(request: Request) -> Response:
    principal = require_user(request)
    state = get_state(request)
    snapshot = state.config.snapshot
    tokens = snapshot.tokens_of("user", principal.name)
    query = text_param(request, "nameSearchQuery")
    if query:
        tokens = [t for t in tokens if query in t.name]
    items = [views.personal_access_token(t, snapshot.users.get(t.owner), state.tenant) for t in tokens]
    return json_response(paginated(request, items))


async def create_token(request: Request) -> Response:
    """Body `{"name", "expirationDate"?, "userEmail"?}` -> `{"token", "id", "name"}`, the only time the
    secret is shown. `userEmail` (admins only): the token is for that user rather than the caller."""
    principal = require_user(request)
    state = get_state(request)
    body = await read_object(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise ApiError(422, "'name' is required: 3-36 lowercase letters, digits and '-'.")
    expires: Any = body.get("expirationDate")
    if expires is not None and not isinstance(expires, str):
        raise ApiError(422, f"'expirationDate' must be an ISO-8601 date string, got {expires!r}.")
    email: Any = body.get("userEmail") or principal.name
    if not isinstance(email, str):
        raise ApiError(422, f"'userEmail' must be an email address, got {email!r}.")
    if email.lower() != principal.name and not principal.is_admin:
        raise ApiError(403, f"User {principal.name} may create tokens only for itself; only admins set 'userEmail'.")
    issued = await state.writer.write(
        lambda snapshot: plan_user_token(snapshot, email, name, expires), what=f"a token for {email}"
    )
    return json_response({"token": issued.token, "id": issued.record.id, "name": issued.record.name})


async def delete_token(request: Request) -> Response:
    """Users delete their own tokens; admins may delete anyone's. It stops working at once."""
    principal = require_user(request)
    state = get_state(request)
    token_id = request.path_params["id"]
    await state.writer.write(lambda snapshot: plan_revoke(snapshot, token_id, principal), what=f"token {token_id}")
    return json_response({"data": {"id": token_id}})


def token_view(token: TokenRecord) -> dict[str, Any]:
    """A token's metadata for admins: who owns it, its name and dates; never the secret or its hash."""
    return {
        "id": token.id,
        "name": token.name,
        "ownerKind": token.owner_kind,
        "owner": token.owner,
        "createdAt": token.created_at,
        "expiresAt": token.expires_at,
    }


async def list_all_tokens(request: Request) -> Response:
    """`GET /tokens?user=EMAIL&virtualAccount=NAME` (admin): every token's metadata, oldest first."""
    require_admin(request)
    user, account = text_param(request, "user"), text_param(request, "virtualAccount")
    tokens = _by_age(get_state(request).config.snapshot.tokens.values())
    if user:
        tokens = [t for t in tokens if t.owner_kind == "user" and t.owner == user.lower()]
    if account:
        tokens = [t for t in tokens if t.owner_kind == "virtualaccount" and t.owner == account]
    return json_response(paginated(request, [token_view(t) for t in tokens]))


routes = [
    Route("/api/svc/v1/personal-access-tokens", list_tokens, methods=["GET"]),
    Route("/api/svc/v1/personal-access-tokens", create_token, methods=["POST"]),
    Route("/api/svc/v1/personal-access-tokens/{id}", delete_token, methods=["DELETE"]),
    Route("/api/svc/v1/tokens", list_all_tokens, methods=["GET"]),
]
