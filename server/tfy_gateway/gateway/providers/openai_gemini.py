"""OpenAI chat <-> Google `generateContent` (Gemini API and Vertex AI): requests out, answers back.

Pure: `plan` builds the `HttpRequest` and says how to read the answer (streams: openai_gemini_stream,
errors: gemini_errors); no I/O here. The body is the same on both services, only the URL and the
credentials differ:
- Gemini: `{base}/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `x-goog-api-key`.
- Vertex: `{base}/publishers/{publisher}/models/{id}:...` where the base ends with
  `/projects/{project}/locations/{location}` and a model `pub/id` names its publisher (default google);
  an OAuth bearer token (`vertex_credentials`).

Mapping (OpenAI -> Gemini): system/developer messages -> `systemInstruction`; user -> role user
(text, images as inlineData / fileData); assistant -> role model (text, `tool_calls` -> functionCall
parts); tool messages -> functionResponse parts of a user turn (the function's name found from the
assistant call with that id); consecutive turns of one role merged. max_completion_tokens/max_tokens
-> maxOutputTokens, temperature/top_p/stop/n/seed/penalties -> generationConfig, response_format ->
responseMimeType (+ responseJsonSchema), reasoning_effort -> thinkingConfig.thinkingBudget (Google's
own OpenAI-compatibility figures), tools -> functionDeclarations (parametersJsonSchema: the JSON
Schema as given), tool_choice -> functionCallingConfig. Refused with a 400 naming the parameter:
what Gemini cannot do or the answer could not carry back (logprobs, logit_bias,
parallel_tool_calls=false, audio output, predicted outputs, legacy functions).
Back: text parts -> content, thought parts -> reasoning_content, functionCall -> tool_calls (with its
thoughtSignature in `extra_content.google.thought_signature`, and back into the call's part when the
client sends the call again, as Gemini 3 requires); usage as in `usage_from`.
"""

from __future__ import annotations

import mimetypes
import time
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
from tfy_gateway.gateway.providers.chat_turns import tool_call
from tfy_gateway.gateway.providers.gemini_errors import gemini_error
from tfy_gateway.gateway.providers.openai_gemini_stream import (
    FINISH_REASONS,
    GeminiChunks,
    openai_tool_call,
    tool_call_id,
    usage_from,
)
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse
from tfy_gateway.gateway.providers.wire import (
    JSON_HEADERS,
    SSE_HEADERS,
    ChunkTranslator,
    ResponseReader,
    WirePlan,
    build_headers,
    json_object,
    wants_usage,
)

VERTEX = "google-vertex"
# reasoning_effort -> thinking budget in tokens, as Google's OpenAI-compatible endpoint maps it.
THINKING_BUDGET = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
_REFUSED = {
    "logit_bias": "Gemini has no logit bias",
    "top_logprobs": "log probabilities are not translated from Gemini",
    "audio": "audio output is not translated from Gemini",
    "prediction": "Gemini has no predicted outputs",
    "functions": "use `tools` (the legacy `functions` are not translated)",
    "function_call": "use `tool_choice` (the legacy `function_call` is not translated)",
    "web_search_options": "web search is not translated to Gemini",
}


def _refuse(body: Mapping[str, Any], provider: str) -> None:
    """400 naming the first parameter that cannot be expressed for Gemini (a silent drop would
    change what the caller asked for)."""
    for name, why in _REFUSED.items():
        if body.get(name) is not None:
            raise InvalidRequest(400, f"parameter {name!r} is not supported for Gemini: {why}", provider, param=name)
    if body.get("logprobs") is True:
        raise InvalidRequest(
            400,
            "parameter 'logprobs' is not supported for Gemini: log probabilities are not translated",
            provider,
            param="logprobs",
        )
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        raise InvalidRequest(
            400,
            "parameter 'parallel_tool_calls': Gemini cannot be told to call at most one function",
            provider,
            param="parallel_tool_calls",
        )
    modalities = body.get("modalities")
    if isinstance(modalities, list) and any(m != "text" for m in modalities):
        raise InvalidRequest(
            400, "parameter 'modalities': only text output is translated", provider, param="modalities"
        )


def _image_part(part: Mapping[str, Any], provider: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest(400, "image_url content part needs a url", provider, param="messages")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        return {"inlineData": {"mimeType": header[5:].split(";")[0] or "image/png", "data": data}}
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _parts(content: Any, provider: str) -> list[dict[str, Any]]:
    """OpenAI message content (a string or parts) -> Gemini parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(400, "message content must be a string or an array of parts", provider, param="messages")
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"text": str(part.get("text", ""))})
        elif kind == "image_url":
            parts.append(_image_part(part, provider))
        else:
            raise InvalidRequest(
                400,
                f"content part type {kind!r} is not supported for Gemini (use text or image_url)",
                provider,
                param="messages",
            )
    return parts


def _function_call(call: Any, provider: str) -> tuple[str, dict[str, Any]]:
    """An assistant tool call as (its id, a functionCall part)."""
    call_id, name, arguments = tool_call(call, provider)
    part: dict[str, Any] = {"functionCall": {"name": name, "args": arguments}}
    google = (call.get("extra_content") or {}).get("google") if isinstance(call.get("extra_content"), dict) else None
    if isinstance(google, dict) and isinstance(google.get("thought_signature"), str):
        part["thoughtSignature"] = google["thought_signature"]  # handed out with the call (see openai_tool_call)
    return call_id, part


def _function_response(message: Mapping[str, Any], names: Mapping[str, str], provider: str) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id") or "")
    name = names.get(call_id) or message.get("name")
    if not name:
        raise InvalidRequest(
            400,
            f"tool message for tool_call_id {call_id!r} answers no earlier assistant tool call (Gemini needs the "
            "function's name)",
            provider,
            param="messages",
        )
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    response: Any
    try:
        response = orjson.loads(content) if isinstance(content, str) and content[:1] in ("{",) else None
    except orjson.JSONDecodeError:
        response = None
    if not isinstance(response, dict):
        response = {"content": content or ""}
    return {"functionResponse": {"name": name, "response": response}}


def _append(turns: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["parts"].extend(parts)
    else:
        turns.append({"role": role, "parts": parts})


def _contents(messages: list[Any], provider: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system parts, contents) of an OpenAI message list."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, for the tool messages answering them
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content"), provider))
        elif role == "user":
            _append(turns, "user", _parts(message.get("content"), provider))
        elif role == "assistant":
            parts = _parts(message.get("content"), provider)
            for call in message.get("tool_calls") or ():
                call_id, part = _function_call(call, provider)
                names[call_id] = part["functionCall"]["name"]
                parts.append(part)
            _append(turns, "model", parts)
        elif role == "tool":
            _append(turns, "user", [_function_response(message, names, provider)])
        else:
            raise InvalidRequest(
                400,
                f"messages[{index}].role {role!r} is not one of system, developer, user, assistant, tool",
                provider,
                param="messages",
            )
    return system, turns


def _generation_config(body: Mapping[str, Any], provider: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    if limit is not None:
        config["maxOutputTokens"] = limit
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    if body.get("n") is not None and body["n"] != 1:
        config["candidateCount"] = body["n"]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_object":
            config["responseMimeType"] = "application/json"
        elif kind == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")
            config["responseMimeType"] = "application/json"
            if isinstance(schema, dict):
                config["responseJsonSchema"] = schema
        elif kind not in (None, "text"):
            raise InvalidRequest(
                400, f"response_format type {kind!r} is not supported for Gemini", provider, param="response_format"
            )
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in THINKING_BUDGET:
            raise InvalidRequest(
                400,
                f"reasoning_effort {effort!r} is not one of {', '.join(THINKING_BUDGET)}",
                provider,
                param="reasoning_effort",
            )
        config["thinkingConfig"] = {"thinkingBudget": THINKING_BUDGET[effort]}
    return config


def _tools(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    declarations = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            continue
        declaration: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else None


def _tool_config(body: Mapping[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def to_gemini_request(body: Mapping[str, Any], provider: str = "google-gemini") -> dict[str, Any]:
    """An OpenAI chat request body as a generateContent body (the model is in the URL, not here)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(400, "'messages' must be a non-empty array", provider, param="messages")
    _refuse(body, provider)
    system, contents = _contents(messages, provider)
    if not contents:
        raise InvalidRequest(400, "Gemini needs at least one user or assistant message", provider, param="messages")
    request: dict[str, Any] = {"contents": contents}
    if system:
        request["systemInstruction"] = {"parts": system}
    config = _generation_config(body, provider)
    if config:
        request["generationConfig"] = config
    tools = _tools(body)
    if tools:
        request["tools"] = tools
        tool_config = _tool_config(body)
        if tool_config is not None:
            request["toolConfig"] = tool_config
    return request


def _choice(candidate: Mapping[str, Any], index: int, response_id: str) -> dict[str, Any]:
    texts: list[str] = []
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    content = candidate.get("content") or {}
    for part in content.get("parts") or ():
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            name = str((part["functionCall"] or {}).get("name") or "")
            tool_calls.append(openai_tool_call(part, tool_call_id(response_id, index, len(tool_calls), name)))
        elif "text" in part:
            (reasoning if part.get("thought") else texts).append(str(part["text"]))
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    finish = FINISH_REASONS.get(str(candidate.get("finishReason")), "stop")
    if tool_calls and finish == "stop":
        finish = "tool_calls"
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish}


def to_openai_response(answer: Mapping[str, Any], model_id: str) -> tuple[dict[str, Any], Usage]:
    """A generateContent answer as an OpenAI chat.completion body, with its usage."""
    response_id = str(answer.get("responseId") or "")
    candidates = [c for c in answer.get("candidates") or () if isinstance(c, dict)]
    choices = [
        _choice(c, c.get("index", i) if isinstance(c.get("index"), int) else i, response_id)
        for i, c in enumerate(candidates)
    ]
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason): OpenAI's refusal
        feedback = answer.get("promptFeedback")
        reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        refusal = f"Gemini blocked the prompt ({reason or 'no reason given'})."
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": refusal},
                "logprobs": None,
                "finish_reason": "content_filter",
            }
        ]
    usage = usage_from(answer.get("usageMetadata"))
    body = {
        "id": "chatcmpl-" + response_id if response_id else "chatcmpl-gemini",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.get("modelVersion") or model_id,
        "choices": choices,
        "usage": usage.to_openai(),
    }
    return body, usage


def model_path(target: UpstreamTarget) -> str:
    """`models/{m}` (Gemini) or `publishers/{pub}/models/{id}` (Vertex; a model `pub/id` names its publisher)."""
    if target.provider == VERTEX:
        publisher, _, model = target.model_id.rpartition("/")
        return f"publishers/{quote(publisher or 'google', safe='')}/models/{quote(model, safe='@=,.')}"
    return f"models/{quote(target.model_id.removeprefix('models/'), safe='@=,.')}"


def method_url(target: UpstreamTarget, method: str) -> str:
    """The URL of one method of the target's model, e.g. `generateContent`."""
    return f"{target.base_url.rstrip('/')}/{model_path(target)}:{method}"


def chat_only(target: UpstreamTarget, endpoint: str, speaks: str) -> None:
    """400 for any endpoint but chat: Google's generate methods are chat only here."""
    if endpoint != "chat":
        raise UnsupportedEndpoint(
            400,
            f"{target.name or target.provider} speaks {speaks} and has no {endpoint!r} endpoint here",
            target.provider,
        )


def google_plan(
    target: UpstreamTarget,
    options: CallOptions,
    payload: bytes,
    method: str,
    *,
    stream: ChunkTranslator | None = None,
    read: ResponseReader | None = None,
) -> WirePlan:
    """One call of a method of the target's model (Gemini API or Vertex), its errors read as Google's."""
    headers = build_headers(
        JSON_HEADERS if stream is None else SSE_HEADERS, target, options.headers_override, options.trace_headers
    )
    http = HttpRequest(method_url(target, method), headers, payload, timeouts=options.timeouts)
    return WirePlan(http, read=read, stream=stream, error=gemini_error)


def plan(target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """Chat only: the generateContent request for an OpenAI chat body, and how to read the answer back."""
    chat_only(target, endpoint, "Google generateContent")
    payload = orjson.dumps(to_gemini_request(body, target.provider))
    if body.get("stream") is True:
        chunks = GeminiChunks(target, include_usage=wants_usage(body))
        return google_plan(target, options, payload, "streamGenerateContent?alt=sse", stream=chunks)

    def read(response: HttpResponse, latency: float) -> UpstreamResponse:
        converted, usage = to_openai_response(json_object(target, response.body), target.model_id)
        return UpstreamResponse(response.status, converted, usage, response.headers, latency)

    return google_plan(target, options, payload, "generateContent", read=read)
