"""JSON Schema per manifest type, and the Markdown reference generated from the same models."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from tfy_gateway.manifests.registry import manifest_models, model_for_type


def json_schema(manifest_type: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12, as pydantic emits it) of one manifest type."""
    model = model_for_type(manifest_type)
    if model is None:
        raise KeyError(f"unknown manifest type '{manifest_type}'")
    schema = model.model_json_schema(by_alias=True)
    schema["$id"] = f"tfy-gateway://schema/{manifest_type}"
    schema["title"] = manifest_type
    return schema


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args if a is not type(None))
    if origin is Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if origin is dict:
        return f"map[{_type_name(args[0])}, {_type_name(args[1])}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if annotation is Any or annotation is object:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _nested_models(arg)
    return found


def _default(info: Any) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        return f"`{info.default_factory()!r}`"
    if info.default is None or info.default is PydanticUndefined:
        return ""
    return f"`{info.default!r}`"


def _model_table(model: type[BaseModel]) -> list[str]:
    rows = [f"### {model.__name__}", ""]
    summary = (model.__doc__ or "").strip().splitlines()
    if summary and summary[0]:
        rows += [summary[0], ""]
    rows += ["| field | type | default | description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        description = (info.description or "").replace("|", "\\|")
        type_text = _type_name(info.annotation).replace("|", "\\|")
        rows.append(f"| `{info.alias or name}` | {type_text} | {_default(info)} | {description} |")
    return [*rows, ""]


def markdown_reference() -> str:
    """The whole reference page: one section per manifest type, then each nested object once."""
    lines = [
        "# Manifest schema reference",
        "",
        "Generated from the models in `tfy_gateway/manifests` by `tfy-gateway schema --markdown`",
        "(`make schema`); a test fails when this file is stale. Field names follow the platform SDK.",
        "Unknown fields are errors here (the platform would ignore them silently).",
        "",
    ]
    seen: set[type[BaseModel]] = set()
    for manifest_type, model in manifest_models().items():
        lines += [f"## `{manifest_type}`", ""]
        queue: list[type[BaseModel]] = [model]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            lines += _model_table(current)
            for info in current.model_fields.values():
                queue += [m for m in _nested_models(info.annotation) if m not in seen]
    return "\n".join(lines).rstrip() + "\n"
