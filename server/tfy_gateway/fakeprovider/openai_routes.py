"""OpenAI wire-format endpoints of the fake provider (also served under Azure deployment URLs)."""

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
from tfy_gateway.fakeprovider.reply_options import choice_count, logprobs_for, reply_pieces
from tfy_gateway.fakeprovider.wire import (
    DONE,
    Pacer,
    abort,
    error_response,
    generation_delay,
    json_response,
    sse_data,
    start_sse,
)


def _texts(messages: list[Any]) -> Iterator[str]:
    for message in messages:
        if not isinstance(message, dict):
            continue
        yield from _content_texts(message.get("content"))
        for tool_call in message.get("tool_calls") or ():
            function = tool_call.get("function") or {} if isinstance(tool_call, dict) else {}
            yield str(function.get("name", ""))
            yield str(function.get("arguments", ""))


def _content_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


def _limit(body: dict[str, Any]) -> int | None:
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return limit if isinstance(limit, int) and limit > 0 else None


def _reply_length(call: Call) -> tuple[int, bool]:
    """(completion tokens, truncated by max_tokens)."""
    wanted = call.knobs.tokens if call.knobs.tokens is not None else synth.DEFAULT_REPLY_TOKENS
    limit = _limit(call.body)
    if limit is not None and limit < wanted:
        return limit, True
    return wanted, False


def _usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": min(cached, prompt), "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _tool_choice(body: dict[str, Any]) -> tuple[str | None, bool, bool]:
    """(forced tool name, any tool required, tools disabled)."""
    choice = body.get("tool_choice")
    if choice == "none":
        return None, False, True
    if choice == "required":
        return None, True, False
    if isinstance(choice, dict):
        function = choice.get("function") or {}
        return function.get("name"), False, False
    return None, False, False


def _pick_tool(body: dict[str, Any], messages: list[Any]) -> tuple[str, dict[str, Any]] | None:
    tools = [
        (t["function"]["name"], t["function"].get("parameters") or {})
        for t in body.get("tools") or ()
        if isinstance(t, dict) and isinstance(t.get("function"), dict) and "name" in t["function"]
    ]
    if not tools:
        return None
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    forced, any_tool, disabled = _tool_choice(body)
    last_text = " ".join(_content_texts(last.get("content")))
    return synth.choose_tool(tools, forced, any_tool, disabled, str(last.get("role", "")), last_text)


async def chat_completions(call: Call) -> web.StreamResponse:
    body = call.body
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error_response(call.flavor, 400, "'messages' must be a non-empty array")
    prompt_tokens = synth.count_tokens(_texts(messages))
    window = call.knobs.context_tokens
    if window is not None and prompt_tokens + (_limit(body) or 0) > window:
        return error_response(
            call.flavor,
            400,
            f"This model's maximum context length is {window} tokens. However, your messages resulted in "
            f"{prompt_tokens} tokens. Please reduce the length of the messages.",
            code="context_length_exceeded",
            param="messages",
        )
    tool = _pick_tool(body, messages)
    completion_id = "chatcmpl-" + call.call_id
    created = int(time.time())
    stream = body.get("stream") is True
    if tool is not None:
        name, schema = tool
        arguments = orjson.dumps(synth.arguments_for(schema)).decode()
        completion_tokens = synth.count_tokens([name, arguments])
        tool_id = "call_" + hashlib.blake2b((completion_id + name).encode(), digest_size=8).hexdigest()
        usage = _usage(prompt_tokens, completion_tokens, call.knobs.cached_tokens)
        if stream:
            return await _stream_tool_call(call, completion_id, created, tool_id, name, arguments, usage)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": tool_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
            "refusal": None,
        }
        await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, completion_tokens)
        choices = [_choice(i, message, "tool_calls", None) for i in range(choice_count(body))]
        return json_response(_completion(completion_id, created, call.model, choices, usage))
    count, truncated = _reply_length(call)
    last_text = " ".join(_content_texts(messages[-1].get("content") if isinstance(messages[-1], dict) else ""))
    words = synth.reply_words(call.model, last_text, count)
    finish = "length" if truncated else "stop"
    n = choice_count(body)
    usage = _usage(prompt_tokens, count * n, call.knobs.cached_tokens)
    if stream:
        pieces = reply_pieces(body, words, call.knobs.chunk_tokens)
        return await _stream_text(call, completion_id, created, pieces, finish, usage)
    pieces = reply_pieces(body, words, 1)
    message = {"role": "assistant", "content": "".join(pieces), "refusal": None}
    await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, count)
    choices = [_choice(i, message, finish, logprobs_for(body, pieces)) for i in range(n)]
    return json_response(_completion(completion_id, created, call.model, choices, usage))


def _choice(index: int, message: dict[str, Any], finish: str, logprobs: dict[str, Any] | None) -> dict[str, Any]:
    return {"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish}


def _completion(
    completion_id: str, created: int, model: str, choices: list[dict[str, Any]], usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage,
        "system_fingerprint": "fp_fake",
    }


class _ChunkWriter:
    """Writes chat.completion.chunk events; with include_usage every chunk carries `usage: null`."""

    def __init__(self, call: Call, completion_id: str, created: int, usage: dict[str, Any]) -> None:
        options = call.body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.usage = usage
        self.base: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": call.model,
            "system_fingerprint": "fp_fake",
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, *, index: int = 0, logprobs: Any = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        event = {**self.base, "choices": [choice]}
        if self.include_usage:
            event["usage"] = None
        return sse_data(event)

    def tail(self) -> bytes:
        if not self.include_usage:
            return DONE
        return sse_data({**self.base, "choices": [], "usage": self.usage}) + DONE


async def _stream_text(
    call: Call, completion_id: str, created: int, pieces: list[str], finish: str, usage: dict[str, Any]
) -> web.StreamResponse:
    """The reply's pieces, each sent for every one of the `n` choices (with its logprobs if asked)."""
    writer = _ChunkWriter(call, completion_id, created, usage)
    response = await start_sse(call.request)
    pacer = Pacer(call.knobs.ttft_ms, call.knobs.tpot_ms)
    per_chunk = call.knobs.chunk_tokens
    drop_after, cut_after = call.knobs.drop_after, call.knobs.cut_after
    indexes = range(choice_count(call.body))
    await pacer.before_token(0)
    await response.write(
        b"".join(writer.chunk({"role": "assistant", "content": "", "refusal": None}, index=i) for i in indexes)
    )
    for i, piece in enumerate(pieces):
        if drop_after is not None and i * per_chunk >= drop_after:
            abort(call.request)
            return response
        if cut_after is not None and i * per_chunk >= cut_after:
            await response.write_eof()  # a well-formed end of the body, but the answer is unfinished
            return response
        await pacer.before_token(i * per_chunk)
        logprobs = logprobs_for(call.body, [piece])
        await response.write(b"".join(writer.chunk({"content": piece}, index=j, logprobs=logprobs) for j in indexes))
    await response.write(b"".join(writer.chunk({}, finish, index=i) for i in indexes) + writer.tail())
    if call.knobs.linger_ms:
        await asyncio.sleep(call.knobs.linger_ms / 1000)
    await response.write_eof()
    return response


async def _stream_tool_call(
    call: Call,
    completion_id: str,
    created: int,
    tool_id: str,
    name: str,
    arguments: str,
    usage: dict[str, Any],
) -> web.StreamResponse:
    writer = _ChunkWriter(call, completion_id, created, usage)
    response = await start_sse(call.request)
    pacer = Pacer(call.knobs.ttft_ms, call.knobs.tpot_ms)
    await pacer.before_token(0)
    opening = {"index": 0, "id": tool_id, "type": "function", "function": {"name": name, "arguments": ""}}
    await response.write(writer.chunk({"role": "assistant", "content": None}) + writer.chunk({"tool_calls": [opening]}))
    for i, piece in enumerate(synth.split_arguments(arguments), start=1):
        await pacer.before_token(i)
        await response.write(writer.chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    await response.write(writer.chunk({}, "tool_calls") + writer.tail())
    await response.write_eof()
    return response


async def completions(call: Call) -> web.StreamResponse:
    prompt = call.body.get("prompt")
    if prompt is None:  # OpenAI's default prompt: the end-of-text token
        prompt = "<|endoftext|>"
    candidates = prompt if isinstance(prompt, list) else [prompt]
    prompts = [p for p in candidates if isinstance(p, str)]
    if len(prompts) != len(candidates):
        return error_response(call.flavor, 400, "'prompt' must be a string or an array of strings")
    count, truncated = _reply_length(call)
    words = synth.reply_words(call.model, prompts[-1] if prompts else "", count)
    finish = "length" if truncated else "stop"
    usage = _usage(synth.count_tokens(prompts), count, call.knobs.cached_tokens)
    base = {
        "id": "cmpl-" + call.call_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": call.model,
    }
    if call.body.get("stream") is not True:
        choice = {"text": synth.join_words(words), "index": 0, "logprobs": None, "finish_reason": finish}
        await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, count)
        return json_response({**base, "choices": [choice], "usage": usage})
    options = call.body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    response = await start_sse(call.request)
    pacer = Pacer(call.knobs.ttft_ms, call.knobs.tpot_ms)
    per_chunk = call.knobs.chunk_tokens
    for i, piece in enumerate(synth.stream_pieces(words, per_chunk)):
        await pacer.before_token(i * per_chunk)
        choice = {"text": piece, "index": 0, "logprobs": None, "finish_reason": None}
        await response.write(sse_data({**base, "choices": [choice]}))
    tail = sse_data({**base, "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": finish}]})
    if include_usage:
        tail += sse_data({**base, "choices": [], "usage": usage})
    await response.write(tail + DONE)
    await response.write_eof()
    return response


def _embedding_inputs(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return value
        if all(isinstance(v, int) for v in value):  # one pre-tokenised input
            return [str(value)]
        if all(isinstance(v, list) for v in value):
            return [str(v) for v in value]
    return None


async def embeddings(call: Call) -> web.Response:
    inputs = _embedding_inputs(call.body.get("input"))
    if inputs is None:
        return error_response(
            call.flavor, 400, "'input' must be a string, an array of strings or an array of token arrays"
        )
    dimensions = call.body.get("dimensions", synth.DEFAULT_EMBEDDING_DIMENSIONS)
    if not isinstance(dimensions, int) or not 1 <= dimensions <= 8192:
        return error_response(call.flavor, 400, "'dimensions' must be an integer between 1 and 8192")
    as_base64 = call.body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(inputs):
        vector = call.vectors.get(text, dimensions)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": synth.embedding_base64(vector) if as_base64 else vector,
            }
        )
    tokens = synth.count_tokens(inputs)
    return json_response(
        {
            "object": "list",
            "data": data,
            "model": call.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
