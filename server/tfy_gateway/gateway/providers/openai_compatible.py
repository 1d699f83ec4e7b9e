"""OpenAI -> OpenAI-compatible wire (OpenAI, Groq, Together, Mistral, OpenRouter, Ollama, vLLM and other
self-hosted OpenAI servers; Azure reuses `plan` with its own URL). Pure: builds requests, reads answers.

Bodies pass through untouched except `model` (set to the target's upstream id) and, for streams,
`stream_options.include_usage`, which is always requested so usage is never lost; when the client did
not ask for it, what that adds is removed again (the usage chunk, and the `"usage": null` OpenAI then
puts in every other chunk), so a client sees usage in a stream only when it asked, as from OpenAI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import (
    ENDPOINT_PATHS,
    MULTIPART_ENDPOINTS,
    STREAMING_ENDPOINTS,
    CallOptions,
    UnsupportedEndpoint,
    UpstreamResponse,
    UpstreamStreamCut,
    UpstreamTarget,
    Usage,
)
from tfy_gateway.gateway.providers.media_stream import FINAL_EVENTS, MediaEvents
from tfy_gateway.gateway.providers.transport import (
    JSON,
    FormField,
    FormFile,
    FormValue,
    HttpRequest,
    HttpResponse,
    media_type,
)
from tfy_gateway.gateway.providers.wire import (
    DONE,
    JSON_HEADERS,
    SSE_HEADERS,
    Translated,
    WirePlan,
    build_headers,
    json_object,
    stream_error,
)

_NO_USAGE = (b'"usage":null', b'"usage": null')
_NO_FINISH = (b'"finish_reason":null', b'"finish_reason": null')
_NULL_USAGE = (b',"usage":null', b', "usage": null', b'"usage":null,', b'"usage": null, ')


def _drop_null_usage(data: bytes) -> bytes:
    """`data` without a `"usage": null` member. A byte replace is exact here: inside a JSON string
    every quote is escaped, so these markers can only match the member itself."""
    if b'"usage"' not in data:
        return data
    for marker in _NULL_USAGE:
        data = data.replace(marker, b"")
    return data


COHERE_COMPATIBILITY = "/compatibility/v1"
"""Cohere's OpenAI-compatible API (chat, embeddings); its rerank lives at /v2/rerank, beside it."""


def url_for(target: UpstreamTarget, endpoint: str) -> str:
    """`{base_url}{path}`, e.g. …/v1/chat/completions (Cohere's rerank: its native /v2/rerank)."""
    path = ENDPOINT_PATHS.get(endpoint)
    if path is None:
        raise UnsupportedEndpoint(400, f"unknown endpoint {endpoint!r}", target.provider)
    base = target.base_url.rstrip("/")
    if endpoint == "rerank" and target.provider == "cohere" and base.endswith(COHERE_COMPATIBILITY):
        return base.removesuffix(COHERE_COMPATIBILITY) + "/v2/rerank"
    return base + path


def form_fields(payload: Mapping[str, Any]) -> dict[str, FormField]:
    """Multipart fields for uploads (audio, images): an upload is (filename, bytes, content type), a
    list of strings or uploads is a field repeated once per item (`timestamp_granularities[]`, `image[]`:
    what the client sent more than once), None is left out, other non-strings are sent as JSON."""
    fields: dict[str, FormField] = {}
    for name, value in payload.items():
        if isinstance(value, list) and value and all(isinstance(item, (str, tuple)) for item in value):
            fields[name] = tuple(_form_value(item) for item in value)
        elif value is not None:
            fields[name] = _form_value(value)
    return fields


def _form_value(value: Any) -> FormValue:
    if isinstance(value, tuple):
        filename, content, content_type = value
        return FormFile(filename, content, content_type)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def plan(
    target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions, *, url: str | None = None
) -> WirePlan:
    """The request for one call (never mutates `body`), and how to read its answer."""
    url = url if url is not None else url_for(target, endpoint)
    override = options.headers_override
    payload = {**body, "model": target.model_id}
    if endpoint in STREAMING_ENDPOINTS and payload.get("stream") is True:
        stream_options = payload.get("stream_options")
        client_wants_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        if not client_wants_usage:
            payload["stream_options"] = {
                **(stream_options if isinstance(stream_options, dict) else {}),
                "include_usage": True,
            }
        headers = build_headers(SSE_HEADERS, target, override, options.trace_headers)
        request = HttpRequest(url, headers, orjson.dumps(payload), timeouts=options.timeouts)
        return WirePlan(request, stream=OpenAIChunks(target, strip_usage=not client_wants_usage))
    media_stream = endpoint in FINAL_EVENTS and payload.get("stream") in (True, "true")
    accept = SSE_HEADERS if media_stream else JSON_HEADERS
    if endpoint in MULTIPART_ENDPOINTS:
        request = HttpRequest(
            url,
            build_headers({"accept": accept["accept"]}, target, override, options.trace_headers),
            form=form_fields(payload),
            timeouts=options.timeouts,
        )
    else:
        request = HttpRequest(
            url,
            build_headers(accept, target, override, options.trace_headers),
            orjson.dumps(payload),
            timeouts=options.timeouts,
        )
    if media_stream:
        return WirePlan(request, stream=MediaEvents(target, endpoint))

    def read(response: HttpResponse, latency: float) -> UpstreamResponse:
        return to_response(target, response, latency)

    return WirePlan(request, read=read)


def to_response(target: UpstreamTarget, response: HttpResponse, latency: float) -> UpstreamResponse:
    """A 2xx answer: JSON bodies parsed (usage read from them), anything else (speech) kept as bytes."""
    content_type = media_type(response.headers)
    body = response.body
    if not content_type.endswith("json"):
        return UpstreamResponse(response.status, None, Usage(), response.headers, latency, body, content_type)
    parsed = json_object(target, body)
    usage = Usage.from_openai(parsed.get("usage"))
    return UpstreamResponse(response.status, parsed, usage, response.headers, latency, None, JSON, body)


def _has_output(choices: Any) -> bool:
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    choice = choices[0]
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return bool(
            delta.get("content")
            or delta.get("tool_calls")
            or delta.get("reasoning_content")
            or delta.get("reasoning")
            or delta.get("refusal")
        )
    return bool(choice.get("text"))


def _frame(data: bytes) -> Translated:
    return Translated((b"data: " + data + b"\n\n",))


class OpenAIChunks:
    """Pass-through of OpenAI chunks. Only chunks that may carry usage, a finish reason, an error or the
    first token are parsed; the others are re-framed as they came."""

    def __init__(self, target: UpstreamTarget, *, strip_usage: bool) -> None:
        self.target = target
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._strip_usage = strip_usage
        self._seen_output = False

    def feed(self, event: str, data: bytes) -> Translated:
        if data == b"[DONE]":
            return Translated((DONE,), done=True)
        if self._strip_usage:
            data = _drop_null_usage(data)
        interesting = (
            not self._seen_output
            or (b'"usage"' in data and _NO_USAGE[0] not in data and _NO_USAGE[1] not in data)
            or (b'"finish_reason"' in data and _NO_FINISH[0] not in data and _NO_FINISH[1] not in data)
            or b'"error"' in data
            or event == "error"
        )
        if not interesting:
            return _frame(data)
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return _frame(data)
        if not isinstance(chunk, dict):
            return _frame(data)
        choices = chunk.get("choices")
        if "error" in chunk and not choices:
            raise stream_error(self.target, chunk)
        first = not self._seen_output and _has_output(choices)
        self._seen_output = self._seen_output or first
        for choice in choices or ():
            if isinstance(choice, dict) and choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        usage = chunk.get("usage")
        if not usage and isinstance(chunk.get("x_groq"), dict):
            usage = chunk["x_groq"].get("usage")
        if isinstance(usage, dict):
            self.usage = Usage.from_openai(usage)
            if self._strip_usage and chunk.get("usage"):
                if not choices:
                    return Translated(first_token=first)  # the usage chunk we asked for on the client's behalf
                del chunk["usage"]
                return Translated((b"data: " + orjson.dumps(chunk) + b"\n\n",), first_token=first)
        return Translated((b"data: " + data + b"\n\n",), first_token=first)

    def end(self) -> Translated:
        """Some servers close the body after the finish reason without `[DONE]`: that is a proper end.
        Without a finish reason the answer was cut short; reporting it complete would hand the
        client a truncated answer as whole, so it is a provider failure."""
        if self.finish_reason is None:
            raise UpstreamStreamCut(
                502,
                f"{self.target.provider} closed the stream before it finished (no finish_reason, no [DONE])",
                self.target.provider,
            )
        return Translated((DONE,), done=True)
