"""The text a guardrail inspects in a request or an answer, and the same body with that text rewritten.

Input: every message's text content (a string, or the `text` parts of a content list) for chat;
`prompt` for completions and images; `input` for embeddings, moderations and speech (strings only:
token ids carry no text); for /responses `instructions` and the `input` items' text (message
content, `input_text` parts, function call outputs). Output: each choice's `message.content` (chat)
or `text` (completions), or for /responses each message item's `output_text` parts.
Rewriting builds a new body and shares everything it does not change; the original is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tfy_gateway.gateway.guardrails.checks import Stage

Rewrite = Callable[[str], str]
INPUT_FIELDS = ("prompt", "input", "instructions")
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
"""Content part types that carry text: chat's, and the Responses API's."""


def texts(body: Mapping[str, Any], stage: Stage) -> list[str]:
    """Every piece of text `stage` inspects in `body`, in order.

    Built into one list with plain loops: every guarded request calls this (nested generators cost
    about twice as much for a request's one short message)."""
    found: list[str] = []
    get = body.get
    if stage == "output":
        for item in _list(get("output")):
            if isinstance(item, dict) and item.get("type") == "message":
                _add_content(found, item.get("content"))
        for choice in _list(get("choices")):
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                _add_content(found, message.get("content"))
            elif isinstance(choice.get("text"), str):
                found.append(choice["text"])
        return found
    for message in _list(get("messages")):
        if isinstance(message, dict):
            _add_content(found, message.get("content"))
    for field in INPUT_FIELDS:
        value = get(field)
        if value is not None:
            _add_strings(found, value)
    for item in _list(get("input")):
        if isinstance(item, dict):
            _add_content(found, item.get("content"))
            _add_strings(found, item.get("output"))
    return found


def _add_content(found: list[str], content: Any) -> None:
    if isinstance(content, str):
        found.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in TEXT_PARTS and isinstance(part.get("text"), str):
                found.append(part["text"])


def _add_strings(found: list[str], value: Any) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, list):
        found += (item for item in value if isinstance(item, str))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def rewrite(body: Mapping[str, Any], stage: Stage, change: Rewrite) -> dict[str, Any] | None:
    """`body` with every inspected text replaced by `change(text)`; None when nothing changed."""
    changed = False

    def apply(text: str) -> str:
        nonlocal changed
        new = change(text)
        if new != text:
            changed = True
        return new

    if stage == "output" and isinstance(body.get("output"), list):
        result = {**body, "output": [_rewrite_item(item, apply) for item in body["output"]]}
    elif stage == "output":
        result = {**body, "choices": [_rewrite_choice(choice, apply) for choice in _list(body.get("choices"))]}
    else:
        result = dict(body)
        if isinstance(body.get("messages"), list):
            result["messages"] = [_rewrite_message(message, apply) for message in body["messages"]]
        for field in INPUT_FIELDS:
            if field in body:
                result[field] = _rewrite_strings(body[field], apply)
        if isinstance(body.get("input"), list):
            result["input"] = [_rewrite_item(item, apply) for item in result["input"]]
    return result if changed else None


def _rewrite_item(item: Any, apply: Rewrite) -> Any:
    """A /responses input or output item with its text rewritten (messages and function call outputs)."""
    if not isinstance(item, dict):
        return item
    if isinstance(item.get("output"), str):
        return {**item, "output": apply(item["output"])}
    return _rewrite_message(item, apply)


def _rewrite_choice(choice: Any, apply: Rewrite) -> Any:
    if not isinstance(choice, dict):
        return choice
    message = choice.get("message")
    if isinstance(message, dict):
        return {**choice, "message": _rewrite_message(message, apply)}
    if isinstance(choice.get("text"), str):
        return {**choice, "text": apply(choice["text"])}
    return choice


def _rewrite_message(message: Any, apply: Rewrite) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": apply(content)}
    if isinstance(content, list):
        parts = [
            {**part, "text": apply(part["text"])}
            if isinstance(part, dict) and part.get("type") in TEXT_PARTS and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
        return {**message, "content": parts}
    return message


def _rewrite_strings(value: Any, apply: Rewrite) -> Any:
    if isinstance(value, str):
        return apply(value)
    if isinstance(value, list):
        return [apply(item) if isinstance(item, str) else item for item in value]
    return value
