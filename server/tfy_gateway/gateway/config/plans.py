"""What an apply or a delete changes: pure operations over a snapshot, for the `ConfigWriter`.

Apply = validate against the stored provider accounts (plus the incoming manifest), refuse an update
that removes models other configuration routes to, and produce the `Change` (with a first token for a
new virtual account). The manifest is stored exactly as received, so the CLI's client-side diff of
`existingManifest` shows only what the admin changed. Delete refuses while other resources route to
the models it would remove.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config.enforced import is_enforced, uncallable_provider
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import (
    TEAM_TYPE,
    VIRTUAL_ACCOUNT_TYPE,
    IssuedToken,
    new_id,
    plan_virtual_account_token,
    subject_of,
)
from tfy_gateway.gateway.snapshot import Change, ConfigSnapshot, Resource, ResourceKey
from tfy_gateway.gateway.store import ResourceRecord, utc_now
from tfy_gateway.manifests.catalog import Catalog
from tfy_gateway.manifests.common import GUARDRAIL_GROUP_TYPE
from tfy_gateway.manifests.findings import Finding, has_errors
from tfy_gateway.manifests.global_settings import GlobalSettings
from tfy_gateway.manifests.guardrails import GuardrailsConfig
from tfy_gateway.manifests.registry import AnyManifest, manifest_key

Action = Literal["CREATE", "UPDATE"]
IDENTITY_TYPES = frozenset({TEAM_TYPE, VIRTUAL_ACCOUNT_TYPE})

# Configuration the local gateway stores (so the platform's tools round-trip it) but does not act on,
# in words. Saying so on every apply keeps it from vouching for a policy that does not happen locally.
# Whether a type is warned about follows from `enforced.ENFORCED_BY_PART`; this only names it. Parts
# of types it enforces are reported by `_local_findings` (guardrail types it does not run, MCP tool
# guardrails, global settings other than guardrail_settings).
NOT_ENFORCED_LOCALLY = {
    "tenant-rate-limit-config/mcp": "MCP rate limits",
}
GUARDRAIL_LISTS = (
    "llm_input_guardrails",
    "llm_output_guardrails",
    "mcp_tool_pre_invoke_guardrails",
    "mcp_tool_post_invoke_guardrails",
)


@dataclass(frozen=True)
class ApplyPlan:
    """What an apply does (or, for a dry run, would do)."""

    action: Action
    existing: Resource | None
    resource: Resource
    warnings: list[Finding]
    issued: IssuedToken | None = field(default=None, repr=False)  # a new virtual account's first token


def describe(manifest: Mapping[str, Any]) -> str:
    return f"{manifest.get('name', manifest.get('type'))} ({manifest.get('type')})"


def manifest_of(body: Mapping[str, Any]) -> dict[str, Any]:
    manifest = body.get("manifest")
    if not isinstance(manifest, dict):
        raise ApiError(400, 'Expected a JSON body {"manifest": {...}, "dryRun": false} with the manifest as an object.')
    if not isinstance(manifest.get("type"), str) or not manifest["type"]:
        raise ApiError(422, "Invalid manifest: 'type' is required and must be a string (path: type).")
    return manifest


def plan_apply(snapshot: ConfigSnapshot, manifest: dict[str, Any], principal: Principal) -> tuple[Change, ApplyPlan]:
    """Validate `manifest` against `snapshot`; raise 422/409 with every problem."""
    key = manifest_key(manifest)
    existing = snapshot.get(key)
    others = [r.manifest for r in snapshot.provider_accounts() if r.key != key]
    from tfy_gateway.manifests.validate import check_manifest  # the linter loads with the first apply

    model, findings = check_manifest(manifest, Catalog.from_manifests([*others, manifest], complete=True))
    if model is not None:
        findings += _local_findings(snapshot, model)
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
    resource = Resource(record, model)  # the model validation just made: a large manifest is parsed once
    change = Change(resources={key: resource}, author=principal.subject)
    issued = None
    if resource.type == VIRTUAL_ACCOUNT_TYPE and existing is None:
        token_change, issued = plan_virtual_account_token(snapshot, resource.name)
        change = change | token_change
    return change, ApplyPlan("UPDATE" if existing else "CREATE", existing, resource, warnings, issued)


def plan_delete(snapshot: ConfigSnapshot, key: ResourceKey, author: str | None = None) -> tuple[Change, Resource]:
    """Delete one resource (and a virtual account's tokens), refusing while others route to its models;
    `author`: who asks (a subject, for the version history)."""
    existing = snapshot.get(key)
    if existing is None:
        what = key[0] if key[0] == key[1] else f"{key[0]} named {key[1]!r}"
        raise ApiError(404, f"No {what} exists on this gateway; nothing was deleted.")
    used = references(snapshot, _models(existing.manifest), ignore=key)
    if used:
        raise ApiError(
            409,
            f"Cannot delete {describe(existing.manifest)}: other configuration {_uses(existing.manifest)}: "
            + "; ".join(used)
            + ". Remove or change those rules first.",
        )
    tokens: dict[str, None] = {}
    if existing.type == VIRTUAL_ACCOUNT_TYPE:
        tokens = {token.id: None for token in snapshot.tokens_of("virtualaccount", existing.name)}
    return Change(resources={key: None}, tokens=tokens, author=author), existing


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


def _not_enforced(manifest: Mapping[str, Any]) -> list[Finding]:
    manifest_type = str(manifest.get("type"))
    if is_enforced(manifest_type):
        return []
    if uncallable_provider(manifest_type):
        message = (
            f"The local gateway stores this {manifest_type} but cannot call its models: requests for them "
            "answer 5xx here. The platform calls them once applied there."
        )
    else:
        what = NOT_ENFORCED_LOCALLY.get(manifest_type, f"{manifest_type} configuration")
        message = (
            f"The local gateway stores {what} but does not enforce them yet: requests are not checked "
            f"against this {manifest_type}. The platform enforces it once applied there."
        )
    return [Finding("warning", "not-enforced-locally", message)]


def _local_findings(snapshot: ConfigSnapshot, model: AnyManifest) -> list[Finding]:
    """What this gateway refuses, or warns it does not enforce, in an otherwise valid manifest."""
    if model.type == GUARDRAIL_GROUP_TYPE or isinstance(model, GuardrailsConfig):
        # The guardrail modules load with the first guardrail manifest, not with the gateway.
        from tfy_gateway.gateway.guardrails.support import group_findings, rules_findings
        from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup

        if isinstance(model, GuardrailConfigGroup):
            return group_findings(model)
        if isinstance(model, GuardrailsConfig):
            return rules_findings(model, snapshot.guardrail_groups())
    if isinstance(model, GlobalSettings):
        parts = {
            "retry_settings": model.retry_settings,
            "logging_settings": model.logging_settings,
            "semantic_cache_settings": model.semantic_cache_settings,
        }
        unused = [name for name, value in parts.items() if value is not None]
        return [
            Finding(
                "warning",
                "not-enforced-locally",
                f"The local gateway stores {name} but does not apply it (it applies guardrail_settings only); "
                "the platform applies it once applied there.",
                path=name,
            )
            for name in unused
        ]
    return []


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
            f"Cannot apply {describe(manifest)}: it removes {_what(manifest)} that other configuration "
            f"{'runs' if _is_group(manifest) else 'routes to'}: "
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
    """Human-readable places where other resources route to any of `models`, or run any of them as
    a guardrail (a guardrail group's integrations are `<group>/<name>` as models are)."""
    found = []
    for key, resource in snapshot.resources.items():
        if key == ignore:
            continue
        for path, target in _targets(resource.manifest, ""):
            if target in models:
                found.append(
                    f"{describe(resource.manifest)}{_rule(resource.manifest, path)} routes to {target} at {path}"
                )
        for path, guardrail in _guardrails(resource.manifest):
            if guardrail in models:
                where = f"{describe(resource.manifest)}{_rule(resource.manifest, path)}"
                found.append(f"{where} runs guardrail {guardrail} at {path}")
    return found


def _is_group(manifest: Mapping[str, Any]) -> bool:
    return manifest.get("type") == "provider-account/guardrail-config-group"


def _what(manifest: Mapping[str, Any]) -> str:
    return "guardrails" if _is_group(manifest) else "models"


def _uses(manifest: Mapping[str, Any]) -> str:
    return "runs its guardrails" if _is_group(manifest) else "routes to its models"


def _guardrails(manifest: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, `<group>/<integration>`) for every guardrail a gateway-guardrails-config lists."""
    if manifest.get("type") != "gateway-guardrails-config" or not isinstance(manifest.get("rules"), list):
        return
    for index, rule in enumerate(manifest["rules"]):
        if not isinstance(rule, Mapping):
            continue
        for name in GUARDRAIL_LISTS:
            values = rule.get(name)
            for position, value in enumerate(values if isinstance(values, list) else ()):
                if isinstance(value, str):
                    yield f"rules[{index}].{name}[{position}]", value


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
