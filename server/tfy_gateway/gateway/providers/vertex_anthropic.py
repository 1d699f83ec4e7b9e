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

from tfy_gateway.gateway.providers.base import CallOptions, UpstreamResponse, UpstreamTarget
from tfy_gateway.gateway.providers.openai_anthropic import to_anthropic_request, to_openai_response
from tfy_gateway.gateway.providers.openai_anthropic_stream import AnthropicChunks
from tfy_gateway.gateway.providers.openai_gemini import chat_only, google_plan
from tfy_gateway.gateway.providers.transport import HttpResponse
from tfy_gateway.gateway.providers.wire import (
    WirePlan,
    json_object,
    wants_usage,
)

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


def plan(target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """Chat only: the rawPredict request for an OpenAI chat body, and how to read the answer back."""
    chat_only(target, endpoint, "Anthropic Messages on Vertex")
    request = to_anthropic_request(body, target.model_id, target.provider)
    del request["model"]
    request["anthropic_version"] = target.api_version or VERTEX_ANTHROPIC_VERSION
    payload = orjson.dumps(request)
    if request.get("stream"):
        chunks = AnthropicChunks(target, include_usage=wants_usage(body))
        return google_plan(target, options, payload, "streamRawPredict", stream=chunks)

    def read(response: HttpResponse, latency: float) -> UpstreamResponse:
        converted, usage = to_openai_response(json_object(target, response.body))
        return UpstreamResponse(response.status, converted, usage, response.headers, latency)

    return google_plan(target, options, payload, "rawPredict", read=read)
