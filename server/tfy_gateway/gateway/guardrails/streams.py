"""A streamed answer as output guardrails see it: the chunk events assembled into one answer, and the
events rewritten when a mutate guardrail changed that answer.

`assemble` joins each choice's content deltas (chat) or text (completions) into the body a
non-streamed call would have returned (a /responses stream: response_events.py). `rewrite` keeps
every event (role, tool calls, finish reasons, usage) and moves each changed choice's new text into
its first content delta, emptying the others, so a client reassembles exactly the rewritten answer.
"""

from __future__ import annotations

from typing import Any

import orjson

from tfy_gateway.gateway.guardrails import response_events

DATA = b"data: "


def _chunk(event: bytes) -> dict[str, Any] | None:
    if not event.startswith(b"data: {"):
        return None
    try:
        chunk = orjson.loads(event[len(DATA) :])
    except orjson.JSONDecodeError:
        return None
    return chunk if isinstance(chunk, dict) else None


def _choice_text(choice: dict[str, Any]) -> tuple[str | None, bool]:
    """(the text this chunk adds to the choice, whether it is a chat delta)."""
    delta = choice.get("delta")
    if isinstance(delta, dict):
        text = delta.get("content")
        return (text if isinstance(text, str) else None), True
    text = choice.get("text")
    return (text if isinstance(text, str) else None), False


def assemble(events: list[bytes]) -> dict[str, Any]:
    """The answer the events stream, in the non-streamed shape (chat, completions or responses)."""
    if response_events.is_responses(events):
        return response_events.assemble(events)
    texts: dict[int, list[str]] = {}
    finish: dict[int, Any] = {}
    chat = True
    head: dict[str, Any] = {}
    usage = None
    for event in events:
        chunk = _chunk(event)
        if chunk is None:
            continue
        if not head:
            head = {key: chunk[key] for key in ("id", "created", "model") if key in chunk}
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            text, chat = _choice_text(choice)
            texts.setdefault(index, [])
            if text:
                texts[index].append(text)
            if choice.get("finish_reason") is not None:
                finish[index] = choice["finish_reason"]
    choices = []
    for index in sorted(texts):
        joined = "".join(texts[index])
        if chat:
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": joined},
                    "finish_reason": finish.get(index),
                }
            )
        else:
            choices.append({"index": index, "text": joined, "finish_reason": finish.get(index)})
    body: dict[str, Any] = {**head, "object": "chat.completion" if chat else "text_completion", "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return body


def _answer_texts(answer: dict[str, Any]) -> dict[int, str]:
    found = {}
    for position, choice in enumerate(answer.get("choices") or ()):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else choice.get("text")
        found[choice.get("index", position)] = text if isinstance(text, str) else ""
    return found


def rewrite(events: list[bytes], before: dict[str, Any], after: dict[str, Any]) -> list[bytes]:
    """`events` carrying `after`'s texts wherever they differ from `before`'s."""
    if response_events.is_responses(events):
        return response_events.rewrite(events, before, after)
    old, new = _answer_texts(before), _answer_texts(after)
    changed = {index: text for index, text in new.items() if old.get(index) != text}
    if not changed:
        return events
    placed: set[int] = set()
    result = []
    for event in events:
        chunk = _chunk(event)
        if chunk is None or not any(
            isinstance(c, dict) and c.get("index", 0) in changed for c in chunk.get("choices") or ()
        ):
            result.append(event)
            continue
        choices = [_replaced(choice, changed, placed) for choice in chunk.get("choices") or ()]
        result.append(DATA + orjson.dumps({**chunk, "choices": choices}) + b"\n\n")
    return result


def _replaced(choice: Any, changed: dict[int, str], placed: set[int]) -> Any:
    if not isinstance(choice, dict) or choice.get("index", 0) not in changed:
        return choice
    index = choice.get("index", 0)
    text, chat = _choice_text(choice)
    if text is None:
        return choice
    new_text = "" if index in placed else changed[index]
    placed.add(index)
    if chat:
        return {**choice, "delta": {**choice["delta"], "content": new_text}}
    return {**choice, "text": new_text}
