"""OpenAI chat <-> Anthropic Messages: requests out, responses back (streams: openai_anthropic_stream).

Pure: `plan` builds the `HttpRequest` and says how to read the answer; no I/O here.

Mapping (OpenAI -> Anthropic):
- system/developer messages -> `system`; tool messages -> `tool_result` blocks in a user turn;
  assistant `tool_calls` -> `tool_use` blocks; consecutive turns of one role are merged.
- max_completion_tokens/max_tokens -> max_tokens (default 4096, Anthropic requires it: see
  `output_tokens`, which the limits' holds read too); stop -> stop_sequences; temperature (0..1),
  top_p, top_k, thinking as they are; user (or safety_identifier) -> metadata.user_id; tools (or the
  deprecated functions) and tool_choice (or function_call); parallel_tool_calls=false ->
  disable_parallel_tool_use; service_tier auto/default -> auto/standard_only.
- Every other parameter is refused with a 400 naming it (openai_anthropic_params), never dropped.
Back: text blocks -> content, tool_use -> tool_calls, thinking -> reasoning_content; stop reasons
end_turn/stop_sequence -> stop, max_tokens -> length, tool_use -> tool_calls, refusal ->
content_filter with the text as `message.refusal` (content null, as OpenAI answers a refusal);
usage as in `usage_from`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import (
    CallOptions,
    InvalidRequest,
    UnsupportedEndpoint,
    UpstreamResponse,
    UpstreamTarget,
    Usage,
)
from tfy_gateway.gateway.providers.chat_turns import conversation
from tfy_gateway.gateway.providers.openai_anthropic_params import SERVICE_TIERS, unsupported
from tfy_gateway.gateway.providers.openai_anthropic_stream import FINISH_REASONS, AnthropicChunks, usage_from
from tfy_gateway.gateway.providers.output_tokens import max_output_tokens
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse
from tfy_gateway.gateway.providers.wire import JSON_HEADERS, SSE_HEADERS, WirePlan, build_headers, json_object

DEFAULT_VERSION = "2023-06-01"


def _image_block(part: dict[str, Any], provider: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise InvalidRequest(400, "image_url content part needs a url", provider)
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0] or "image/png"
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any, provider: str) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) -> Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(400, "message content must be a string or an array of parts", provider)
    blocks = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            block = {"type": "text", "text": str(part.get("text", ""))}
            if "cache_control" in part:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
        elif kind == "image_url":
            blocks.append(_image_block(part, provider))
        else:
            raise InvalidRequest(
                400,
                f"content part type {kind!r} is not supported by anthropic (use text or image_url)",
                provider,
            )
    return blocks


class _MessagesBlocks:
    """Anthropic's content blocks (`chat_turns.TurnBlocks`)."""

    def content(self, content: Any, provider: str) -> list[dict[str, Any]]:
        return _blocks(content, provider)

    def tool_use(self, call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}

    def tool_result(self, call_id: str, text: str) -> dict[str, Any]:
        return {"type": "tool_result", "tool_use_id": call_id, "content": text}


MESSAGES_BLOCKS = _MessagesBlocks()


def _tools(body: Mapping[str, Any]) -> list[Any]:
    """`tools`, or the deprecated `functions` as tools."""
    tools = body.get("tools")
    if tools:
        return list(tools)
    return [{"type": "function", "function": f} for f in body.get("functions") or ()]


def _legacy_choice(choice: Any) -> Any:
    """The deprecated `function_call` ("none", "auto" or {"name"}) as a `tool_choice`."""
    if isinstance(choice, dict) and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _tool_choice(body: Mapping[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if choice is None:
        choice = _legacy_choice(body.get("function_call"))
    mapped: dict[str, Any] | None
    if choice == "none":
        mapped = {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    elif choice == "auto":
        mapped = {"type": "auto"}
    else:
        mapped = None
    if body.get("parallel_tool_calls") is False and _tools(body):
        mapped = mapped or {"type": "auto"}
        if mapped["type"] != "none":
            mapped["disable_parallel_tool_use"] = True
    return mapped


def to_anthropic_request(body: Mapping[str, Any], model_id: str, provider: str = "anthropic") -> dict[str, Any]:
    """An OpenAI chat request body as an Anthropic Messages request body (a 400 naming the first
    parameter that cannot be carried over)."""
    refused = unsupported(body)
    if refused is not None:
        name, code, why = refused
        raise InvalidRequest(
            400, f"'{name}' is not supported for Anthropic models: {why}", provider, code=code, param=name
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(400, "'messages' must be a non-empty array", provider)
    system, turns = conversation(messages, MESSAGES_BLOCKS, provider)
    for turn in turns:  # a lone plain text block is sent as a string, the common form
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text" and "cache_control" not in content[0]:
            turn["content"] = content[0]["text"]
    request: dict[str, Any] = {"model": model_id, "messages": turns, "max_tokens": max_output_tokens(body, "anthropic")}
    if system:
        plain = all(b["type"] == "text" and "cache_control" not in b for b in system)
        request["system"] = "\n\n".join(b["text"] for b in system) if plain else system
    for name in ("temperature", "top_p", "top_k", "thinking"):
        if body.get(name) is not None:
            request[name] = body[name]
    tier = body.get("service_tier")
    if tier is not None:
        request["service_tier"] = SERVICE_TIERS[tier]
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("stream") is True:
        request["stream"] = True
    user = body.get("safety_identifier") or body.get("user")
    if user:
        request["metadata"] = {"user_id": str(user)}
    tools = _tools(body)
    if tools:
        request["tools"] = [
            {
                "name": f["name"],
                "description": f.get("description", ""),
                "input_schema": f.get("parameters") or {"type": "object", "properties": {}},
            }
            for f in (t.get("function") for t in tools if isinstance(t, dict))
            if isinstance(f, dict)
        ]
    choice = _tool_choice(body)
    if choice is not None and tools:
        request["tool_choice"] = choice
    return request


def to_openai_response(message: Mapping[str, Any]) -> tuple[dict[str, Any], Usage]:
    """An Anthropic Messages response as an OpenAI chat.completion body, with its usage."""
    texts: list[str] = []
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            reasoning.append(block.get("thinking", ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
    text = "".join(texts) or None
    refused = message.get("stop_reason") == "refusal"
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": None if refused else text,
        "refusal": (text or "The model declined to answer.") if refused else None,
    }
    if tool_calls:
        reply["tool_calls"] = tool_calls
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    usage = usage_from(message.get("usage"))
    finish = FINISH_REASONS.get(str(message.get("stop_reason")), "stop")
    body = {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model"),
        "choices": [{"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}],
        "usage": usage.to_openai(),
    }
    return body, usage


def messages_url(target: UpstreamTarget) -> str:
    """`{base_url}/messages` (the base URL includes the version path)."""
    return target.base_url.rstrip("/") + "/messages"


def _headers(target: UpstreamTarget, base: Mapping[str, str], options: CallOptions) -> Mapping[str, str]:
    versioned = {**base, "anthropic-version": target.api_version or DEFAULT_VERSION}
    return build_headers(versioned, target, options.headers_override, options.trace_headers)


def plan(target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """Chat only: the Messages request for an OpenAI chat body, and how to read the answer back."""
    if endpoint != "chat":
        raise UnsupportedEndpoint(
            400,
            f"{target.name or target.provider} speaks Anthropic Messages and has no {endpoint!r} endpoint",
            target.provider,
        )
    request = to_anthropic_request(body, target.model_id, target.provider)
    url = messages_url(target)
    if request.get("stream"):
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        headers = _headers(target, SSE_HEADERS, options)
        http = HttpRequest(url, headers, orjson.dumps(request), timeouts=options.timeouts)
        return WirePlan(http, stream=AnthropicChunks(target, include_usage=include_usage))

    def read(response: HttpResponse, latency: float) -> UpstreamResponse:
        converted, usage = to_openai_response(json_object(target, response.body))
        return UpstreamResponse(response.status, converted, usage, response.headers, latency)

    http = HttpRequest(url, _headers(target, JSON_HEADERS, options), orjson.dumps(request), timeouts=options.timeouts)
    return WirePlan(http, read=read)
