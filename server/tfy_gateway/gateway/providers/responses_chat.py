"""OpenAI Responses <-> chat completions, for targets without `/responses` (Anthropic, Azure OpenAI,
OpenAI-compatible providers that only speak chat, and any other adapter's chat): the request becomes
a chat request, the chat answer (or stream, responses_chat_stream) becomes a Response. Pure: no I/O.

Request (Responses -> chat): `instructions` -> a system message first; `input` as a string -> one
user message; input items: messages (`input_text`/`output_text` parts -> text, `input_image` with
an `image_url` -> image_url), `function_call` -> an assistant `tool_calls` entry (consecutive calls
share one assistant message), `function_call_output` -> a `tool` message, `reasoning` items are
left out (chat has no way to send them back); function tools (flat `{type, name, parameters}`) ->
chat's nested `{type, function}`; `tool_choice`, `parallel_tool_calls`, `temperature`, `top_p`,
`user`, `service_tier`, `prompt_cache_key`, `safety_identifier` as they are; `max_output_tokens` ->
`max_completion_tokens`; `text.format` -> `response_format`, `text.verbosity` -> `verbosity`;
`reasoning.effort` -> `reasoning_effort`; `metadata` stays on the Response (it is the Response's).

What has no chat equivalent is refused with a 400 naming it (`NOT_TRANSLATED`): built-in tools
(web_search, file_search, computer use, code interpreter, image generation, MCP, shell, custom),
`previous_response_id`, `conversation`, `store: true`, `background`, `prompt`, `include` (but
`reasoning.encrypted_content`, which there is none of),
`truncation: auto`, `max_tool_calls`, `top_logprobs`, `reasoning.summary`, `item_reference`
items and input files or images by file id.

Answer (chat -> Responses): reasoning (`reasoning_content`) -> a `reasoning` item with a
`reasoning_text` part; the message text -> one `message` item with an `output_text` part (a
refusal -> a `refusal` part), each tool call -> a `function_call` item (its id is the `call_id`);
finish `length` -> status `incomplete` (max_output_tokens), `content_filter` -> `incomplete`
(content_filter); usage -> input/output tokens with cached and reasoning details.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from tfy_gateway.gateway.providers.base import (
    CallOptions,
    InvalidRequest,
    UpstreamResponse,
    UpstreamTarget,
    Usage,
)
from tfy_gateway.gateway.providers.responses_chat_stream import ChatToResponseEvents
from tfy_gateway.gateway.providers.responses_objects import (
    call_item,
    finish,
    mapping,
    message_item,
    new_id,
    reasoning_item,
    shell,
)
from tfy_gateway.gateway.providers.transport import HttpResponse
from tfy_gateway.gateway.providers.wire import WirePlan

ChatPlanner = Callable[[UpstreamTarget, str, Mapping[str, Any], CallOptions], WirePlan]

AS_IS = ("temperature", "top_p", "user", "parallel_tool_calls", "service_tier", "prompt_cache_key", "safety_identifier")
NOT_TRANSLATED: Mapping[str, str] = {
    "previous_response_id": "the gateway stores no responses: send the whole conversation in 'input'",
    "conversation": "the gateway stores no conversations: send the whole conversation in 'input'",
    "background": "background responses need a stored response to poll",
    "prompt": "stored prompt templates live on OpenAI's platform",
    "max_tool_calls": "chat has no cap on built-in tool calls",
    "top_logprobs": "log probabilities are not translated",
}


NOTHING_TO_INCLUDE = frozenset({"reasoning.encrypted_content"})
"""`include` values asking for what a chat translation never produces (encrypted reasoning): accepted,
since there is nothing to leave out (agent frameworks ask for it on every request)."""

CHAT_NAMES: Mapping[str, str] = {
    "max_completion_tokens": "max_output_tokens",
    "response_format": "text.format",
    "reasoning_effort": "reasoning.effort",
    "verbosity": "text.verbosity",
}
"""Chat parameters this translation fills, by the Responses parameter they come from (the rest keep
their names)."""


class NotTranslatable(InvalidRequest):
    """A Responses parameter the target's chat API cannot express: a 400 naming it (`param`)."""

    def __init__(self, param: str, why: str, provider: str) -> None:
        super().__init__(400, f"'{param}' cannot be sent to this model through chat completions: {why}.", provider)
        self.param = param


def _refuse_unsupported(body: Mapping[str, Any], provider: str) -> None:
    for name, why in NOT_TRANSLATED.items():
        value = body.get(name)
        if value is not None and value != [] and value is not False:
            raise NotTranslatable(name, why, provider)
    for index, extra in enumerate(body.get("include") or ()):
        if extra not in NOTHING_TO_INCLUDE:
            raise NotTranslatable(f"include[{index}]", f"{extra!r} is not translated", provider)
    if body.get("store") is True:
        raise NotTranslatable("store", "the gateway stores no responses for this model: send store: false", provider)
    if body.get("truncation") not in (None, "disabled"):
        raise NotTranslatable("truncation", "only 'disabled' translates", provider)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("summary") is not None:
        raise NotTranslatable("reasoning.summary", "chat completions return no reasoning summaries", provider)


def _text_of(parts: Any, path: str, provider: str) -> str:
    """The text of an assistant message's content (a string, or output_text/refusal parts)."""
    if isinstance(parts, str):
        return parts
    texts = []
    for index, part in enumerate(parts if isinstance(parts, list) else ()):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("output_text", "input_text", "text"):
            texts.append(str(part.get("text", "")))
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        else:
            raise NotTranslatable(f"{path}[{index}].type", f"{kind!r} content has no chat equivalent", provider)
    return "".join(texts)


def _content(parts: Any, path: str, provider: str) -> str | list[dict[str, Any]]:
    """A user/system message's content as chat content (a string, or text and image_url parts)."""
    if isinstance(parts, str):
        return parts
    converted: list[dict[str, Any]] = []
    for index, part in enumerate(parts if isinstance(parts, list) else ()):
        kind = part.get("type") if isinstance(part, dict) else None
        where = f"{path}[{index}]"
        if kind in ("input_text", "output_text", "text"):
            converted.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image: dict[str, Any] = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            converted.append({"type": "image_url", "image_url": image})
        elif kind == "input_image":
            raise NotTranslatable(
                f"{where}.file_id", "images by file id need OpenAI's file store; send image_url", provider
            )
        else:
            raise NotTranslatable(f"{where}.type", f"{kind!r} input has no chat equivalent", provider)
    return converted


def _messages(body: Mapping[str, Any], provider: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    for index, item in enumerate(items if isinstance(items, list) else ()):
        path = f"input[{index}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role == "assistant":
                messages.append(
                    {"role": "assistant", "content": _text_of(item.get("content"), f"{path}.content", provider)}
                )
            else:
                messages.append({"role": role, "content": _content(item.get("content"), f"{path}.content", provider)})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id") or item.get("id") or "",
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last is not None and last["role"] == "assistant":
                last["tool_calls"] = [call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else _content(output, f"{path}.output", provider)
            messages.append({"role": "tool", "tool_call_id": item.get("call_id") or "", "content": content})
        elif kind == "reasoning":
            continue  # a previous answer's reasoning: chat cannot send it back, and the model does without
        else:
            why = (
                "items by reference need a stored response"
                if kind == "item_reference"
                else f"{kind!r} items have no chat equivalent"
            )
            raise NotTranslatable(f"{path}.type", why, provider)
    return messages


def _tools(tools: Any, provider: str) -> list[dict[str, Any]]:
    converted = []
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        kind = tool.get("type")
        if kind != "function":
            raise NotTranslatable(
                f"tools[{index}].type", f"the built-in tool {kind!r} runs on OpenAI's platform only", provider
            )
        function = {
            key: tool[key] for key in ("name", "description", "parameters", "strict") if tool.get(key) is not None
        }
        converted.append({"type": "function", "function": function})
    return converted


def _tool_choice(choice: Any, provider: str) -> Any:
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    kind = choice.get("type") if isinstance(choice, dict) else None
    raise NotTranslatable("tool_choice", f"a tool choice of type {kind!r} has no chat equivalent", provider)


def _response_format(text: Any, provider: str) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = {key: fmt[key] for key in ("name", "schema", "strict", "description") if key in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise NotTranslatable("text.format.type", f"{fmt.get('type')!r} has no chat equivalent", provider)


def responses_name(chat_param: str) -> str:
    """The Responses parameter a chat parameter was translated from (`messages[...]` -> `input`)."""
    head, dot, rest = chat_param.partition(".")
    name = head.partition("[")[0]
    if name == "messages":
        return "input"
    renamed = CHAT_NAMES.get(name)
    return chat_param if renamed is None else renamed + (dot + rest if rest else "")


def to_chat_request(body: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """A Responses request body as a chat completions request body (400 `NotTranslatable` otherwise)."""
    _refuse_unsupported(body, provider)
    chat: dict[str, Any] = {"model": body.get("model"), "messages": _messages(body, provider)}
    for name in AS_IS:
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"], provider)
        choice = _tool_choice(body.get("tool_choice"), provider)
        if choice is not None:
            chat["tool_choice"] = choice
    response_format = _response_format(body.get("text"), provider)
    if response_format is not None:
        chat["response_format"] = response_format
    text = body.get("text")
    if isinstance(text, dict) and text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def to_response(chat: Mapping[str, Any], usage: Usage, request: Mapping[str, Any]) -> dict[str, Any]:
    """A chat.completion body as a Response to `request`."""
    choices = chat.get("choices")
    choice = mapping(choices[0]) if isinstance(choices, list) and choices else {}
    message = mapping(choice.get("message"))
    chat_id = str(chat.get("id") or "")
    response = shell(
        request, f"resp_{chat_id}" if chat_id else new_id("resp"), int(time.time()), str(chat.get("model") or "")
    )
    thought = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(thought, str) and thought:
        response["output"].append(reasoning_item(new_id("rs"), thought, "completed"))
    content, refusal = message.get("content"), message.get("refusal")
    if content or refusal:
        text = content if isinstance(content, str) else None
        response["output"].append(
            message_item(new_id("msg"), text, refusal if isinstance(refusal, str) else None, "completed")
        )
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        call_id = str(call.get("id") or new_id("call"))
        response["output"].append(
            call_item(
                new_id("fc"), call_id, str(function.get("name")), str(function.get("arguments") or ""), "completed"
            )
        )
    return finish(response, choice.get("finish_reason"), usage)


def plan_via_chat(
    chat_plan: ChatPlanner, target: UpstreamTarget, body: Mapping[str, Any], options: CallOptions
) -> WirePlan:
    """The target's own chat plan for the translated request, reading its answer back as a Response.
    A parameter the chat translator refuses is named as the Responses request names it."""
    try:
        inner = chat_plan(target, "chat", to_chat_request(body, target.provider), options)
    except InvalidRequest as exc:
        param = getattr(exc, "param", None)
        if isinstance(param, str):
            vars(exc)["param"] = responses_name(param)  # `param`: not on every InvalidRequest
        raise
    if inner.stream is not None:  # `replace` keeps what else the plan says (its stream framing, error reader)
        return replace(inner, stream=ChatToResponseEvents(inner.stream, body))
    read = inner.read
    assert read is not None

    def read_response(response: HttpResponse, latency: float) -> UpstreamResponse:
        answer = read(response, latency)
        converted = to_response(answer.body or {}, answer.usage, body)
        return UpstreamResponse(answer.status, converted, answer.usage, answer.headers, latency)

    return replace(inner, read=read_response)
