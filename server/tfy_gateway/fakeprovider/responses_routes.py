"""The fake provider's `POST /v1/responses`, in OpenAI's Responses wire format (streamed and not).

Deterministic like the chat route (synth.py): a text reply of `tokens` words, cut by
`max_output_tokens` (status `incomplete`), or a function call when the request offers function tools
and the last user input mentions one (or the word "tool"), or `tool_choice` forces it. Built-in
tools (web_search, ...) are accepted and ignored, as a provider that runs them would answer text.
Streams carry OpenAI's event sequence with sequence numbers and end with `response.completed`
(`linger_ms`: the connection stays open that long after it).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from tfy_gateway.fakeprovider import synth
from tfy_gateway.fakeprovider.calls import Call
from tfy_gateway.fakeprovider.wire import Pacer, error_response, generation_delay, json_response, sse_event, start_sse


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key in ("content", "text", "output", "arguments", "name"):
            yield from _texts(value.get(key))


def _last_user_text(items: Any) -> tuple[str, str]:
    """(role, text) of the last input item; a string input is a user message."""
    if isinstance(items, str):
        return "user", items
    last = items[-1] if isinstance(items, list) and items and isinstance(items[-1], dict) else {}
    role = str(last.get("role") or last.get("type") or "")
    return role, " ".join(_texts(last.get("content")))


def _pick_tool(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    tools = [
        (t["name"], t.get("parameters") or {})
        for t in body.get("tools") or ()
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
    ]
    choice = body.get("tool_choice")
    forced = choice.get("name") if isinstance(choice, dict) else None
    role, text = _last_user_text(body.get("input"))
    return synth.choose_tool(tools, forced, choice == "required", choice == "none", role, text)


def _usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": min(cached, prompt), "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _response(call: Call, response_id: str, status: str, output: list[Any], usage: Any) -> dict[str, Any]:
    body = call.body
    tools = [tool for tool in body.get("tools") or () if isinstance(tool, dict)]
    return (
        {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": call.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [{"strict": True, "parameters": None, **t} if t.get("type") == "function" else t for t in tools],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "metadata": body.get("metadata") or {},
        }
        | ({"user": body["user"]} if isinstance(body.get("user"), str) else {})
        | ({"usage": usage} if usage else {})
    )


async def responses(call: Call) -> web.StreamResponse:
    body = call.body
    items = body.get("input")
    if not isinstance(items, (str, list)) or not items:
        return error_response(call.flavor, 400, "'input' must be a non-empty string or array of input items")
    prompt = synth.count_tokens([*_texts(items), *_texts(body.get("instructions"))])
    response_id = "resp_" + call.call_id
    tool = _pick_tool(body)
    if tool is not None:
        name, schema = tool
        arguments = orjson.dumps(synth.arguments_for(schema)).decode()
        call_id = "call_" + hashlib.blake2b((response_id + name).encode(), digest_size=8).hexdigest()
        item: dict[str, Any] = {"id": "fc_" + call.call_id, "type": "function_call", "status": "completed"}
        item |= {"arguments": arguments}
        item |= {"call_id": call_id, "name": name}
        count, status, pieces = synth.count_tokens([name, arguments]), "completed", synth.split_arguments(arguments)
    else:
        wanted = call.knobs.tokens if call.knobs.tokens is not None else synth.DEFAULT_REPLY_TOKENS
        limit = body.get("max_output_tokens")
        count = min(wanted, limit) if isinstance(limit, int) and limit > 0 else wanted
        status = "incomplete" if count < wanted else "completed"
        words = synth.reply_words(call.model, _last_user_text(items)[1], count)
        text = synth.join_words(words)
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item = {"id": "msg_" + call.call_id, "type": "message", "status": "completed", "role": "assistant"}
        item |= {"content": [part]}
        pieces = synth.stream_pieces(words, call.knobs.chunk_tokens)
    usage = _usage(prompt, count, call.knobs.cached_tokens)
    if body.get("stream") is not True:
        await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, count)
        return json_response(_response(call, response_id, status, [item], usage))
    return await _stream(call, response_id, status, item, pieces, usage)


async def _stream(
    call: Call, response_id: str, status: str, item: dict[str, Any], pieces: list[str], usage: dict[str, Any]
) -> web.StreamResponse:
    response = await start_sse(call.request)
    sequence = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return sse_event(kind, payload)

    pacer = Pacer(call.knobs.ttft_ms, call.knobs.tpot_ms)
    opening = _response(call, response_id, "in_progress", [], None)
    await response.write(event("response.created", response=opening) + event("response.in_progress", response=opening))
    where = {"item_id": item["id"], "output_index": 0}
    if item["type"] == "message":
        empty = {**item, "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        head = event("response.output_item.added", output_index=0, item=empty)
        await response.write(head + event("response.content_part.added", **where, content_index=0, part=part))
    else:
        head = event(
            "response.output_item.added", output_index=0, item={**item, "status": "in_progress", "arguments": ""}
        )
        await response.write(head)
    cut_after = call.knobs.cut_after
    for index, piece in enumerate(pieces):
        if cut_after is not None and index >= cut_after:
            await response.write_eof()  # a well-formed end of the body, but the answer is unfinished
            return response
        await pacer.before_token(index)
        if item["type"] == "message":
            await response.write(
                event("response.output_text.delta", **where, content_index=0, delta=piece, logprobs=[])
            )
        else:
            await response.write(event("response.function_call_arguments.delta", **where, delta=piece))
    if item["type"] == "message":
        part = item["content"][0]
        tail = event("response.output_text.done", **where, content_index=0, text=part["text"], logprobs=[])
        tail += event("response.content_part.done", **where, content_index=0, part=part)
    else:
        tail = event("response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"])
    tail += event("response.output_item.done", output_index=0, item=item)
    final = _response(call, response_id, status, [item], usage)
    tail += event(f"response.{status}", response=final)
    await response.write(tail)
    if call.knobs.linger_ms:
        await asyncio.sleep(call.knobs.linger_ms / 1000)
    await response.write_eof()
    return response
