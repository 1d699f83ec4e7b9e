"""`PUT /apply` and `POST /delete`: the platform's generic configuration writes, as thin adapters.

The body is read as it arrives (no lock held, the collector untouched), decoded off the event loop,
then planned, committed and installed by the `ConfigWriter` (config/writer.py); what an apply or a
delete changes is config/plans.py.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config.plans import (
    ApplyPlan,
    describe,
    manifest_of,
    plan_apply,
    plan_delete,
)
from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.http import decode_object, json_response, read_body, require_admin
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import VIRTUAL_ACCOUNT_TYPE
from tfy_gateway.gateway.snapshot import Change, ConfigSnapshot, Resource, ResourceKey
from tfy_gateway.gateway.state import GatewayState, get_state
from tfy_gateway.manifests import manifest_key


def dry_run_of(body: dict[str, Any]) -> bool:
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise ApiError(400, f"'dryRun' must be true or false, got {dry_run!r}.")
    return dry_run


async def apply_body(
    state: GatewayState, body: dict[str, Any], principal: Principal, *, allowed: tuple[str, ...] = ()
) -> tuple[ApplyPlan, bool]:
    """Plan (dry run) or apply the manifest of a `{manifest, dryRun}` body; `allowed`: type prefixes
    this endpoint takes (empty: any)."""
    manifest = manifest_of(body)
    if allowed and not str(manifest["type"]).startswith(allowed):
        raise ApiError(422, f"This endpoint takes {' or '.join(allowed)} manifests, got type {manifest['type']!r}.")
    dry_run = dry_run_of(body)

    def operation(snapshot: ConfigSnapshot) -> tuple[Change, ApplyPlan]:
        return plan_apply(snapshot, manifest, principal)

    if dry_run:
        return await state.writer.plan(operation), True
    plan = await state.writer.write(operation, what=describe(manifest))
    if plan.issued is not None:
        state.writer.reveals.put(plan.resource.name, plan.issued.token)
    return plan, False


async def apply_manifest(request: Request, *, allowed: tuple[str, ...] = ()) -> Response:
    principal = require_admin(request)
    state = get_state(request)
    raw = await read_body(request)
    body = await state.writer.decode(lambda: decode_object(raw))
    plan, dry_run = await apply_body(state, body, principal, allowed=allowed)
    snapshot = state.config.snapshot
    if dry_run and plan.resource.type == VIRTUAL_ACCOUNT_TYPE:
        # Only a virtual account's view depends on the would-be snapshot (its grants).
        snapshot = snapshot.with_change(Change(resources={plan.resource.key: plan.resource}), version=snapshot.version)
    response: dict[str, Any] = {
        "existingManifest": plan.existing.manifest if plan.existing else None,
        "action": plan.action,
        "data": views.resource(plan.resource, state.tenant, snapshot),
    }
    if plan.warnings:
        response["warnings"] = [f.to_dict() for f in plan.warnings]
    return json_response(response)


async def apply(request: Request) -> Response:
    return await apply_manifest(request)


async def delete_resource(state: GatewayState, key: ResourceKey, what: str, principal: Principal) -> Resource:
    """Delete one resource through the writer (on behalf of `principal`); returns what was deleted."""
    deleted = await state.writer.write(lambda snapshot: plan_delete(snapshot, key, principal.subject), what=what)
    if deleted.type == VIRTUAL_ACCOUNT_TYPE:
        state.writer.reveals.discard(deleted.name)
    return deleted


async def delete(request: Request) -> Response:
    principal = require_admin(request)
    state = get_state(request)
    raw = await read_body(request)
    manifest = manifest_of(await state.writer.decode(lambda: decode_object(raw)))
    key = manifest_key(manifest)
    if not key[1]:
        raise ApiError(422, f"Invalid manifest: 'name' is required to delete a {manifest['type']} (path: name).")
    await delete_resource(state, key, describe(manifest), principal)
    return json_response({})


routes = [
    Route("/api/svc/v1/apply", apply, methods=["PUT"]),
    Route("/api/svc/v1/delete", delete, methods=["POST"]),
]
