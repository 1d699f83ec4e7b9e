"""AWS Bedrock Converse (`POST /model/{modelId}/converse`) and ConverseStream (`/converse-stream`)
for the fake provider, the stream in real AWS event-stream frames.

Frames are built here, independently of the gateway's decoder, so that a test can hold them against
botocore's own decoder. Usage follows Bedrock: `inputTokens` excludes cache reads
(`cacheReadInputTokens`); the `metadata` event, last in the stream, carries usage and metrics.
Like the real service, a conversation must start with a user turn and alternate roles.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from tfy_gateway.fakeprovider import synth
from tfy_gateway.fakeprovider.calls import Call
from tfy_gateway.fakeprovider.wire import Pacer, abort, error_response, generation_delay, json_response

EVENTSTREAM = "application/vnd.amazon.eventstream"
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"  # Bedrock pads events with a "p" field


def _string_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths + CRC), string headers, payload, message CRC."""
    encoded = b"".join(_string_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return head + struct.pack(">I", zlib.crc32(head))


def event(name: str, body: dict[str, Any]) -> bytes:
    payload = orjson.dumps({**body, "p": _PADDING[: 1 + len(name) % len(_PADDING)]})
    return frame({":event-type": name, ":content-type": "application/json", ":message-type": "event"}, payload)


def exception(name: str, message: str) -> bytes:
    headers = {":exception-type": name, ":content-type": "application/json", ":message-type": "exception"}
    return frame(headers, orjson.dumps({"message": message}))


def _texts(content: Any) -> Iterator[str]:
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            yield block["text"]
        elif isinstance(block.get("toolUse"), dict):
            yield str(block["toolUse"].get("name", ""))
            yield orjson.dumps(block["toolUse"].get("input", {})).decode()
        elif isinstance(block.get("toolResult"), dict):
            yield from _texts(block["toolResult"].get("content"))


def _conversation_problem(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "The messages field is required and must not be empty."
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    if roles[0] != "user":
        return (
            "A conversation must start with a user message. Try again with a conversation that starts with a "
            "user message."
        )
    for previous, role in itertools.pairwise(roles):
        if role not in ("user", "assistant") or role == previous:
            return (
                "A conversation must alternate between user and assistant roles. Make sure the conversation "
                "alternates between user and assistant roles and try again."
            )
    return None


def _last_turn(messages: list[Any]) -> tuple[str, str]:
    last = messages[-1]
    content = last.get("content") if isinstance(last.get("content"), list) else []
    if any(isinstance(b, dict) and "toolResult" in b for b in content):
        return "tool", ""
    return str(last.get("role", "")), " ".join(b["text"] for b in content if isinstance(b, dict) and "text" in b)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pick_tool(body: dict[str, Any], messages: list[Any]) -> tuple[str, dict[str, Any]] | None:
    config = _mapping(body.get("toolConfig"))
    tools = []
    for tool in config.get("tools") or ():
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict) and "name" in spec:
            schema = (spec.get("inputSchema") or {}).get("json") or {}
            tools.append((str(spec["name"]), schema if isinstance(schema, dict) else {}))
    choice = _mapping(config.get("toolChoice"))
    forced = choice["tool"].get("name") if isinstance(choice.get("tool"), dict) else None
    role, text = _last_turn(messages)
    return synth.choose_tool(tools, forced, "any" in choice, False, role, text)


async def converse(call: Call) -> web.StreamResponse:
    """Both operations: the path says whether the answer is streamed."""
    body = call.body
    messages = body.get("messages")
    problem = _conversation_problem(messages)
    if problem is not None:
        return error_response("bedrock", 400, problem)
    assert isinstance(messages, list)
    inference = _mapping(body.get("inferenceConfig"))
    max_tokens = inference.get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return error_response("bedrock", 400, "inferenceConfig.maxTokens: must be a positive integer")
    prompt = synth.count_tokens(
        [
            *(str(s.get("text", "")) for s in body.get("system") or () if isinstance(s, dict)),
            *(t for m in messages if isinstance(m, dict) for t in _texts(m.get("content"))),
        ]
    )
    cached = min(call.knobs.cached_tokens, prompt)
    tool = _pick_tool(body, messages)
    blocks: list[dict[str, Any]]
    if tool is not None:
        name, schema = tool
        arguments = synth.arguments_for(schema)
        tool_id = "tooluse_" + hashlib.blake2b((call.call_id + name).encode(), digest_size=8).hexdigest()
        lead = f"Calling {name}."
        blocks = [{"text": lead}, {"toolUse": {"toolUseId": tool_id, "name": name, "input": arguments}}]
        output_tokens = synth.count_tokens([lead, name, orjson.dumps(arguments).decode()])
        stop_reason = "tool_use"
    else:
        wanted = call.knobs.tokens if call.knobs.tokens is not None else synth.DEFAULT_REPLY_TOKENS
        output_tokens = wanted if max_tokens is None else min(wanted, max_tokens)
        stop_reason = "max_tokens" if output_tokens < wanted else "end_turn"
        blocks = [{"text": synth.join_words(synth.reply_words(call.model, _last_turn(messages)[1], output_tokens))}]
    usage = {
        "inputTokens": prompt - cached,
        "outputTokens": output_tokens,
        "totalTokens": prompt + output_tokens,
        "cacheReadInputTokens": cached,
        "cacheWriteInputTokens": 0,
    }
    request_id = {"x-amzn-RequestId": call.call_id}
    if call.request.path.endswith("/converse-stream"):
        return await _stream(call, blocks, usage, stop_reason, request_id)
    started = time.monotonic()
    await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, output_tokens)
    answer = {
        "output": {"message": {"role": "assistant", "content": blocks}},
        "stopReason": stop_reason,
        "usage": usage,
        "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
    }
    return json_response(answer, headers=request_id)


def _deltas(blocks: list[dict[str, Any]], per_chunk: int) -> Iterator[tuple[int, bytes, int]]:
    """(tokens, frame, block index) for every frame of the content, in order."""
    for index, block in enumerate(blocks):
        if "text" in block:
            for piece in synth.stream_pieces(block["text"].split(" "), per_chunk):
                yield (
                    per_chunk,
                    event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}),
                    index,
                )
        else:
            tool = block["toolUse"]
            start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
            yield 0, event("contentBlockStart", {"contentBlockIndex": index, "start": start}), index
            for piece in synth.split_arguments(orjson.dumps(tool["input"]).decode()):
                delta = {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}
                yield 1, event("contentBlockDelta", delta), index
        yield 0, event("contentBlockStop", {"contentBlockIndex": index}), index


async def _stream(
    call: Call, blocks: list[dict[str, Any]], usage: dict[str, int], stop_reason: str, headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"content-type": EVENTSTREAM, **headers})
    await response.prepare(call.request)
    knobs = call.knobs
    pacer = Pacer(knobs.ttft_ms, knobs.tpot_ms)
    started = time.monotonic()
    await pacer.before_token(0)
    await response.write(event("messageStart", {"role": "assistant"}))
    emitted = 0
    for tokens, data, _ in _deltas(blocks, knobs.chunk_tokens):
        if tokens and knobs.drop_after is not None and emitted >= knobs.drop_after:
            abort(call.request)
            return response
        if tokens and knobs.cut_after is not None and emitted >= knobs.cut_after:
            await response.write_eof()
            return response
        if tokens and knobs.error_after is not None and emitted >= knobs.error_after:
            message = f"fake provider: injected stream error after {emitted} tokens"
            await response.write(exception("modelStreamErrorException", message))
            await response.write_eof()
            return response
        if tokens:
            await pacer.before_token(emitted)
            emitted += tokens
        await response.write(data)
    metrics = {"latencyMs": int((time.monotonic() - started) * 1000)}
    tail = event("messageStop", {"stopReason": stop_reason}) + event("metadata", {"usage": usage, "metrics": metrics})
    await response.write(tail)
    await response.write_eof()
    return response
