"""The platform's V2 budgets API, so truefoundry-sdk's `gateway_budgets` client works unmodified.

Paths under `/api/svc/v1/llm-gateway/budgets` (shapes: references/budgets.md, "Control-plane
endpoints"): list (`?type=`, `?team_name=`), create or update (`PUT`, `{manifest, dryRun}`), get and
delete by id, `my-usage` (the caller's own counters in every V2 budget that matches its identity),
`simulate` (the budgets a request from a given user/virtual account/teams/model/metadata would meet,
with current usage) and `{id}/leaderboard` (every entity of one budget, biggest spender first).
Reads need a user token; writes and the leaderboard need an admin. Usage answers are the platform's
`BudgetUsageResponse`; a lifetime period (which never ends) reports `end` as 9999-12-31T23:59:59Z,
since the SDK's `PeriodUsage.end` is a required number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.config.plans import describe, manifest_of
from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.apply import apply_body, delete_resource
from tfy_gateway.gateway.control_plane.http import json_response, read_object, require_admin, require_user
from tfy_gateway.gateway.control_plane.limit_usage import simulated_pricing
from tfy_gateway.gateway.data_plane.runtime import DataPlane, data_plane_of
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.limits import LimitRequest
from tfy_gateway.gateway.limits.report import budget_entries
from tfy_gateway.gateway.limits.v2 import TEAM_BUDGET_CONFIG, TENANT_BUDGET_CONFIG
from tfy_gateway.gateway.snapshot import Resource

BUDGETS = "/api/svc/v1/llm-gateway/budgets"
BUDGET_TYPES = (TENANT_BUDGET_CONFIG, TEAM_BUDGET_CONFIG)
NEVER = 253_402_300_799.0  # 9999-12-31T23:59:59Z


def _budgets(plane: DataPlane) -> list[Resource]:
    resources = plane.config.snapshot.resources.values()
    return sorted((r for r in resources if r.type in BUDGET_TYPES), key=lambda r: r.name)


def _gateway_budget(resource: Resource, tenant: str) -> dict[str, Any]:
    """`GatewayBudget`: the `GatewayConfiguration` fields plus the budget's `name`."""
    return {**views.gateway_config(resource, tenant), "name": resource.name}


def _find(plane: DataPlane, budget_id: str) -> Resource:
    for resource in _budgets(plane):
        if budget_id in (resource.id, resource.name):
            return resource
    raise ApiError(404, f"No budget with id {budget_id!r}; GET {BUDGETS} lists them (ids and names both work).")


def _sdk_shape(entries: list[dict[str, Any]]) -> dict[str, Any]:
    for entry in entries:
        for entity in entry["entities"]:
            for period in entity["periods"].values():
                if period["end"] is None:
                    period["end"] = NEVER
    return {"matched": entries}


async def list_budgets(request: Request) -> Response:
    plane = data_plane_of(request)
    require_user(request)
    wanted, team = request.query_params.get("type"), request.query_params.get("team_name")
    if wanted is not None and wanted not in BUDGET_TYPES:
        raise ApiError(400, f"'type' must be one of {', '.join(BUDGET_TYPES)}, got {wanted!r}.")
    found = [
        _gateway_budget(r, plane.state.tenant)
        for r in _budgets(plane)
        if (wanted is None or r.type == wanted) and (team is None or r.manifest.get("team_name") == team)
    ]
    return json_response({"data": found})


async def put_budget(request: Request) -> Response:
    plane = data_plane_of(request)
    """Create or update a budget: the same write as `tfy apply` (re-planned on a concurrent change)."""
    principal = require_admin(request)
    state = plane.state
    body = await read_object(request)
    if manifest_of(body)["type"] not in BUDGET_TYPES:
        raise ApiError(
            400, f"This endpoint takes {' or '.join(BUDGET_TYPES)} manifests, got {body['manifest']['type']!r}."
        )
    try:
        plan, _ = await apply_body(state, body, principal)
    except ApiError as exc:
        if exc.status != 422:
            raise
        # The platform's budgets API answers an invalid manifest with 400 (truefoundry-sdk maps only that to
        # BadRequestError); `PUT /apply` keeps 422, as the tfy CLI expects.
        raise ApiError(400, exc.message, extra=exc.extra) from None
    return json_response(_gateway_budget(plan.resource, state.tenant))


async def get_budget(request: Request) -> Response:
    plane = data_plane_of(request)
    require_user(request)
    return json_response(_gateway_budget(_find(plane, request.path_params["id"]), plane.state.tenant))


async def delete_budget(request: Request) -> Response:
    plane = data_plane_of(request)
    principal = require_admin(request)
    state = plane.state
    resource = _find(plane, request.path_params["id"])
    await delete_resource(state, resource.key, describe(resource.manifest), principal)
    return json_response({})


async def my_usage(request: Request) -> Response:
    plane = data_plane_of(request)
    principal = require_user(request)
    limit_request = LimitRequest(model="", caller=principal.subject, subjects=principal.subjects)
    entries = await budget_entries(
        plane.require_limiter(), plane.config.current.limits, limit_request, subjects_only=True
    )
    return json_response(_sdk_shape(entries))


async def simulate(request: Request) -> Response:
    plane = data_plane_of(request)
    require_user(request)
    body = await read_object(request)
    limit_request = _simulated(plane, body)
    entries = await budget_entries(plane.require_limiter(), plane.config.current.limits, limit_request)
    return json_response(_sdk_shape(entries))


async def leaderboard(request: Request) -> Response:
    plane = data_plane_of(request)
    require_admin(request)
    resource = _find(plane, request.path_params["id"])
    raw = request.query_params.get("limit", "500")
    try:
        count = int(float(raw))  # the SDK sends a number, e.g. "20.0"
    except ValueError:
        count = 0
    if count < 1:
        raise ApiError(400, f"'limit' must be a positive number, got {raw!r}.")
    entries = await budget_entries(plane.require_limiter(), plane.config.current.limits, None, name=resource.name)
    for entry in entries:
        entry["entities"] = entry["entities"][: min(count, 500)]
    return json_response(_sdk_shape(entries))


routes = [
    Route(BUDGETS, list_budgets, methods=["GET"]),
    Route(BUDGETS, put_budget, methods=["PUT"]),
    Route(f"{BUDGETS}/my-usage", my_usage, methods=["GET"]),
    Route(f"{BUDGETS}/simulate", simulate, methods=["POST"]),
    Route(f"{BUDGETS}/{{id}}/leaderboard", leaderboard, methods=["GET"]),
    Route(f"{BUDGETS}/{{id}}", get_budget, methods=["GET"]),
    Route(f"{BUDGETS}/{{id}}", delete_budget, methods=["DELETE"]),
]


def _simulated(plane: DataPlane, body: Mapping[str, Any]) -> LimitRequest:
    """The request `simulate` describes: who (a user or a virtual account, and teams), model, metadata."""
    user, account = body.get("user"), body.get("virtual_account")
    teams = [body["team"]] if isinstance(body.get("team"), str) else []
    teams += [t for t in body.get("teams") or [] if isinstance(t, str) and t not in teams]
    model, metadata = body.get("model") or "", body.get("metadata") or {}
    if user is not None and account is not None:
        raise ApiError(400, "Give 'user' or 'virtual_account', not both: a request comes from one of them.")
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ApiError(400, "'metadata' must be an object of string values, as X-TFY-METADATA would carry.")
    if not isinstance(model, str):
        raise ApiError(400, "'model' must be a model id such as 'openai-main/gpt-4o'.")
    caller = f"virtualaccount:{account}" if isinstance(account, str) else f"user:{user or 'anonymous'}"
    subjects = (caller, *(f"team:{t}" for t in teams), "team:everyone")
    return LimitRequest(model, caller, subjects, metadata, pricing=simulated_pricing(plane, model, subjects, metadata))
