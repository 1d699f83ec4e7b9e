"""Virtual accounts: machine identities whose `tfy_va_...` tokens reach only granted models.

Created and changed by `virtual-account` manifests (apply, or `PUT /virtual-accounts`). Only token
hashes are stored: the secret made at creation (or regeneration) is revealed once, by the first
`GET /virtual-accounts/{id}/token` (or `GET /virtual-accounts/{id}`, in its `token` field).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.config.plans import describe
from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.apply import apply_manifest, delete_resource
from tfy_gateway.gateway.control_plane.http import (
    find_resource,
    json_response,
    paginated,
    read_json,
    require_admin,
    require_user,
)
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import VIRTUAL_ACCOUNT_TYPE, IssuedToken, plan_virtual_account_token
from tfy_gateway.gateway.snapshot import Change, ConfigSnapshot, Resource
from tfy_gateway.gateway.state import GatewayState, get_state


def _accounts(state: GatewayState) -> list[Resource]:
    return state.config.snapshot.of_type_prefix(VIRTUAL_ACCOUNT_TYPE)


def _find(state: GatewayState, ident: str) -> Resource:
    return find_resource(_accounts(state), ident, "virtual account")


async def list_accounts(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    snapshot = state.config.snapshot
    items = [views.virtual_account(r, state.tenant, snapshot) for r in _accounts(state)]
    query = request.query_params.get("nameSearchQuery")
    if query:
        items = [item for item in items if query in item["name"]]
    return json_response(paginated(request, items))


async def exists(request: Request) -> Response:
    require_user(request)
    name = request.query_params.get("name", "")
    return json_response({"exists": any(r.name == name for r in _accounts(get_state(request)))})


async def put_account(request: Request) -> Response:
    return await apply_manifest(request, allowed=(VIRTUAL_ACCOUNT_TYPE,))


async def get_account(request: Request) -> Response:
    principal = require_user(request)
    state = get_state(request)
    resource = _find(state, request.path_params["id"])
    body: dict[str, Any] = {"data": views.virtual_account(resource, state.tenant, state.config.snapshot)}
    if principal.is_admin:
        token = state.writer.reveals.pop(resource.name)
        if token is not None:
            body["token"] = token
    return json_response(body)


async def get_token(request: Request) -> Response:
    require_admin(request)
    state = get_state(request)
    resource = _find(state, request.path_params["id"])
    token = state.writer.reveals.pop(resource.name)
    if token is None:
        raise ApiError(
            409,
            f"The token of virtual account {resource.name} was already shown once; this gateway keeps "
            "only its hash. Get a new one with "
            f"POST /api/svc/v1/virtual-accounts/{resource.id}/regenerate-token.",
        )
    return json_response({"token": token})


async def regenerate_token(request: Request) -> Response:
    """New token, returned once; the old one keeps working for `gracePeriodInMinutes` (default 0)."""
    require_admin(request)
    state = get_state(request)
    grace: Any = 0
    if int(request.headers.get("content-length") or 0) > 0:
        body = await read_json(request)
        grace = body.get("gracePeriodInMinutes", 0) if isinstance(body, dict) else 0
    if not isinstance(grace, (int, float)) or isinstance(grace, bool) or grace < 0:
        raise ApiError(422, f"gracePeriodInMinutes must be a number >= 0, got {grace!r}.")
    name = _find(state, request.path_params["id"]).name

    def regenerate(snapshot: ConfigSnapshot) -> tuple[Change, IssuedToken]:
        if snapshot.get((VIRTUAL_ACCOUNT_TYPE, name)) is None:
            raise ApiError(404, f"Virtual account {name} was deleted meanwhile; nothing was changed.")
        return plan_virtual_account_token(snapshot, name, float(grace))

    issued = await state.writer.write(regenerate, what=f"the token of virtual account {name}")
    state.writer.reveals.discard(name)
    return json_response({"token": issued.token})


async def delete_account(request: Request) -> Response:
    principal = require_admin(request)
    state = get_state(request)
    account = _find(state, request.path_params["id"])
    await delete_resource(state, account.key, describe(account.manifest), principal)
    return json_response({})


routes = [
    Route("/api/svc/v1/virtual-accounts", list_accounts, methods=["GET"]),
    Route("/api/svc/v1/virtual-accounts", put_account, methods=["PUT"]),
    Route("/api/svc/v1/virtual-accounts/exists", exists, methods=["GET"]),
    Route("/api/svc/v1/virtual-accounts/{id}", get_account, methods=["GET"]),
    Route("/api/svc/v1/virtual-accounts/{id}", delete_account, methods=["DELETE"]),
    Route("/api/svc/v1/virtual-accounts/{id}/token", get_token, methods=["GET"]),
    Route("/api/svc/v1/virtual-accounts/{id}/regenerate-token", regenerate_token, methods=["POST"]),
]
