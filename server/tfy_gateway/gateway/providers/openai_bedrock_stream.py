"""Bedrock ConverseStream events -> OpenAI `chat.completion.chunk` events, and Bedrock's errors.

`BedrockChunks` is a state machine fed one decoded event-stream message at a time (eventstream.py
does the framing, `UpstreamStream` the reading). Events: messageStart (first chunk: role),
contentBlockStart of a toolUse (opens a tool call, its own index counted over tool blocks only),
contentBlockDelta (text -> content, toolUse.input -> arguments, reasoningContent.text ->
reasoning_content), messageStop (finish reason), metadata (usage; the last event: then the usage
chunk if the client asked, and [DONE]). An exception message mid-stream is an UpstreamError with the
status Bedrock gives that exception over HTTP, so it is treated as that status everywhere.

Usage: Bedrock's `inputTokens` excludes cache reads and writes (`cacheReadInputTokens`,
`cacheWriteInputTokens`); OpenAI's prompt_tokens includes them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import (
    UpstreamError,
    UpstreamStreamCut,
    UpstreamTarget,
    Usage,
    credential_values,
    parse_retry_after,
    redact,
)
from tfy_gateway.gateway.providers.wire import DONE, Translated

# Bedrock runtime exceptions: the HTTP status AWS answers each with, and the OpenAI error type it
# corresponds to (stream exceptions are the same names in lowerCamel case).
EXCEPTIONS: Mapping[str, tuple[int, str]] = {
    "ValidationException": (400, "invalid_request_error"),
    "ServiceQuotaExceededException": (400, "invalid_request_error"),
    "AccessDeniedException": (403, "permission_error"),
    "UnrecognizedClientException": (403, "authentication_error"),
    "ResourceNotFoundException": (404, "not_found_error"),
    "ModelTimeoutException": (408, "timeout_error"),
    "ModelErrorException": (424, "api_error"),
    "ModelStreamErrorException": (424, "api_error"),
    "ThrottlingException": (429, "rate_limit_error"),
    "ModelNotReadyException": (429, "rate_limit_error"),
    "InternalServerException": (500, "api_error"),
    "ServiceUnavailableException": (503, "api_error"),
}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def usage_from(usage: Any) -> Usage:
    """Bedrock's `usage` block in OpenAI terms."""
    if not isinstance(usage, dict):
        return Usage()
    read = _count(usage.get("cacheReadInputTokens"))
    write = _count(usage.get("cacheWriteInputTokens"))
    return Usage(
        prompt_tokens=_count(usage.get("inputTokens")) + read + write,
        completion_tokens=_count(usage.get("outputTokens")),
        cached_tokens=read,
        cache_write_tokens=write,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def exception_error(
    target: UpstreamTarget, name: str, message: str, status: int | None = None, retry_after: float | None = None
) -> UpstreamError:
    """A Bedrock exception (`ThrottlingException`, or `throttlingException` from a stream) as an
    UpstreamError: the provider's status (the HTTP one when known) and message, the exception as `code`."""
    name = name[:1].upper() + name[1:]
    known_status, error_type = EXCEPTIONS.get(name, (502 if status is None else status, "api_error"))
    text = redact(message or f"{target.provider} reported {name or 'an error'}", credential_values(target))
    return UpstreamError(
        status if status is not None else known_status,
        text,
        target.provider,
        retry_after,
        error_type=error_type,
        code=name or None,
    )


def error_from_bedrock(target: UpstreamTarget, status: int, headers: Mapping[str, str], raw: bytes) -> UpstreamError:
    """A Bedrock error answer: the exception name from `x-amzn-ErrorType` (or the body's `__type`),
    the message from the body's `message` (`Message` in some services' answers)."""
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        parsed = None
    body = parsed if isinstance(parsed, dict) else {}
    name = str(headers.get("x-amzn-errortype") or body.get("__type") or "")
    name = name.split(":", 1)[0].rsplit("#", 1)[-1]
    message = body.get("message") or body.get("Message")
    if not isinstance(message, str) or not message:
        message = raw[:500].decode("utf-8", "replace").strip() if raw and not body else ""
    return exception_error(
        target, name, message or f"upstream answered HTTP {status}", status, parse_retry_after(headers)
    )


class BedrockChunks:
    """The translation state of one ConverseStream answer (a `ChunkTranslator`; no I/O)."""

    def __init__(self, target: UpstreamTarget, *, include_usage: bool) -> None:
        self.target = target
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._include_usage = include_usage
        self._id = "chatcmpl-" + uuid.uuid4().hex
        self._created = int(time.time())
        self._tool_index: dict[int, int] = {}
        self._seen_output = False
        self._stopped = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        event = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.target.model_id,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(event) + b"\n\n"

    def _output(self, delta: dict[str, Any]) -> Translated:
        first = not self._seen_output
        self._seen_output = True
        return Translated((self._chunk(delta),), first_token=first)

    def feed(self, event: str, data: bytes) -> Translated:
        if event.startswith(("exception:", "error:")):
            payload = _object(data)
            message = payload.get("message") or payload.get("Message")
            raise exception_error(self.target, event.partition(":")[2], str(message or ""))
        payload = _object(data)
        if event == "messageStart":
            return Translated((self._chunk({"role": "assistant", "content": ""}),))
        if event == "contentBlockStart":
            return self._block_start(payload)
        if event == "contentBlockDelta":
            return self._block_delta(payload)
        if event == "messageStop":
            self._stopped = True
            self.finish_reason = FINISH_REASONS.get(str(payload.get("stopReason")), "stop")
            return Translated((self._chunk({}, self.finish_reason),))
        if event == "metadata":
            self.usage = usage_from(payload.get("usage"))
            if not self._stopped:  # usage before the answer ended: wait for the end (or report the cut)
                return Translated()
            chunks: list[bytes] = []
            if self._include_usage:
                usage_chunk = {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self.target.model_id,
                    "choices": [],
                    "usage": self.usage.to_openai(),
                }
                chunks.append(b"data: " + orjson.dumps(usage_chunk) + b"\n\n")
            chunks.append(DONE)
            return Translated(tuple(chunks), done=True)
        return Translated()  # contentBlockStop and events added later carry nothing for the client

    def _block_start(self, payload: dict[str, Any]) -> Translated:
        start = payload.get("start")
        tool = start.get("toolUse") if isinstance(start, dict) else None
        if not isinstance(tool, dict):
            return Translated()
        index = len(self._tool_index)
        self._tool_index[_block(payload)] = index
        call = {
            "index": index,
            "id": tool.get("toolUseId"),
            "type": "function",
            "function": {"name": tool.get("name"), "arguments": ""},
        }
        return self._output({"tool_calls": [call]})

    def _block_delta(self, payload: dict[str, Any]) -> Translated:
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return Translated()
        if isinstance(delta.get("text"), str):
            return self._output({"content": delta["text"]})
        tool = delta.get("toolUse")
        if isinstance(tool, dict):
            index = self._tool_index.get(_block(payload))
            if index is None:  # arguments for a tool call that never opened: nothing to attach them to
                raise UpstreamError(
                    502, f"{self.target.provider} sent tool input for no tool call", self.target.provider
                )
            return self._output(
                {"tool_calls": [{"index": index, "function": {"arguments": str(tool.get("input", ""))}}]}
            )
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict) and isinstance(reasoning.get("text"), str):
            return self._output({"reasoning_content": reasoning["text"]})
        return Translated()

    def end(self) -> Translated:
        """The body ended. After messageStop without metadata the answer is whole (its usage is not
        known); before messageStop it was cut short."""
        if not self._stopped:
            raise UpstreamStreamCut(
                502,
                f"{self.target.provider} closed the stream before it finished (no messageStop)",
                self.target.provider,
            )
        return Translated((DONE,), done=True)


def _block(payload: dict[str, Any]) -> int:
    index = payload.get("contentBlockIndex")
    return index if isinstance(index, int) else 0


def _object(data: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
