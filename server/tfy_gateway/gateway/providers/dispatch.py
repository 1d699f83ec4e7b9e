"""`call()`: the one way to send an OpenAI-format request upstream, whatever the target's wire format.

The wire format's adapter (a pure planner) says what to send and how to read the answer; this module
is the only place that performs the exchange over the caller's `Transport` and maps failures below
HTTP and error statuses onto UpstreamError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.providers import (
    azure_openai,
    openai_anthropic,
    openai_bedrock,
    openai_compatible,
    openai_gemini,
    openai_responses,
    responses_chat,
    vertex_anthropic,
)
from tfy_gateway.gateway.providers.base import (
    NO_CALL_OPTIONS,
    CallOptions,
    Endpoint,
    UpstreamResponse,
    UpstreamTarget,
    error_from_body,
    redirect_refused,
)
from tfy_gateway.gateway.providers.stream import UpstreamStream, start_stream
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse, Transport, TransportError
from tfy_gateway.gateway.providers.wire import ErrorReader, WirePlan, transport_error

Adapter = Callable[[UpstreamTarget, str, Mapping[str, Any], CallOptions], WirePlan]

ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {
        "openai": openai_compatible.plan,
        "anthropic": openai_anthropic.plan,
        "azure-openai": azure_openai.plan,
        "gemini": openai_gemini.plan,
        "vertex-anthropic": vertex_anthropic.plan,
        "bedrock": openai_bedrock.plan,
    }
)
RESPONSES_NATIVE = frozenset({"openai", "groq", "openrouter", "xai"})
"""Provider types (on the OpenAI-compatible wire) whose APIs document `/responses`: requests pass
through. Every other target, OpenAI-compatible ones included (Mistral, Together, Cohere's and
Gemini's compatibility APIs, self-hosted servers...), gets it translated to chat, which they all
speak: a chat translation loses only what such providers do not offer (built-in tools, stored
responses), where a pass-through would be a 404."""


def plan_call(target: UpstreamTarget, endpoint: Endpoint, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """The wire plan of one call: the target's adapter, or for `/responses` on a target without it,
    the adapter's chat plan translated both ways (providers/responses_chat.py)."""
    if endpoint == "responses":
        if target.wire_format == "openai" and target.provider in RESPONSES_NATIVE:
            return openai_responses.plan(target, body, options)
        return responses_chat.plan_via_chat(ADAPTERS[target.wire_format], target, body, options)
    return ADAPTERS[target.wire_format](target, endpoint, body, options)


async def send(
    transport: Transport, target: UpstreamTarget, request: HttpRequest, error: ErrorReader | None = None
) -> tuple[HttpResponse, float]:
    """POST and read the whole answer: the 2xx response and the seconds it took; 3xx, 4xx, 5xx raise
    (an error body read by `error`, the wire format's reader, else the generic one)."""
    started = time.perf_counter()
    try:
        response = await transport.post(request)
    except TransportError as exc:
        raise transport_error(target, request.url, exc, request.timeouts) from None
    if response.status >= 400:
        raise (error or error_from_body)(target, response.status, response.headers, response.body)
    if response.status >= 300:
        raise redirect_refused(target, response.status, response.headers)
    return response, time.perf_counter() - started


async def call(
    transport: Transport,
    target: UpstreamTarget,
    endpoint: Endpoint,
    body: Mapping[str, Any],
    options: CallOptions = NO_CALL_OPTIONS,
) -> UpstreamResponse | UpstreamStream:
    """Send one OpenAI-format request to `target`; never mutates `body` (safe to reuse for fallbacks).

    endpoint: chat, completions, embeddings, moderations, rerank, images, speech, transcriptions,
      responses (transcriptions: body["file"] = (filename, bytes, content_type)).
    A body with `"stream": true` (chat, completions, responses) gives an UpstreamStream, returned only once its
    first chunk arrived, so every failure before the first byte is still retryable.
    """
    if target.credentials is not None:  # short-lived credentials (Vertex): a current token for this call
        token = await target.credentials.authorization(transport)
        target = replace(target, auth_headers={**target.auth_headers, "authorization": token})
    wire = plan_call(target, endpoint, body, options)
    if wire.stream is not None:
        return await start_stream(transport, target, wire.request, wire.stream, framing=wire.framing, error=wire.error)
    if wire.read is None:  # WirePlan guarantees one of the two
        raise TypeError("a WirePlan without a reader")
    response, latency = await send(transport, target, wire.request, wire.error)
    return wire.read(response, latency)
