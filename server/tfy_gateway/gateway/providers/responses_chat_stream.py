"""A translated chat stream re-emitted as the Responses API's stream events (pure: a `ChunkTranslator`
wrapping the target's own chat translator, fed one upstream event at a time).

The sequence is OpenAI's: `response.created` and `response.in_progress` with the first chunk; for
text `response.output_item.added` (a message), `response.content_part.added`,
`response.output_text.delta`..., `response.output_text.done`, `response.content_part.done`,
`response.output_item.done`; for each tool call `response.output_item.added` (a function_call),
`response.function_call_arguments.delta`..., `response.function_call_arguments.done`,
`response.output_item.done`; a refusal as `response.refusal.delta`/`.done`; and last
`response.completed` (or `response.incomplete` when the answer was cut by its token cap or a content
filter) carrying the whole Response with its usage. Reasoning deltas (`reasoning_content`, as the
Anthropic translator gives thinking, or `reasoning`) become a `reasoning` item with a
`reasoning_text` part (`response.reasoning_text.delta`/`.done`). One output item is open at a time:
a new one closes the previous. Every event has a `sequence_number` from 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import Usage
from tfy_gateway.gateway.providers.responses_objects import (
    call_item,
    finish,
    mapping,
    message_item,
    new_id,
    reasoning_item,
    shell,
)
from tfy_gateway.gateway.providers.wire import DONE, ChunkTranslator, Translated


def sse(kind: str, payload: dict[str, Any]) -> bytes:
    """One Responses stream event, framed with its name as OpenAI frames it."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


PREFIXES = {"message": "msg", "reasoning": "rs", "function_call": "fc"}
PARTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "text": (
        "message",
        {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        "response.output_text.delta",
    ),
    "refusal": ("message", {"type": "refusal", "refusal": ""}, "response.refusal.delta"),
    "reasoning": ("reasoning", {"type": "reasoning_text", "text": ""}, "response.reasoning_text.delta"),
}
"""A streamed part: the item it belongs to, the part as `content_part.added` shows it, its delta event."""


class _Item:
    """The output item being streamed: a message (text and/or refusal), reasoning, or one function call."""

    __slots__ = ("arguments", "call_id", "chat_index", "id", "index", "kind", "name", "refusal", "text")

    def __init__(self, kind: str, index: int, chat_index: int = -1, call_id: str = "", name: str = "") -> None:
        self.kind = kind
        self.index = index
        self.id = new_id(PREFIXES[kind])
        self.chat_index = chat_index
        self.call_id = call_id
        self.name = name
        self.text: str | None = None
        self.refusal: str | None = None
        self.arguments = ""

    def as_item(self, status: str) -> dict[str, Any]:
        if self.kind == "message":
            return message_item(self.id, self.text, self.refusal, status)
        if self.kind == "reasoning":
            return reasoning_item(self.id, self.text, status)
        return call_item(self.id, self.call_id, self.name, self.arguments, status)


class ChatToResponseEvents:
    """The translation state of one stream (a `ChunkTranslator`; no I/O)."""

    def __init__(self, inner: ChunkTranslator, request: Mapping[str, Any]) -> None:
        self._inner = inner
        self._request = request
        self._response: dict[str, Any] | None = None
        self._sequence = 0
        self._item: _Item | None = None
        self._calls: dict[int, _Item] = {}
        self._finish: str | None = None

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @property
    def finish_reason(self) -> str | None:
        return self._inner.finish_reason

    def feed(self, event: str, data: bytes) -> Translated:
        return self._translate(self._inner.feed(event, data))

    def end(self) -> Translated:
        return self._translate(self._inner.end())

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return sse(kind, payload)

    def _translate(self, translated: Translated) -> Translated:
        out: list[bytes] = []
        for chunk in translated.chunks:
            if chunk == DONE:
                continue
            if chunk.startswith(b"data: "):
                parsed = orjson.loads(chunk[6:])
                if isinstance(parsed, dict):
                    self._chunk(parsed, out)
        if translated.done:
            self._start(None, out)
            self._close(out)
            assert self._response is not None
            response = finish(self._response, self._finish, self._inner.usage)
            out.append(self._event(f"response.{response['status']}", response=response))
        return Translated(tuple(out), first_token=translated.first_token, done=translated.done)

    def _start(self, chunk: Mapping[str, Any] | None, out: list[bytes]) -> None:
        if self._response is not None:
            return
        chat_id = str((chunk or {}).get("id") or "")
        model = str((chunk or {}).get("model") or self._request.get("model") or "")
        created = (chunk or {}).get("created")
        self._response = shell(
            self._request,
            f"resp_{chat_id}" if chat_id else new_id("resp"),
            created if isinstance(created, int) else int(time.time()),
            model,
        )
        out.append(self._event("response.created", response=dict(self._response)))
        out.append(self._event("response.in_progress", response=dict(self._response)))

    def _chunk(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        self._start(chunk, out)
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return  # a usage-only or content-filter chunk
        choice = choices[0]
        delta = mapping(choice.get("delta"))
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thought, str) and thought:
            self._delta("reasoning", thought, out)
        text = delta.get("content")
        if isinstance(text, str) and text:
            self._delta("text", text, out)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._delta("refusal", refusal, out)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_call(call, out)
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]

    def _current(self, kind: str, out: list[bytes]) -> _Item:
        """The open item of `kind`, or a new one (closing the one open)."""
        item = self._item
        if item is not None and item.kind == kind:
            return item
        self._close(out)
        assert self._response is not None
        item = self._item = _Item(kind, len(self._response["output"]))
        self._response["output"].append(None)
        out.append(self._event("response.output_item.added", output_index=item.index, item=item.as_item("in_progress")))
        return item

    def _delta(self, part: str, piece: str, out: list[bytes]) -> None:
        """Add `piece` to the open item's `part` (text, refusal or reasoning), opening both as needed."""
        kind, empty, event = PARTS[part]
        item = self._current(kind, out)
        attribute = "refusal" if part == "refusal" else "text"
        where = self._where(item, attribute)
        so_far = getattr(item, attribute)
        if so_far is None:
            so_far = ""
            out.append(self._event("response.content_part.added", **where, part=empty))
        setattr(item, attribute, so_far + piece)
        extra: dict[str, Any] = {"logprobs": []} if part == "text" else {}
        out.append(self._event(event, **where, delta=piece, **extra))

    def _where(self, item: _Item, part: str) -> dict[str, Any]:
        content_index = 1 if part == "refusal" and item.text is not None else 0
        return {"item_id": item.id, "output_index": item.index, "content_index": content_index}

    def _tool_call(self, call: dict[str, Any], out: list[bytes]) -> None:
        chat_index = call.get("index", 0)
        function = mapping(call.get("function"))
        item = self._calls.get(chat_index)
        if item is None:
            self._close(out)
            assert self._response is not None
            call_id = str(call.get("id") or new_id("call"))
            item = _Item(
                "function_call", len(self._response["output"]), chat_index, call_id, str(function.get("name") or "")
            )
            self._calls[chat_index] = self._item = item
            self._response["output"].append(None)
            out.append(
                self._event("response.output_item.added", output_index=item.index, item=item.as_item("in_progress"))
            )
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item.arguments += arguments
            if item is self._item:
                out.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=item.id,
                        output_index=item.index,
                        delta=arguments,
                    )
                )

    def _close(self, out: list[bytes]) -> None:
        item, self._item = self._item, None
        if item is None:
            return
        assert self._response is not None
        if item.kind == "message":
            if item.text is not None:
                where = self._where(item, "text")
                out.append(self._event("response.output_text.done", **where, text=item.text, logprobs=[]))
                part = {"type": "output_text", "text": item.text, "annotations": [], "logprobs": []}
                out.append(self._event("response.content_part.done", **where, part=part))
            if item.refusal is not None:
                where = self._where(item, "refusal")
                out.append(self._event("response.refusal.done", **where, refusal=item.refusal))
                out.append(
                    self._event(
                        "response.content_part.done", **where, part={"type": "refusal", "refusal": item.refusal}
                    )
                )
        elif item.kind == "reasoning":
            where = self._where(item, "text")
            text = item.text or ""
            out.append(self._event("response.reasoning_text.done", **where, text=text))
            part = {"type": "reasoning_text", "text": text}
            out.append(self._event("response.content_part.done", **where, part=part))
        else:
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=item.index,
                    name=item.name,
                    arguments=item.arguments,
                )
            )
        done = item.as_item("completed")
        self._response["output"][item.index] = done
        out.append(self._event("response.output_item.done", output_index=item.index, item=done))
