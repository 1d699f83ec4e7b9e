"""Adapter for OpenAI-compatible upstreams: OpenAI, Groq, Together, Mistral, OpenRouter, Ollama, vLLM and
other self-hosted OpenAI servers (Azure reuses `exchange` with its own URL).

Bodies pass through untouched except `model` (set to the target's upstream id) and, for streams,
`stream_options.include_usage`, which is always requested so usage is never lost; the injected usage
chunk is removed again when the client did not ask for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from tfy_gateway.gateway.providers.base import (
    ENDPOINT_PATHS,
    STREAMING_ENDPOINTS,
    UnsupportedEndpoint,
    UpstreamError,
    UpstreamResponse,
    UpstreamTarget,
    Usage,
)
from tfy_gateway.gateway.providers.stream import DONE, UpstreamStream, start_stream, stream_error
from tfy_gateway.gateway.providers.transport import JSON_HEADERS, SSE_HEADERS, build_headers, post

_NO_USAGE = (b'"usage":null', b'"usage": null')
_NO_FINISH = (b'"finish_reason":null', b'"finish_reason": null')


def url_for(target: UpstreamTarget, endpoint: str) -> str:
    path = ENDPOINT_PATHS.get(endpoint)
    if path is None:
        raise UnsupportedEndpoint(400, f"unknown endpoint {endpoint!r}", target.provider)
    return target.base_url.rstrip("/") + path


async def call(
    session: aiohttp.ClientSession,
    target: UpstreamTarget,
    endpoint: str,
    body: Mapping[str, Any],
    *,
    headers_override: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    ttft_timeout: float | None = None,
) -> UpstreamResponse | UpstreamStream:
    return await exchange(
        session,
        target,
        endpoint,
        body,
        url=url_for(target, endpoint),
        headers_override=headers_override,
        timeout=timeout,
        ttft_timeout=ttft_timeout,
    )


def _form(payload: Mapping[str, Any]) -> aiohttp.FormData:
    """Multipart body for audio uploads; `file` is (filename, bytes, content type)."""
    form = aiohttp.FormData()
    for name, value in payload.items():
        if name == "file" and isinstance(value, tuple):
            filename, content, content_type = value
            form.add_field("file", content, filename=filename, content_type=content_type)
        elif value is not None:
            form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
    return form


async def exchange(
    session: aiohttp.ClientSession,
    target: UpstreamTarget,
    endpoint: str,
    body: Mapping[str, Any],
    *,
    url: str,
    headers_override: Mapping[str, Any] | None,
    timeout: float | None,
    ttft_timeout: float | None,
) -> UpstreamResponse | UpstreamStream:
    payload = {**body, "model": target.model_id}
    if endpoint in STREAMING_ENDPOINTS and payload.get("stream") is True:
        options = payload.get("stream_options")
        client_wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        if not client_wants_usage:
            payload["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }

        def factory(response: aiohttp.ClientResponse, started: float) -> UpstreamStream:
            return OpenAIStream(
                response,
                target,
                started=started,
                timeout=timeout,
                url=url,
                strip_usage=not client_wants_usage,
            )

        headers = build_headers(SSE_HEADERS, target, headers_override)
        return await start_stream(
            session,
            target,
            url,
            headers=headers,
            data=orjson.dumps(payload),
            factory=factory,
            timeout=timeout,
            ttft_timeout=ttft_timeout,
        )
    data: Any
    if endpoint == "transcriptions":
        data = _form(payload)
        headers = build_headers({}, target, headers_override)
    else:
        data = orjson.dumps(payload)
        headers = build_headers(JSON_HEADERS, target, headers_override)
    status, response_headers, raw, content_type, latency = await post(
        session, target, url, headers=headers, data=data, timeout=timeout
    )
    if not content_type.endswith("json"):
        return UpstreamResponse(status, None, Usage(), response_headers, latency, raw, content_type)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, f"{target.provider} returned invalid JSON", target.provider) from None
    if not isinstance(parsed, dict):
        raise UpstreamError(502, f"{target.provider} returned JSON that is not an object", target.provider)
    return UpstreamResponse(status, parsed, Usage.from_openai(parsed.get("usage")), response_headers, latency)


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


class OpenAIStream(UpstreamStream):
    """Pass-through of OpenAI chunks. Only chunks that may carry usage, a finish reason, an error or the
    first token are parsed; the others are re-framed as they came."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        target: UpstreamTarget,
        *,
        started: float,
        timeout: float | None,
        url: str,
        strip_usage: bool,
    ) -> None:
        super().__init__(response, target, started=started, timeout=timeout, url=url)
        self._strip_usage = strip_usage

    def _handle(self, event: str, data: bytes) -> None:
        if data == b"[DONE]":
            self._emit(DONE)
            self.completed = True
            self._finish()
            return
        interesting = (
            self.ttft is None
            or (b'"usage"' in data and not any(marker in data for marker in _NO_USAGE))
            or (b'"finish_reason"' in data and not any(marker in data for marker in _NO_FINISH))
            or b'"error"' in data
            or event == "error"
        )
        if not interesting:
            self._emit(b"data: " + data + b"\n\n")
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._emit(b"data: " + data + b"\n\n")
            return
        if not isinstance(chunk, dict):
            self._emit(b"data: " + data + b"\n\n")
            return
        choices = chunk.get("choices")
        if "error" in chunk and not choices:
            raise stream_error(self.target, chunk)
        if self.ttft is None and _has_output(choices):
            self._first_token()
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
                    return  # the usage chunk we asked for on the client's behalf
                del chunk["usage"]
                self._emit(b"data: " + orjson.dumps(chunk) + b"\n\n")
                return
        self._emit(b"data: " + data + b"\n\n")

    def _end(self) -> None:
        # Some servers close the body without `[DONE]`; the client still gets a well-formed end.
        self._emit(DONE)
        self.completed = self.finish_reason is not None
