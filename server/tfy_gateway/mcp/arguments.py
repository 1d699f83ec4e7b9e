"""Tool arguments that fail validation, reported as findings instead of pydantic's raw text.

The SDK turns a `ValidationError` into "1 validation error for gateway_check_intentArguments ...
[type=extra_forbidden, input_value=...] For further information visit https://errors.pydantic.dev/...".
Here each error becomes one line in the project's finding format (`<where>: error: message (path)
[hint: ...]`): the path without pydantic's union tags, a did-you-mean for unknown fields, the allowed
values for literals and intent kinds.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tfy_gateway.intents import Intent
from tfy_gateway.manifests import Finding

MAX_VALUE_CHARS = 80


def intent_kinds() -> dict[str, type[BaseModel]]:
    """`kind` -> intent model, from the `Intent` union."""
    union = typing.get_args(Intent)[0]
    return {str(member.model_fields["kind"].default): member for member in typing.get_args(union)}


def _path(loc: tuple[Any, ...]) -> tuple[list[str | int], type[BaseModel] | None]:
    """`('intent', 'route', 'targets', 0, 'weight')` -> `['intent', 'targets', 0, 'weight']`, and the
    intent class of the union member the error is in (its tag is dropped from the path)."""
    parts: list[str | int] = []
    model: type[BaseModel] | None = None
    kinds = intent_kinds()
    for index, part in enumerate(loc):
        if index == 1 and loc[0] in ("intent", "verify") and part in kinds:
            model = kinds[str(part)]
            continue
        parts.append(part)
    return parts, model


def _text(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _shown(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _fields_at(model: type[BaseModel] | None, parts: list[str | int]) -> list[str]:
    """Field names allowed where an unknown key appeared (nested intent models followed by name)."""
    current: Any = model
    for part in parts[1:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        annotation = field.annotation if field else None
        current = next(
            (arg for arg in _flatten(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)), None
        )
    return list(current.model_fields) if current is not None else []


def _flatten(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None)
    if not args:
        return [annotation]
    return [leaf for arg in args for leaf in _flatten(arg)]


def _finding(tool: str, error: ErrorDetails) -> Finding:
    parts, model = _path(tuple(error["loc"]))
    path = _text(parts)
    kind, message, hint = error["type"], error["msg"], None
    if kind == "extra_forbidden":
        name = str(parts[-1]) if parts else "?"
        allowed = _fields_at(model, parts) if model is not None else []
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        message = f"unknown field '{name}'" + (f"; did you mean '{close[0]}'?" if close else "")
        hint = f"allowed fields: {', '.join(allowed)}" if allowed else "remove it"
    elif kind == "union_tag_invalid":
        given = (error.get("ctx") or {}).get("tag")
        message = f"unknown kind {given!r}"
        hint = f"allowed kinds: {', '.join(intent_kinds())}"
    elif kind == "missing":
        message = "missing required field"
    else:
        message = f"{message[:1].lower()}{message[1:]}; got {_shown(error.get('input'))}"
    return Finding("error", kind, message, path=path, file=f"<{tool} arguments>", hint=hint)


def argument_errors(tool: str, exc: ValidationError) -> str:
    """The text the client sees: one finding per line, and what to do."""
    lines = [_finding(tool, error).format() for error in exc.errors(include_url=False)]
    return "\n".join([*lines, f"Fix the arguments (the tool's input schema lists them) and call {tool} again."])
