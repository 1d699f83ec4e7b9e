"""OpenAI chat -> Anthropic models on Vertex AI (`integration/model/vertex` with `anthropic/claude-...`).

Vertex serves Claude with Anthropic's Messages body at
`{base}/publishers/anthropic/models/{id}:rawPredict` (`:streamRawPredict` for SSE), where the model is
in the URL instead of the body and `anthropic_version` (`vertex-2023-10-16`) replaces the header. So
this is the openai_anthropic translation on Vertex's URL and OAuth token; its answers and stream
events are Anthropic's own, Vertex's own errors Google's. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import CallOptions, UnsupportedEndpoint, UpstreamResponse, UpstreamTarget
from tfy_gateway.gateway.providers.gemini_errors import gemini_error
from tfy_gateway.gateway.providers.openai_anthropic import to_anthropic_request, to_openai_response
from tfy_gateway.gateway.providers.openai_anthropic_stream import AnthropicChunks
from tfy_gateway.gateway.providers.openai_gemini import method_url
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse
from tfy_gateway.gateway.providers.wire import (
    JSON_HEADERS,
    SSE_HEADERS,
    WirePlan,
    build_headers,
    json_object,
    wants_usage,
)

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


def plan(target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """Chat only: the rawPredict request for an OpenAI chat body, and how to read the answer back."""
    if endpoint != "chat":
        raise UnsupportedEndpoint(
            400,
            f"{target.name or target.provider} is an Anthropic model on Vertex and has no {endpoint!r} endpoint",
            target.provider,
        )
    request = to_anthropic_request(body, target.model_id, target.provider)
    del request["model"]
    request["anthropic_version"] = target.api_version or VERTEX_ANTHROPIC_VERSION
    payload = orjson.dumps(request)
    if request.get("stream"):
        include_usage = wants_usage(body)
        headers = build_headers(SSE_HEADERS, target, options.headers_override, options.trace_headers)
        http = HttpRequest(method_url(target, "streamRawPredict"), headers, payload, timeouts=options.timeouts)
        return WirePlan(http, stream=AnthropicChunks(target, include_usage=include_usage), errors=gemini_error)

    def read(response: HttpResponse, latency: float) -> UpstreamResponse:
        converted, usage = to_openai_response(json_object(target, response.body))
        return UpstreamResponse(response.status, converted, usage, response.headers, latency)

    headers = build_headers(JSON_HEADERS, target, options.headers_override, options.trace_headers)
    http = HttpRequest(method_url(target, "rawPredict"), headers, payload, timeouts=options.timeouts)
    return WirePlan(http, read=read, errors=gemini_error)
