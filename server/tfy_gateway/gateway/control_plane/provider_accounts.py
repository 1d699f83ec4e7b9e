"""Provider accounts and their model integrations (read side; writes go through apply)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.access import account_fqn
from tfy_gateway.gateway.config.plans import describe
from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.apply import apply_manifest, delete_resource
from tfy_gateway.gateway.control_plane.http import (
    find_resource,
    json_response,
    paginated,
    require_admin,
    require_user,
)
from tfy_gateway.gateway.snapshot import Resource
from tfy_gateway.gateway.state import GatewayState, get_state


def _find(state: GatewayState, ident: str) -> Resource:
    return find_resource(
        state.config.snapshot.provider_accounts(),
        ident,
        "provider account",
        fqn=lambda resource: account_fqn(state.tenant, resource.manifest),
    )


async def list_accounts(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    accounts = state.config.snapshot.provider_accounts()
    provider = request.query_params.get("provider")
    if provider:
        accounts = [a for a in accounts if a.type == f"provider-account/{provider}"]
    return json_response(paginated(request, [views.provider_account(a, state.tenant) for a in accounts]))


async def get_account(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    return json_response({"data": views.provider_account(_find(state, request.path_params["id"]), state.tenant)})


async def create_account(request: Request) -> Response:
    """`POST /provider-accounts` with `{manifest}`: the skill's way; same as apply."""
    return await apply_manifest(request, allowed=("provider-account/",))


async def delete_account(request: Request) -> Response:
    principal = require_admin(request)
    state = get_state(request)
    resource = _find(state, request.path_params["id"])
    await delete_resource(state, resource.key, describe(resource.manifest), principal)
    return json_response({})


async def list_integrations(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    items = [
        integration
        for account in state.config.snapshot.provider_accounts()
        for integration in views.provider_account(account, state.tenant)["integrations"]
    ]
    return json_response(paginated(request, items))


routes = [
    Route("/api/svc/v1/provider-accounts", list_accounts, methods=["GET"]),
    Route("/api/svc/v1/provider-accounts", create_account, methods=["POST"]),
    Route("/api/svc/v1/provider-accounts/{id}", get_account, methods=["GET"]),
    Route("/api/svc/v1/provider-accounts/{id}", delete_account, methods=["DELETE"]),
    Route("/api/svc/v1/provider-integrations", list_integrations, methods=["GET"]),
]
