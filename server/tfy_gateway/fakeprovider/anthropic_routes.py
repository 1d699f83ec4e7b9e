"""Anthropic Messages (`POST /v1/messages`) for the fake provider, streaming with the real events.

Usage follows Anthropic's split: `input_tokens` excludes cache reads (`cache_read_input_tokens`);
`message_start` carries the input side, `message_delta` the final `output_tokens`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from tfy_gateway.fakeprovider import synth
from tfy_gateway.fakeprovider.calls import Call
from tfy_gateway.fakeprovider.wire import (
    Pacer,
    abort,
    error_response,
    generation_delay,
    json_response,
    sse_event,
    start_sse,
)


def _block_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    if not isinstance(content, list):
        return
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            yield str(block.get("text", ""))
        elif kind == "tool_use":
            yield str(block.get("name", ""))
            yield orjson.dumps(block.get("input", {})).decode()
        elif kind == "tool_result":
            yield from _block_texts(block.get("content"))


def _last_turn(messages: list[Any]) -> tuple[str, str]:
    """(role, text) of the last message; a user turn made of tool results counts as role "tool"."""
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    content = last.get("content")
    role = str(last.get("role", ""))
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        role = "tool"
    texts = (
        [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        if isinstance(content, list)
        else [content if isinstance(content, str) else ""]
    )
    return role, " ".join(texts)


def _pick_tool(body: dict[str, Any], messages: list[Any]) -> tuple[str, dict[str, Any]] | None:
    tools = [
        (t["name"], t.get("input_schema") or {})
        for t in body.get("tools") or ()
        if isinstance(t, dict) and "name" in t and "input_schema" in t
    ]
    raw_choice = body.get("tool_choice")
    choice: dict[str, Any] = raw_choice if isinstance(raw_choice, dict) else {}
    kind = choice.get("type", "auto")
    forced = choice.get("name") if kind == "tool" else None
    role, text = _last_turn(messages)
    return synth.choose_tool(tools, forced, kind == "any", kind == "none", role, text)


async def messages(call: Call) -> web.StreamResponse:
    body = call.body
    if not call.model:
        return error_response("anthropic", 400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return error_response("anthropic", 400, "max_tokens: Field required (a positive integer)")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return error_response("anthropic", 400, "messages: must be a non-empty array")
    prompt = synth.count_tokens(
        [
            *_block_texts(body.get("system")),
            *(t for m in msgs if isinstance(m, dict) for t in _block_texts(m.get("content"))),
        ]
    )
    window = call.knobs.context_tokens
    if window is not None and prompt + max_tokens > window:
        return error_response("anthropic", 400, f"prompt is too long: {prompt + max_tokens} tokens > {window} maximum")
    cached = min(call.knobs.cached_tokens, prompt)
    input_usage = {
        "input_tokens": prompt - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }
    message_id = "msg_" + call.call_id
    tool = _pick_tool(body, msgs)
    blocks: list[dict[str, Any]]
    if tool is not None:
        name, schema = tool
        arguments = synth.arguments_for(schema)
        tool_id = "toolu_" + hashlib.blake2b((message_id + name).encode(), digest_size=8).hexdigest()
        lead = f"Calling {name}."
        blocks = [
            {"type": "text", "text": lead},
            {"type": "tool_use", "id": tool_id, "name": name, "input": arguments},
        ]
        output_tokens = synth.count_tokens([lead, name, orjson.dumps(arguments).decode()])
        stop_reason = "tool_use"
    else:
        wanted = call.knobs.tokens if call.knobs.tokens is not None else synth.DEFAULT_REPLY_TOKENS
        output_tokens = min(wanted, max_tokens)
        stop_reason = "max_tokens" if output_tokens < wanted else "end_turn"
        words = synth.reply_words(call.model, _last_turn(msgs)[1], output_tokens)
        blocks = [{"type": "text", "text": synth.join_words(words)}]
    if body.get("stream") is True:
        return await _stream(call, message_id, blocks, input_usage, output_tokens, stop_reason)
    await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, output_tokens)
    return json_response(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**input_usage, "output_tokens": output_tokens},
        }
    )


async def _stream(
    call: Call,
    message_id: str,
    blocks: list[dict[str, Any]],
    input_usage: dict[str, int],
    output_tokens: int,
    stop_reason: str,
) -> web.StreamResponse:
    response = await start_sse(call.request)
    pacer = Pacer(call.knobs.ttft_ms, call.knobs.tpot_ms)
    per_chunk = call.knobs.chunk_tokens
    drop_after = call.knobs.drop_after
    await pacer.before_token(0)
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**input_usage, "output_tokens": 1},
    }
    await response.write(sse_event("message_start", {"type": "message_start", "message": start}))
    emitted = 0
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [
                {"type": "text_delta", "text": p} for p in synth.stream_pieces(block["text"].split(" "), per_chunk)
            ]
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in synth.split_arguments(orjson.dumps(block["input"]).decode())
            ]
        head = sse_event(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}
        )
        if index == 0:
            head += sse_event("ping", {"type": "ping"})
        await response.write(head)
        for delta in deltas:
            if drop_after is not None and emitted >= drop_after:
                abort(call.request)
                return response
            await pacer.before_token(emitted)
            emitted += per_chunk if delta["type"] == "text_delta" else 1
            await response.write(
                sse_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        await response.write(sse_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    tail = sse_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )
    tail += sse_event("message_stop", {"type": "message_stop"})
    await response.write(tail)
    await response.write_eof()
    return response
