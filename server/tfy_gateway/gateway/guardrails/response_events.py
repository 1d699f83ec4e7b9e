"""A streamed /responses answer as output guardrails see it (the Responses API's events; chat's
chunks are streams.py's business).

`assemble` is the Response the stream ends with (its `response.completed`, `.incomplete` or
`.failed` event carries it whole). `rewrite` carries a changed answer's texts into the events: the
first `response.output_text.delta` of a changed part gets the part's whole new text and the others
none, and the `.done` events and the final Response carry the new texts, so a client that
accumulates the deltas and one that reads the final Response see the same rewritten answer.
"""

from __future__ import annotations

from typing import Any

import orjson

PREFIX = b"event: response."
ENDINGS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def is_responses(events: list[bytes]) -> bool:
    """Whether `events` are a Responses stream's (they begin with `response.created`)."""
    return bool(events) and events[0].startswith(PREFIX)


def _parse(event: bytes) -> tuple[str, dict[str, Any]] | None:
    head, _, data = event.partition(b"\ndata: ")
    if not head.startswith(b"event: "):
        return None
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return (head[7:].decode(), payload) if isinstance(payload, dict) else None


def _frame(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def assemble(events: list[bytes]) -> dict[str, Any]:
    """The Response the events end with (an empty one if the stream ended without it)."""
    for event in reversed(events):
        parsed = _parse(event)
        if parsed is not None and parsed[0] in ENDINGS and isinstance(parsed[1].get("response"), dict):
            response: dict[str, Any] = parsed[1]["response"]
            return response
    return {"object": "response", "output": []}


def _texts(response: dict[str, Any]) -> dict[tuple[int, int], str]:
    found = {}
    for output_index, item in enumerate(response.get("output") or ()):
        if not isinstance(item, dict) or item.get("type") != "message":
            continue
        for content_index, part in enumerate(item.get("content") or ()):
            if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
                found[(output_index, content_index)] = part["text"]
    return found


def rewrite(events: list[bytes], before: dict[str, Any], after: dict[str, Any]) -> list[bytes]:
    """`events` carrying `after`'s texts wherever they differ from `before`'s."""
    old, new = _texts(before), _texts(after)
    changed = {where: text for where, text in new.items() if old.get(where) != text}
    if not changed:
        return events
    placed: set[tuple[int, int]] = set()
    result = []
    for event in events:
        parsed = _parse(event)
        if parsed is None:
            result.append(event)
            continue
        kind, payload = parsed
        where = (payload.get("output_index", -1), payload.get("content_index", -1))
        if kind == "response.output_text.delta" and where in changed:
            payload = {**payload, "delta": "" if where in placed else changed[where]}
            placed.add(where)
        elif kind == "response.output_text.done" and where in changed:
            payload = {**payload, "text": changed[where]}
        elif kind == "response.content_part.done" and where in changed:
            payload = {**payload, "part": {**payload.get("part", {}), "text": changed[where]}}
        elif kind == "response.output_item.done" and any(index == where[0] for index, _part in changed):
            payload = {**payload, "item": after["output"][where[0]]}
        elif kind in ENDINGS:
            payload = {**payload, "response": after}
        else:
            result.append(event)
            continue
        result.append(_frame(kind, payload))
    return result
