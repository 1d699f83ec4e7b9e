"""`PUT /apply` and `POST /delete`: the only ways configuration changes.

Apply = validate against the stored provider accounts (plus the incoming manifest), then, unless
`dryRun`, compile the next configuration, one transaction, and one swap of the compiled config.
Validation and compilation run in worker threads, so a 25,000-rule apply never stalls requests. A
configuration that does not compile is refused before anything is written. The manifest is stored
exactly as received, so the CLI's client-side diff of `existingManifest` shows only what the admin
changed. Writes are serialised by `GatewayState.write_lock` and shielded from cancellation, so the
database and the in-memory configuration never disagree. With replicas sharing one database, a plan is
made against the latest committed version (`catch_up`), and its transaction is refused if another
replica committed meanwhile (`StoreConflict`): it is then planned again on the newer version.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config import CompiledConfig, CompileError
from tfy_gateway.gateway.control_plane import views
from tfy_gateway.gateway.control_plane.http import json_response, read_object, require_admin
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import (
    TEAM_TYPE,
    VIRTUAL_ACCOUNT_TYPE,
    IssuedToken,
    issue_virtual_account_token,
    new_id,
    subject_of,
)
from tfy_gateway.gateway.snapshot import ConfigSnapshot, Resource, ResourceKey, build_snapshot, parse_resource
from tfy_gateway.gateway.state import GatewayState, get_state
from tfy_gateway.gateway.store import ResourceRecord, StoreConflict, utc_now
from tfy_gateway.manifests import Catalog, Finding, has_errors, manifest_key, validate_manifest

Action = Literal["CREATE", "UPDATE"]
T = TypeVar("T")
CONFLICT_ATTEMPTS = 5


class ChangedElsewhere(ApiError):
    """Another replica committed after this change was planned: nothing was written; plan it again."""

    def __init__(self, what: str) -> None:
        super().__init__(
            409,
            f"Cannot change {what}: another replica changed the configuration while this change was being "
            "planned. Nothing was changed; this gateway has loaded the newer configuration, apply again.",
        )


IDENTITY_TYPES = frozenset({TEAM_TYPE, VIRTUAL_ACCOUNT_TYPE})


@dataclass(frozen=True)
class Plan:
    """What an apply would do; produced under the write lock, committed only when not a dry run."""

    action: Action
    existing: Resource | None
    resource: Resource
    warnings: list[Finding]


def describe(manifest: Mapping[str, Any]) -> str:
    return f"{manifest.get('name', manifest.get('type'))} ({manifest.get('type')})"


def manifest_of(body: Mapping[str, Any]) -> dict[str, Any]:
    manifest = body.get("manifest")
    if not isinstance(manifest, dict):
        raise ApiError(400, 'Expected a JSON body {"manifest": {...}, "dryRun": false} with the manifest as an object.')
    if not isinstance(manifest.get("type"), str) or not manifest["type"]:
        raise ApiError(422, "Invalid manifest: 'type' is required and must be a string (path: type).")
    return manifest


def _invalid(manifest: Mapping[str, Any], errors: list[Finding], warnings: list[Finding]) -> ApiError:
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    lines = []
    for found in errors:
        line = f"- {found.path or '(manifest)'}: {found.message}"
        if found.hint:
            line += f" (hint: {found.hint})"
        lines.append(line)
    message = f"Invalid manifest {describe(manifest)}: {count}:\n" + "\n".join(lines)
    return ApiError(
        422,
        message,
        extra={"errors": [f.to_dict() for f in errors], "warnings": [f.to_dict() for f in warnings]},
    )


# --- references between resources ------------------------------------------------------------


def _targets(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, target) for every `load_balance_targets[].target` anywhere inside `value`."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if key == "load_balance_targets" and isinstance(item, list):
                for index, target in enumerate(item):
                    if isinstance(target, Mapping) and isinstance(target.get("target"), str):
                        yield f"{child}[{index}].target", target["target"]
            else:
                yield from _targets(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _targets(item, f"{path}[{index}]")


def references(snapshot: ConfigSnapshot, models: set[str], *, ignore: ResourceKey) -> list[str]:
    """Human-readable places where other resources route to any of `models`."""
    found = []
    for key, resource in snapshot.resources.items():
        if key == ignore:
            continue
        for path, target in _targets(resource.manifest, ""):
            if target in models:
                found.append(
                    f"{describe(resource.manifest)}{_rule(resource.manifest, path)} routes to {target} at {path}"
                )
    return found


def _rule(manifest: Mapping[str, Any], path: str) -> str:
    """` rule '<id>'` when `path` is inside `rules[i]` of a config whose rules have ids."""
    match = re.match(r"rules\[(\d+)\]", path)
    rules = manifest.get("rules")
    if match and isinstance(rules, list) and int(match.group(1)) < len(rules):
        rule = rules[int(match.group(1))]
        if isinstance(rule, Mapping) and rule.get("id"):
            return f" rule {rule['id']!r}"
    return ""


def _models(manifest: Mapping[str, Any]) -> set[str]:
    if not str(manifest.get("type", "")).startswith("provider-account/"):
        return set()
    return {
        f"{manifest.get('name')}/{item.get('name')}"
        for item in manifest.get("integrations") or []
        if isinstance(item, Mapping)
    }


# --- apply ------------------------------------------------------------------------------------


def plan_apply(state: GatewayState, manifest: dict[str, Any], principal: Principal) -> Plan:
    """Validate `manifest` against the current snapshot; raise 422/409 with every problem."""
    snapshot = state.config.snapshot
    key = manifest_key(manifest)
    existing = snapshot.get(key)
    others = [r.manifest for r in snapshot.provider_accounts() if r.key != key]
    findings = validate_manifest(manifest, Catalog.from_manifests([*others, manifest]))
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity != "error"] + _not_enforced(manifest)
    if has_errors(findings):
        raise _invalid(manifest, errors, warnings)
    if existing is not None:
        _check_update(snapshot, existing, manifest)
    now = utc_now()
    record = ResourceRecord(
        id=existing.id if existing else new_id(_id_prefix(manifest)),
        kind=key[0],
        name=key[1],
        type=manifest["type"],
        manifest=manifest,
        created_by=existing.record.created_by if existing else subject_of(principal),
        created_at=existing.record.created_at if existing else now,
        updated_at=now,
    )
    return Plan("UPDATE" if existing else "CREATE", existing, parse_resource(record), warnings)


# Configuration the local gateway stores (so the platform's tools round-trip it) but does not act on.
# Saying so on every apply keeps it from vouching for a policy that does not happen locally.
NOT_ENFORCED_LOCALLY = {
    "gateway-guardrails-config": "guardrails",
    "tenant-rate-limit-config/mcp": "MCP rate limits",
}


def _not_enforced(manifest: Mapping[str, Any]) -> list[Finding]:
    what = NOT_ENFORCED_LOCALLY.get(str(manifest.get("type")))
    if what is None:
        return []
    return [
        Finding(
            "warning",
            "not-enforced-locally",
            f"The local gateway stores {what} but does not enforce them yet: requests are not checked "
            f"against this {manifest.get('type')}. The platform enforces it once applied there.",
        )
    ]


def _id_prefix(manifest: Mapping[str, Any]) -> str:
    manifest_type = str(manifest.get("type", ""))
    if manifest_type.startswith("provider-account/"):
        return "pa"
    return {"virtual-account": "va", "team": "team"}.get(manifest_type, "cfg")


def _check_update(snapshot: ConfigSnapshot, existing: Resource, manifest: Mapping[str, Any]) -> None:
    gone = _models(existing.manifest) - _models(manifest)
    used = references(snapshot, gone, ignore=existing.key) if gone else []
    if used:
        raise ApiError(
            409,
            f"Cannot apply {describe(manifest)}: it removes models that other configuration routes to: "
            + "; ".join(used)
            + ". Change those rules first, or keep the integrations.",
        )
    if manifest.get("type") == VIRTUAL_ACCOUNT_TYPE:
        before, after = existing.manifest.get("expiration_date"), manifest.get("expiration_date")
        if before != after:
            raise ApiError(
                422,
                f"Invalid manifest {describe(manifest)}: expiration_date cannot be changed after the "
                f"virtual account is created (it is {before!r}); delete and re-create the account instead.",
            )


def _snapshot_with(state: GatewayState, resource: Resource) -> ConfigSnapshot:
    current = state.config.snapshot
    resources = {**current.resources, resource.key: resource}
    return build_snapshot(resources.values(), version=current.version, tenant=state.tenant)


async def compile_next(
    state: GatewayState, changes: Mapping[ResourceKey, Resource | None], what: str
) -> CompiledConfig:
    """The configuration after `changes`, compiled off the event loop; 500 naming the cause if it fails."""
    try:
        return await state.config.prepare(changes)
    except CompileError as exc:
        raise ApiError(
            500,
            f"Cannot apply {what}: {exc}. Nothing was changed; the gateway keeps serving configuration "
            f"version {state.config.version}. Please report this: the manifest validated but did not compile.",
        ) from exc


async def commit_apply(state: GatewayState, plan: Plan) -> IssuedToken | None:
    """Write the planned resource (and a first token for a new virtual account) in one transaction."""
    resource = plan.resource
    new_account = resource.type == VIRTUAL_ACCOUNT_TYPE and plan.existing is None
    config = await compile_next(state, {resource.key: resource}, describe(resource.manifest))

    expected = state.data_version

    def write() -> IssuedToken | None:
        with state.store.transaction(expect_version=expected) as tx:
            tx.upsert_resource(resource.record)
            return issue_virtual_account_token(tx, resource.name) if new_account else None

    with anyio.CancelScope(shield=True):
        try:
            issued = await state.store.run(write)
        except StoreConflict:
            await state.catch_up()
            raise ChangedElsewhere(describe(resource.manifest)) from None
        state.config.install(config)
        if resource.type in IDENTITY_TYPES:
            await state.refresh_identities()
        if issued is not None:
            state.reveals.put(resource.name, issued.token)
    return issued


async def apply_manifest(request: Request, *, type_prefix: str | None = None) -> Response:
    principal = require_admin(request)
    state = get_state(request)
    # A large manifest allocates millions of objects: see config/collector.py.
    with state.config.collector.paused():
        body = await read_object(request)
        manifest = manifest_of(body)
        if type_prefix is not None and not str(manifest["type"]).startswith(type_prefix):
            raise ApiError(422, f"This endpoint takes {type_prefix} manifests, got type {manifest['type']!r}.")
        dry_run = body.get("dryRun", False)
        if not isinstance(dry_run, bool):
            raise ApiError(400, f"'dryRun' must be true or false, got {dry_run!r}.")
        async with state.write_lock:

            async def attempt() -> Plan:
                plan = await anyio.to_thread.run_sync(plan_apply, state, manifest, principal)
                if not dry_run:
                    await commit_apply(state, plan)
                return plan

            plan = await on_latest_version(state, attempt, describe(manifest))
            snapshot = state.config.snapshot if not dry_run else _view_snapshot(state, plan)
        response: dict[str, Any] = {
            "existingManifest": plan.existing.manifest if plan.existing else None,
            "action": plan.action,
            "data": views.resource(plan.resource, state.tenant, snapshot),
        }
        if plan.warnings:
            response["warnings"] = [f.to_dict() for f in plan.warnings]
        return json_response(response)


def _view_snapshot(state: GatewayState, plan: Plan) -> ConfigSnapshot:
    """For a dry run, only a virtual account's view depends on the would-be snapshot (its grants)."""
    if plan.resource.type == VIRTUAL_ACCOUNT_TYPE:
        return _snapshot_with(state, plan.resource)
    return state.config.snapshot


async def apply(request: Request) -> Response:
    return await apply_manifest(request)


async def on_latest_version(state: GatewayState, attempt: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `attempt` (caller holds the write lock) on the latest committed configuration; when another
    replica commits between our plan and our transaction, reload and plan again."""
    for _ in range(CONFLICT_ATTEMPTS - 1):
        await state.catch_up()
        try:
            return await attempt()
        except ChangedElsewhere:
            continue
    return await attempt()  # a last ChangedElsewhere reaches the client as a 409


# --- delete -----------------------------------------------------------------------------------


async def delete_resource(state: GatewayState, key: ResourceKey) -> Resource:
    """Delete one resource (refusing when others route to its models); returns what was deleted."""
    snapshot = state.config.snapshot
    existing = snapshot.get(key)
    if existing is None:
        what = key[0] if key[0] == key[1] else f"{key[0]} named {key[1]!r}"
        raise ApiError(404, f"No {what} exists on this gateway; nothing was deleted.")
    used = references(snapshot, _models(existing.manifest), ignore=key)
    if used:
        raise ApiError(
            409,
            f"Cannot delete {describe(existing.manifest)}: other configuration routes to its models: "
            + "; ".join(used)
            + ". Remove or change those rules first.",
        )

    config = await compile_next(state, {key: None}, f"the deletion of {describe(existing.manifest)}")

    expected = state.data_version

    def write() -> None:
        with state.store.transaction(expect_version=expected) as tx:
            tx.delete_resource(*key)
            if existing.type == VIRTUAL_ACCOUNT_TYPE:
                tx.delete_tokens("virtualaccount", existing.name)

    with anyio.CancelScope(shield=True):
        try:
            await state.store.run(write)
        except StoreConflict:
            await state.catch_up()
            raise ChangedElsewhere(describe(existing.manifest)) from None
        state.config.install(config)
        if existing.type in IDENTITY_TYPES:
            await state.refresh_identities()
            state.reveals.discard(existing.name)
    return existing


async def delete(request: Request) -> Response:
    require_admin(request)
    state = get_state(request)
    manifest = manifest_of(await read_object(request))
    key = manifest_key(manifest)
    if not key[1]:
        raise ApiError(422, f"Invalid manifest: 'name' is required to delete a {manifest['type']} (path: name).")
    async with state.write_lock:
        await on_latest_version(state, lambda: delete_resource(state, key), describe(manifest))
    return json_response({})


routes = [
    Route("/api/svc/v1/apply", apply, methods=["PUT"]),
    Route("/api/svc/v1/delete", delete, methods=["POST"]),
]
