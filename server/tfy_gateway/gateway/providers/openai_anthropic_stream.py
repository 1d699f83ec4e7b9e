"""Anthropic Messages stream events -> OpenAI `chat.completion.chunk` events (pure: `AnthropicChunks`
is a state machine fed one event at a time; `UpstreamStream` does the reading).

message_start gives the id, model and input-side usage (first chunk: role); content_block_start of a
tool_use opens a tool call (its own `index` in tool_calls, counted from 0 over tool blocks only);
text/input_json/thinking deltas become content/arguments/reasoning_content deltas; message_delta gives
the stop reason and the final output_tokens (cumulative, so the last value wins, merged with the
message_start input side); message_stop ends with the usage chunk and [DONE]. A client that asked
for usage (`stream_options.include_usage`) gets `usage: null` in every other chunk, as from OpenAI;
one that did not sees no `usage` at all.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import (
    UpstreamError,
    UpstreamStreamCut,
    UpstreamTarget,
    Usage,
    credential_values,
    redact,
)
from tfy_gateway.gateway.providers.wire import Translated, event_json, stream_end

ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def usage_from(usage: Any) -> Usage:
    """Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's prompt_tokens includes them."""
    if not isinstance(usage, dict):
        return Usage()
    read = usage.get("cache_read_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        prompt_tokens=(usage.get("input_tokens") or 0) + read + write,
        completion_tokens=usage.get("output_tokens") or 0,
        cached_tokens=read,
        cache_write_tokens=write,
    )


class AnthropicChunks:
    """The translation state of one Anthropic stream (a `ChunkTranslator`; no I/O)."""

    def __init__(self, target: UpstreamTarget, *, include_usage: bool) -> None:
        self.target = target
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._include_usage = include_usage
        self._id = ""
        self._model = target.model_id
        self._created = int(time.time())
        self._tool_index: dict[int, int] = {}
        self._raw_usage: dict[str, int] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        event = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self._include_usage:  # as OpenAI: `usage: null` on every chunk, the numbers on the last
            event["usage"] = None
        return b"data: " + orjson.dumps(event) + b"\n\n"

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                value = usage.get(key)
                if isinstance(value, int):
                    self._raw_usage[key] = value
            self.usage = usage_from(self._raw_usage)

    def feed(self, event: str, data: bytes) -> Translated:
        payload = event_json(self.target, data)
        kind = payload.get("type") or event
        if kind == "content_block_delta":
            return self._delta(payload)
        if kind == "message_start":
            message = payload.get("message") or {}
            self._id = message.get("id") or self._id
            self._model = message.get("model") or self._model
            self._merge_usage(message.get("usage"))
            return Translated((self._chunk({"role": "assistant", "content": ""}),))
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "message_delta":
            self._merge_usage(payload.get("usage"))
            reason = (payload.get("delta") or {}).get("stop_reason")
            if reason:
                self.finish_reason = FINISH_REASONS.get(reason, "stop")
                return Translated((self._chunk({}, self.finish_reason),))
            return Translated()
        if kind == "message_stop":
            return stream_end(self._id, self._created, self._model, self.usage, self._include_usage)
        if kind == "error":
            error = payload.get("error") or {}
            error_type = str(error.get("type") or "api_error")
            message = redact(str(error.get("message") or "stream error"), credential_values(self.target))
            raise UpstreamError(
                ERROR_STATUS.get(error_type, 500), message, self.target.provider, error_type=error_type, code=error_type
            )
        return Translated()  # ping and content_block_stop carry nothing for OpenAI clients

    def _block_start(self, payload: dict[str, Any]) -> Translated:
        block = payload.get("content_block") or {}
        if block.get("type") == "tool_use":
            position = len(self._tool_index)
            self._tool_index[payload.get("index", 0)] = position
            opening = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return Translated((self._chunk({"tool_calls": [opening]}),), first_token=True)
        if block.get("type") == "text" and block.get("text"):
            return Translated((self._chunk({"content": block["text"]}),), first_token=True)
        return Translated()

    def _delta(self, payload: dict[str, Any]) -> Translated:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return Translated((self._chunk({"content": delta.get("text", "")}),), first_token=True)
        if kind == "input_json_delta":
            position = self._tool_index.get(payload.get("index", 0), 0)
            arguments = {"index": position, "function": {"arguments": delta.get("partial_json", "")}}
            return Translated((self._chunk({"tool_calls": [arguments]}),), first_token=True)
        if kind == "thinking_delta":
            return Translated((self._chunk({"reasoning_content": delta.get("thinking", "")}),), first_token=True)
        return Translated()

    def end(self) -> Translated:
        raise UpstreamStreamCut(
            502, f"{self.target.provider} closed the stream before message_stop", self.target.provider
        )
