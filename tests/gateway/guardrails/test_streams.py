"""A streamed answer assembled for output guardrails, and its events rewritten to carry a redaction."""

from __future__ import annotations

from typing import Any

import orjson

from tfy_gateway.gateway.guardrails.streams import assemble, rewrite


def event(delta: dict[str, Any], *, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    chunk = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        chunk["usage"] = usage
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


EVENTS = [
    event({"role": "assistant", "content": ""}),
    event({"content": "mail bob@"}),
    event({"content": "example.com now"}),
    event({}, finish="stop", usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}),
    b"data: [DONE]\n\n",
]


def _texts(events: list[bytes]) -> str:
    text = ""
    for item in events:
        if item.startswith(b"data: {"):
            for choice in orjson.loads(item[6:])["choices"]:
                text += choice["delta"].get("content") or ""
    return text


def test_assemble_joins_the_deltas_into_a_chat_completion() -> None:
    answer = assemble(EVENTS)
    assert answer["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "mail bob@example.com now"}, "finish_reason": "stop"}
    ]
    assert answer["usage"]["total_tokens"] == 7 and answer["id"] == "c1"


def test_rewrite_carries_the_new_text_and_keeps_every_other_event() -> None:
    before = assemble(EVENTS)
    after = {**before, "choices": [{**before["choices"][0], "message": {"role": "assistant", "content": "[x] now"}}]}
    rewritten = rewrite(EVENTS, before, after)
    assert _texts(rewritten) == "[x] now"
    assert len(rewritten) == len(EVENTS) and rewritten[-1] == b"data: [DONE]\n\n"
    assert rewrite(EVENTS, before, before) is EVENTS
