"""Turn pydantic's validation errors into findings a person can act on.

Pydantic reports locations with union tags mixed in (`rules.0.weight-based-routing.weight`) and
generic messages. Here each location is walked through the model classes to recover the user's path,
the fields that were allowed where an unknown one appeared, and the values a literal accepts.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tfy_gateway.manifests.budgets_v2 import BUDGET_OVERRIDE_ENTITIES
from tfy_gateway.manifests.chunked import validate_in_chunks
from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.findings import Finding, finding
from tfy_gateway.manifests.providers import LOOSE_ACCOUNT_TYPES
from tfy_gateway.manifests.rate_limits_mcp import MCP_RATE_OVERRIDE_ENTITIES
from tfy_gateway.manifests.rate_limits_v2 import MODEL_RATE_OVERRIDE_ENTITIES
from tfy_gateway.manifests.registry import KNOWN_TYPES, TYPE_ALIASES, AnyManifest, model_for_type

Loc = tuple[str | int, ...]

MISPLACED_FIELDS: dict[str, str] = {
    "sticky_routing": "sticky_routing is only allowed on weight-based-routing rules",
    "sla_cutoff": "sla_cutoff is only allowed on targets of priority-based-routing rules",
    "weight": "weight is only allowed on targets of weight-based-routing rules",
    "priority": "priority is only allowed on targets of priority-based-routing rules",
    "tier": "tier is only allowed on targets of complexity-based-routing (virtual models)",
    "id": "id and when belong to rules of gateway configs, not to a virtual model's routing_config",
    "when": "id and when belong to rules of gateway configs, not to a virtual model's routing_config",
    "overrides": "overrides belong inside applies_to, e.g. applies_to: {type: per-user, overrides: "
    "[{users: [alice@example.com], limits: {...}}]}; an aggregate applies_to has none",
}

OVERRIDE_ENTITIES: dict[type[StrictModel], tuple[str, str]] = {
    **BUDGET_OVERRIDE_ENTITIES,
    **MODEL_RATE_OVERRIDE_ENTITIES,
    **MCP_RATE_OVERRIDE_ENTITIES,
}
"""V2 override classes -> (their applies_to type, the field naming their entities)."""
ENTITY_FIELDS: dict[str, str] = {field: kind for kind, field in OVERRIDE_ENTITIES.values()}


def did_you_mean(word: str, candidates: typing.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _strip(annotation: Any) -> Any:
    """Remove Annotated and Optional wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [_strip(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
    return []


def _tags(model: Any) -> set[str]:
    """Literal values of a model's discriminator fields (`type`, `metric`)."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return set()
    tags: set[str] = set()
    for name in ("type", "metric"):
        info = model.model_fields.get(name)
        if info is not None and typing.get_origin(_strip(info.annotation)) is Literal:
            tags.update(str(v) for v in typing.get_args(_strip(info.annotation)))
    return tags


def _field_of(model: type[BaseModel], key: str) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.alias or name, info.annotation
    return None


class _Resolved:
    def __init__(self) -> None:
        self.loc: list[str | int] = []
        self.owner: type[BaseModel] | None = None
        self.annotation: Any = None


def resolve(root: type[BaseModel], loc: Loc) -> _Resolved:
    """Walk pydantic's loc through the model tree: user-visible loc, owning model, final annotation."""
    out = _Resolved()
    current: Any = root
    for part in loc:
        current = _strip(current)
        members = _union_members(current)
        if members:
            tagged = [m for m in members if str(part) in _tags(m)]
            if tagged:
                current = tagged[0]
                continue
            if isinstance(part, str) and not any(
                isinstance(m, type) and issubclass(m, BaseModel) and _field_of(m, part) for m in members
            ):
                continue  # a member name like 'str' or 'dict[str,any]' from a plain union
        out.loc.append(part)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            out.owner = current
            found = _field_of(current, part)
            if found is None:
                current = None
            else:
                out.loc[-1], current = found
        elif typing.get_origin(current) is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            current = None
    out.annotation = _strip(current) if current is not None else None
    return out


def _allowed_fields(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _from_error(root: type[BaseModel], error: ErrorDetails) -> Finding:
    kind = error["type"]
    where = resolve(root, tuple(error["loc"]))
    loc: Loc = tuple(where.loc)
    ctx = error.get("ctx") or {}
    value = error.get("input")
    name = str(loc[-1]) if loc else ""

    if kind == "missing":
        return finding("error", "missing-field", f"missing required field '{name}'", loc)
    if kind == "extra_forbidden":
        if name in MISPLACED_FIELDS:
            return finding("error", "misplaced-field", MISPLACED_FIELDS[name], loc)
        if where.owner in OVERRIDE_ENTITIES and name in ENTITY_FIELDS:
            kind, field = OVERRIDE_ENTITIES[where.owner]
            return finding(
                "error",
                "misplaced-field",
                f"overrides of applies_to type {kind} list '{field}', not '{name}' "
                f"('{name}' is for applies_to type {ENTITY_FIELDS[name]})",
                loc,
                hint=f"write {field}: [...] here, or change applies_to.type",
            )
        allowed = _allowed_fields(where.owner)
        guess = did_you_mean(name, allowed)
        message = f"unknown field '{name}'" + (f"; did you mean '{guess}'?" if guess else "")
        return finding("error", "unknown-field", message, loc, hint=f"allowed fields: {', '.join(allowed)}")
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
        guess = did_you_mean(str(value), options) if isinstance(value, str) else None
        message = f"invalid value {_describe(value)} for '{name}'" + (f"; did you mean '{guess}'?" if guess else "")
        return finding("error", "invalid-value", message, loc, hint=f"allowed values: {', '.join(options)}")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        field_name = ctx.get("discriminator", "type").strip("'")
        allowed = sorted(set().union(*(_tags(m) for m in _union_members(where.annotation)))) or [
            t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()
        ]
        loc = (*loc, field_name)
        if kind == "union_tag_not_found":
            return finding(
                "error",
                "missing-field",
                f"missing required field '{field_name}'",
                loc,
                hint=f"allowed values: {', '.join(allowed)}",
            )
        tag = str(ctx.get("tag", ""))
        guess = did_you_mean(tag, allowed)
        message = f"unknown {field_name} '{tag}'" + (f"; did you mean '{guess}'?" if guess else "")
        return finding("error", "invalid-value", message, loc, hint=f"allowed values: {', '.join(allowed)}")
    if kind == "string_type" and isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return finding(
            "error",
            "status-code-type",
            f"status code {value} must be a string",
            loc,
            hint=f'write "{value}" (quoted): status codes are strings in the platform schema',
        )
    if kind in ("float_type", "int_type", "bool_type") and isinstance(value, str):
        wanted = {"float_type": "a number", "int_type": "an integer", "bool_type": "true or false"}[kind]
        return finding(
            "error",
            "wrong-type",
            f"'{name}' must be {wanted}, got the text {_describe(value)}",
            loc,
            hint="remove the quotes; YAML reads 2e-05 (no dot) as text: write 0.00002 or 2.0e-05",
        )
    if kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
        return finding("error", "invalid-value", message, loc)
    if kind == "model_type" or kind == "dict_type":
        return finding("error", "wrong-type", f"'{name or 'manifest'}' must be a mapping, got {_describe(value)}", loc)
    if kind == "list_type":
        return finding(
            "error",
            "wrong-type",
            f"'{name}' must be a list, got {_describe(value)}",
            loc,
            hint=f"write [{_describe(value)}] for a single entry",
        )
    text = str(error["msg"])
    text = text[:1].lower() + text[1:]
    prefix = f"'{name}': " if name else ""
    return finding("error", "invalid-value", f"{prefix}{text}, got {_describe(value)}", loc)


def _unknown_type(manifest_type: str) -> Finding:
    guess = TYPE_ALIASES.get(manifest_type) or did_you_mean(manifest_type, KNOWN_TYPES)
    message = f"unknown type '{manifest_type}'" + (f"; did you mean '{guess}'?" if guess else "")
    hint = None
    if manifest_type.startswith("provider-account/") and guess == "provider-account/self-hosted-model":
        hint = (
            "an external OpenAI-compatible API is a provider-account/self-hosted-model "
            "with model_server: openai-compatible"
        )
    elif guess is None:
        hint = "known types: " + ", ".join(sorted(t for t in KNOWN_TYPES if t not in LOOSE_ACCOUNT_TYPES))
    return finding("error", "unknown-type", message, ("type",), hint=hint)


def check_schema(manifest: Any) -> tuple[AnyManifest | None, list[Finding]]:
    """Validate one raw manifest against its type's model; the model is None when invalid."""
    if not isinstance(manifest, dict):
        return None, [
            finding(
                "error",
                "not-a-mapping",
                f"a manifest must be a mapping with 'type' and 'name', got {_describe(manifest)}",
            )
        ]
    manifest_type = manifest.get("type")
    if manifest_type is None:
        return None, [
            finding(
                "error",
                "missing-field",
                "missing required field 'type'",
                ("type",),
                hint="e.g. type: gateway-load-balancing-config",
            )
        ]
    if not isinstance(manifest_type, str):
        return None, [
            finding("error", "wrong-type", f"'type' must be a string, got {_describe(manifest_type)}", ("type",))
        ]
    model_class = model_for_type(manifest_type)
    if model_class is None:
        return None, [_unknown_type(manifest_type)]
    try:
        return validate_in_chunks(model_class, manifest), []
    except ValidationError as exc:
        return None, _without_echoes([_from_error(model_class, error) for error in exc.errors(include_url=False)])


def _without_echoes(findings: list[Finding]) -> list[Finding]:
    """An override listing the wrong entities is one mistake: drop the echoing 'missing models'."""
    misplaced = {f.loc[:-1] for f in findings if f.code == "misplaced-field" and f.loc and f.loc[-1] in ENTITY_FIELDS}
    return [
        f
        for f in findings
        if not (f.code == "missing-field" and f.loc and f.loc[-1] in ENTITY_FIELDS and f.loc[:-1] in misplaced)
    ]
