"""`streamGenerateContent?alt=sse` events -> OpenAI `chat.completion.chunk` events (pure: `GeminiChunks`
is a state machine fed one event at a time; `UpstreamStream` does the reading).

Every `data:` line is a whole GenerateContentResponse holding the next piece of each candidate: text
parts become content deltas (thought parts reasoning_content), a functionCall part one complete
tool-call delta (Gemini never splits a call), a `finishReason` the finish chunk of its candidate.
`usageMetadata` is cumulative, so the latest one is the usage (a cut stream keeps what it said so far).
Gemini has no end-of-stream event: the body ending after every candidate finished is the proper end
(the usage chunk if asked, then [DONE]); ending before that is a cut stream. An `error` object inside
the stream is raised with its own status.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import UpstreamStreamCut, UpstreamTarget, Usage
from tfy_gateway.gateway.providers.gemini_errors import from_google_error, google_error_object
from tfy_gateway.gateway.providers.wire import Translated, event_json, stream_end

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "LANGUAGE": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
}


def usage_from(metadata: Any) -> Usage:
    """Gemini's usageMetadata in OpenAI terms: prompt includes cached and tool-use prompt tokens (it
    already counts the cached ones); completion = candidates + thoughts (thinking is billed as output)."""
    if not isinstance(metadata, dict):
        return Usage()

    def count(key: str) -> int:
        value = metadata.get(key)
        return value if isinstance(value, int) and value > 0 else 0

    thoughts = count("thoughtsTokenCount")
    return Usage(
        prompt_tokens=count("promptTokenCount") + count("toolUsePromptTokenCount"),
        completion_tokens=count("candidatesTokenCount") + thoughts,
        cached_tokens=count("cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def tool_call_id(response_id: str, candidate: int, position: int, name: str) -> str:
    """Gemini's functionCall usually has no id: a stable one, so a stream and its replay agree."""
    seed = f"{response_id}:{candidate}:{position}:{name}".encode()
    return "call_" + hashlib.blake2b(seed, digest_size=12).hexdigest()


def openai_tool_call(part: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A functionCall part as an OpenAI tool call; its `thoughtSignature` (which Gemini 3 wants back with
    the call in the next turn) rides in `extra_content.google.thought_signature`, where Google's own
    OpenAI-compatible endpoint puts it."""
    call = part["functionCall"] or {}
    tool_call: dict[str, Any] = {
        "id": call.get("id") or call_id,
        "type": "function",
        "function": {"name": str(call.get("name") or ""), "arguments": orjson.dumps(call.get("args") or {}).decode()},
    }
    if part.get("thoughtSignature"):
        tool_call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return tool_call


class GeminiChunks:
    """The translation state of one Gemini stream (a `ChunkTranslator`; no I/O)."""

    def __init__(self, target: UpstreamTarget, *, include_usage: bool) -> None:
        self.target = target
        self._metadata: Any = None  # the latest usageMetadata, read into a Usage only when asked
        self._usage: Usage | None = None
        self.finish_reason: str | None = None
        self._include_usage = include_usage
        self._id = ""
        self._model = target.model_id
        self._created = int(time.time())
        self._started: set[int] = set()  # candidates whose role chunk went out
        self._tool_calls: dict[int, int] = {}  # candidate -> tool calls sent so far
        self._open: set[int] = set()  # candidates not finished yet
        self._finished: set[int] = set()

    @property
    def usage(self) -> Usage | None:
        if self._usage is None and self._metadata is not None:
            self._usage = usage_from(self._metadata)
        return self._usage

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        event = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(event) + b"\n\n"

    def feed(self, event: str, data: bytes) -> Translated:
        payload = event_json(self.target, data)
        if not isinstance(payload, dict) or "error" in payload:
            error = google_error_object(payload)
            if error is not None:
                raise from_google_error(self.target, error, None, {})
            return Translated()
        if not self._id:
            response_id = payload.get("responseId")
            self._id = "chatcmpl-" + str(response_id) if response_id else "chatcmpl-gemini"
            self._model = str(payload.get("modelVersion") or self._model)
        if "usageMetadata" in payload:
            self._metadata, self._usage = payload["usageMetadata"], None
        chunks: list[bytes] = []
        first_token = False
        candidates = payload.get("candidates")
        if not candidates and (payload.get("promptFeedback") or {}).get("blockReason"):
            candidates = [{"index": 0, "finishReason": "PROHIBITED_CONTENT"}]  # the prompt was blocked
        for position, candidate in enumerate(candidates or ()):
            if not isinstance(candidate, dict):
                continue
            given = candidate.get("index")
            index = given if isinstance(given, int) else position
            opening = index not in self._started
            if opening:
                self._started.add(index)
                self._open.add(index)
            produced = self._parts(index, candidate, chunks, {"role": "assistant"} if opening else {})
            if opening and not produced:
                chunks.append(self._chunk(index, {"role": "assistant", "content": ""}))
            first_token = first_token or produced
            reason = candidate.get("finishReason")
            if reason and index not in self._finished:
                finish = FINISH_REASONS.get(str(reason), "stop")
                if finish == "stop" and self._tool_calls.get(index):
                    finish = "tool_calls"
                self._finished.add(index)
                self._open.discard(index)
                self.finish_reason = self.finish_reason or finish
                chunks.append(self._chunk(index, {}, finish))
        return Translated(tuple(chunks), first_token=first_token)

    def _parts(self, index: int, candidate: dict[str, Any], chunks: list[bytes], lead: dict[str, Any]) -> bool:
        """Append the deltas of one candidate's parts; True when they carry output. `lead` goes into the
        first delta (the role, on a candidate's first output: one chunk, as OpenAI sends it, so a cut
        stream's chunk count is its output)."""
        produced = False
        for part in (candidate.get("content") or {}).get("parts") or ():
            if not isinstance(part, dict):
                continue
            if "functionCall" in part:
                call = part["functionCall"] or {}
                name = str(call.get("name") or "")
                position = self._tool_calls.get(index, 0)
                self._tool_calls[index] = position + 1
                call_id = tool_call_id(self._id.removeprefix("chatcmpl-"), index, position, name)
                opening = {"index": position, **openai_tool_call(part, call_id)}
                chunks.append(self._chunk(index, {**lead, "tool_calls": [opening]}))
                lead, produced = {}, True
            elif part.get("text"):
                key = "reasoning_content" if part.get("thought") else "content"
                chunks.append(self._chunk(index, {**lead, key: str(part["text"])}))
                lead, produced = {}, True
        return produced

    def end(self) -> Translated:
        if not self._finished or self._open:
            raise UpstreamStreamCut(
                502, f"{self.target.provider} closed the stream before a finishReason", self.target.provider
            )
        return stream_end(self._id, self._created, self._model, self.usage, self._include_usage)
