"""OpenAI chat <-> AWS Bedrock Converse: requests out, responses back (streams: openai_bedrock_stream).

Pure: `plan` builds the `HttpRequest` (`POST {base}/model/{modelId}/converse`, or `/converse-stream`,
whose answer is AWS event-stream frames) and says how to read the answer; no I/O here.

Mapping (OpenAI -> Converse):
- system/developer messages -> `system: [{text}]`; user/assistant content -> `{text}` / `{image}`
  blocks (images as data: URLs only, Converse takes bytes or S3, never a URL to fetch); assistant
  `tool_calls` -> `toolUse`; tool messages -> `toolResult` in a user turn; consecutive turns of one
  role are merged (Converse wants them alternating).
- max_completion_tokens/max_tokens -> inferenceConfig.maxTokens (none: the model's default);
  temperature, top_p -> temperature, topP (as given, no clamping); stop -> stopSequences;
  tools -> toolConfig.tools[].toolSpec; tool_choice auto/required/{function} -> auto/any/tool;
  user and string-valued metadata -> requestMetadata.
- Refused with a 400 naming the parameter, since Converse has no equivalent: n > 1, logprobs,
  top_logprobs, logit_bias, seed, frequency/presence_penalty, a response_format other than text,
  reasoning_effort, audio output, parallel_tool_calls=false, tool_choice "none" in a conversation
  that already has tool calls (without them the tools are simply not sent).
Back: text -> content, toolUse -> tool_calls, reasoningContent -> reasoning_content; stopReason via
FINISH_REASONS; usage from Bedrock's own `usage` fields.

Auth: an api-key account sends `Authorization: Bearer` (in the target's auth headers); an access-key
account's target carries a SigV4 signer, applied last, over the final URL, headers and body.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

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
from tfy_gateway.gateway.providers.eventstream import EventStreamEvents
from tfy_gateway.gateway.providers.openai_bedrock_stream import (
    FINISH_REASONS,
    BedrockChunks,
    error_from_bedrock,
    usage_from,
)
from tfy_gateway.gateway.providers.output_tokens import requested_cap, requested_choices
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse
from tfy_gateway.gateway.providers.wire import JSON_HEADERS, WirePlan, build_headers, json_object

EVENTSTREAM_HEADERS: Mapping[str, str] = {
    "content-type": "application/json",
    "accept": "application/vnd.amazon.eventstream",
}
IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "webp"})
_REFUSED = {
    "logprobs": "log probabilities",
    "top_logprobs": "log probabilities",
    "logit_bias": "logit bias",
    "seed": "a sampling seed",
    "frequency_penalty": "a frequency penalty",
    "presence_penalty": "a presence penalty",
    "reasoning_effort": "reasoning_effort (set the model's reasoning config on the integration instead)",
    "audio": "audio output",
    "prediction": "predicted outputs",
}


def _refuse(param: str, message: str, provider: str) -> InvalidRequest:
    return InvalidRequest(400, message, provider, code="unsupported_parameter", param=param)


def _check_params(body: Mapping[str, Any], provider: str) -> None:
    for name, what in _REFUSED.items():
        value = body.get(name)
        if value is not None and value is not False:
            raise _refuse(name, f"'{name}' is not supported by AWS Bedrock Converse (it has no {what})", provider)
    if requested_choices(body) != 1:
        raise _refuse("n", "'n' above 1 is not supported by AWS Bedrock Converse (it answers one choice)", provider)
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise _refuse(
            "response_format",
            f"response_format {response_format.get('type')!r} is not supported by AWS Bedrock Converse",
            provider,
        )
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        raise _refuse(
            "parallel_tool_calls",
            "parallel_tool_calls=false is not supported by AWS Bedrock Converse (it cannot forbid parallel calls)",
            provider,
        )
    modalities = body.get("modalities")
    if isinstance(modalities, list) and any(m != "text" for m in modalities):
        raise _refuse("modalities", "AWS Bedrock Converse answers with text only", provider)


def _image_block(part: dict[str, Any], provider: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url.startswith("data:"):
        raise _refuse(
            "messages",
            "messages: an image_url must be a data: URL (base64); AWS Bedrock Converse does not fetch URLs",
            provider,
        )
    header, _, data = url.partition(",")
    media_type = header[5:].split(";")[0]
    fmt = media_type.removeprefix("image/")
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in IMAGE_FORMATS:
        raise _refuse(
            "messages", f"image type {media_type!r} is not supported by AWS Bedrock (png, jpeg, gif, webp)", provider
        )
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _blocks(content: Any, provider: str) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) -> Converse content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(400, "message content must be a string or an array of parts", provider, param="messages")
    blocks = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = str(part.get("text", ""))
            if text:
                blocks.append({"text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part, provider))
        else:
            raise _refuse(
                "messages", f"content part type {kind!r} is not supported by AWS Bedrock (text, image_url)", provider
            )
    return blocks


class _ConverseBlocks:
    """Converse's content blocks (`chat_turns.TurnBlocks`)."""

    def content(self, content: Any, provider: str) -> list[dict[str, Any]]:
        return _blocks(content, provider)

    def tool_use(self, call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"toolUse": {"toolUseId": call_id, "name": name, "input": arguments}}

    def tool_result(self, call_id: str, text: str) -> dict[str, Any]:
        return {"toolResult": {"toolUseId": call_id, "content": [{"text": text}]}}


CONVERSE_BLOCKS = _ConverseBlocks()


def _tool_config(body: Mapping[str, Any], turns: list[dict[str, Any]], provider: str) -> dict[str, Any] | None:
    tools = [t.get("function") for t in body.get("tools") or () if isinstance(t, dict)]
    specs = [
        {
            "toolSpec": {
                "name": f["name"],
                "description": f.get("description") or f["name"],
                "inputSchema": {"json": f.get("parameters") or {"type": "object", "properties": {}}},
            }
        }
        for f in tools
        if isinstance(f, dict) and f.get("name")
    ]
    if not specs:
        return None
    choice = body.get("tool_choice")
    if choice == "none":
        used = any("toolUse" in block or "toolResult" in block for turn in turns for block in turn["content"])
        if used:
            raise _refuse(
                "tool_choice",
                "tool_choice 'none' is not supported by AWS Bedrock Converse in a conversation with tool calls",
                provider,
            )
        return None  # no tools offered: the model cannot call one
    config: dict[str, Any] = {"tools": specs}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": choice["function"].get("name")}}
    return config


def to_converse_request(body: Mapping[str, Any], provider: str = "aws-bedrock") -> dict[str, Any]:
    """An OpenAI chat request body as a Converse request body (the model id goes in the URL)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(400, "'messages' must be a non-empty array", provider, param="messages")
    _check_params(body, provider)
    system, turns = conversation(messages, CONVERSE_BLOCKS, provider)
    request: dict[str, Any] = {"messages": turns}
    system = [block for block in system if "text" in block]  # Converse's system part takes text only
    if system:
        request["system"] = system
    inference: dict[str, Any] = {}
    cap = requested_cap(body)
    if cap is not None:
        inference["maxTokens"] = cap
    if body.get("temperature") is not None:
        inference["temperature"] = body["temperature"]
    if body.get("top_p") is not None:
        inference["topP"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        inference["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if inference:
        request["inferenceConfig"] = inference
    tool_config = _tool_config(body, turns, provider)
    if tool_config is not None:
        request["toolConfig"] = tool_config
    metadata = {k: v for k, v in (body.get("metadata") or {}).items() if isinstance(v, str)}
    if body.get("user"):
        metadata["user"] = str(body["user"])
    if metadata:
        request["requestMetadata"] = metadata
    return request


def to_openai_response(answer: Mapping[str, Any], model: str, request_id: str = "") -> tuple[dict[str, Any], Usage]:
    """A Converse response as an OpenAI chat.completion body, with its usage."""
    output = answer.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    texts: list[str] = []
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in (message or {}).get("content") or ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            tool = block["toolUse"]
            tool_calls.append(
                {
                    "id": tool.get("toolUseId"),
                    "type": "function",
                    "function": {"name": tool.get("name"), "arguments": orjson.dumps(tool.get("input") or {}).decode()},
                }
            )
        elif isinstance(block.get("reasoningContent"), dict):
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
            if isinstance(text, str):
                reasoning.append(text)
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None, "refusal": None}
    if tool_calls:
        reply["tool_calls"] = tool_calls
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    usage = usage_from(answer.get("usage"))
    body = {
        "id": "chatcmpl-" + (request_id or uuid.uuid4().hex),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": FINISH_REASONS.get(str(answer.get("stopReason")), "stop"),
            }
        ],
        "usage": usage.to_openai(),
    }
    return body, usage


def converse_url(target: UpstreamTarget, stream: bool) -> str:
    """`{base}/model/{modelId}/converse[-stream]`; the id is percent-encoded (`:` too) as AWS SDKs send it."""
    action = "converse-stream" if stream else "converse"
    return f"{target.base_url.rstrip('/')}/model/{quote(target.model_id, safe='')}/{action}"


def _signed(
    target: UpstreamTarget, url: str, headers: Mapping[str, str], body: bytes, options: CallOptions
) -> HttpRequest:
    if target.signer is not None:  # `headers` may be the target's shared ones (wire.build_headers)
        headers = {**headers, **target.signer.sign(url, headers, body)}
    return HttpRequest(url, headers, body, timeouts=options.timeouts)


def plan(target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """Chat only: the Converse request for an OpenAI chat body, and how to read the answer back."""
    if endpoint != "chat":
        raise UnsupportedEndpoint(
            400,
            f"{target.name or target.provider} speaks AWS Bedrock Converse and has no {endpoint!r} endpoint here",
            target.provider,
        )
    payload = orjson.dumps(to_converse_request(body, target.provider))
    stream = body.get("stream") is True
    url = converse_url(target, stream)
    base = EVENTSTREAM_HEADERS if stream else JSON_HEADERS
    headers = build_headers(base, target, options.headers_override, options.trace_headers)
    request = _signed(target, url, headers, payload, options)
    if stream:
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        chunks = BedrockChunks(target, include_usage=include_usage)
        return WirePlan(request, stream=chunks, framing=EventStreamEvents, error=error_from_bedrock)

    def read(response: HttpResponse, latency: float) -> UpstreamResponse:
        request_id = str(response.headers.get("x-amzn-requestid") or "")
        converted, usage = to_openai_response(json_object(target, response.body), target.model_id, request_id)
        return UpstreamResponse(response.status, converted, usage, response.headers, latency)

    return WirePlan(request, read=read, error=error_from_bedrock)
