"""OpenAI Responses API -> a provider that speaks it (dispatch.RESPONSES_NATIVE): passed through
(`{base_url}/responses`). Pure.

The body goes as it came except `model` (the target's upstream id); every parameter, built-in tools
and `previous_response_id` included, is the provider's to accept or refuse. The answer is read for its
usage only (`usage.input_tokens`, `output_tokens` and their details). A stream is relayed event by
event, re-framed with its event name; only the events that end it (`response.completed`,
`.incomplete`, `.failed`) are parsed, for the usage, and an `error` event is the provider's error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import (
    CallOptions,
    UpstreamResponse,
    UpstreamStreamCut,
    UpstreamTarget,
    Usage,
)
from tfy_gateway.gateway.providers.responses_objects import mapping
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse
from tfy_gateway.gateway.providers.wire import (
    JSON_HEADERS,
    SSE_HEADERS,
    Translated,
    WirePlan,
    build_headers,
    json_object,
    stream_error,
)

ENDINGS = ("response.completed", "response.incomplete", "response.failed")
"""The events that end a Responses stream properly (the last one the client gets)."""
OPENING = frozenset({"response.created", "response.in_progress", "response.queued"})
STATUS_FINISH = {"completed": "stop", "incomplete": "length", "failed": "error"}


def usage_from(usage: Any) -> Usage:
    """The Responses API's usage (`input_tokens` includes cached ones, as chat's `prompt_tokens`)."""
    if not isinstance(usage, dict):
        return Usage()
    given = usage.get("input_tokens_details")
    made = usage.get("output_tokens_details")
    return Usage(
        prompt_tokens=_count(usage.get("input_tokens")),
        completion_tokens=_count(usage.get("output_tokens")),
        cached_tokens=_count(given.get("cached_tokens")) if isinstance(given, dict) else 0,
        reasoning_tokens=_count(made.get("reasoning_tokens")) if isinstance(made, dict) else 0,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def plan(target: UpstreamTarget, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """The pass-through request, and how to read its answer."""
    url = target.base_url.rstrip("/") + "/responses"
    payload = orjson.dumps({**body, "model": target.model_id})
    if body.get("stream") is True:
        headers = build_headers(SSE_HEADERS, target, options.headers_override, options.trace_headers)
        return WirePlan(HttpRequest(url, headers, payload, timeouts=options.timeouts), stream=ResponseEvents(target))
    headers = build_headers(JSON_HEADERS, target, options.headers_override, options.trace_headers)

    def read(response: HttpResponse, latency: float) -> UpstreamResponse:
        parsed = json_object(target, response.body)
        usage = usage_from(parsed.get("usage"))
        return UpstreamResponse(response.status, parsed, usage, response.headers, latency, raw=response.body)

    return WirePlan(HttpRequest(url, headers, payload, timeouts=options.timeouts), read=read)


class ResponseEvents:
    """Pass-through of a Responses stream (a `ChunkTranslator`)."""

    def __init__(self, target: UpstreamTarget) -> None:
        self.target = target
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._seen_output = False

    def feed(self, event: str, data: bytes) -> Translated:
        kind = event
        parsed: Any = None
        if not kind or kind in ENDINGS or kind == "error":
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                kind = str(parsed.get("type") or kind)
        if kind == "error" or (isinstance(parsed, dict) and "error" in parsed and "type" not in parsed):
            payload = parsed if isinstance(parsed, dict) else {}
            error = payload.get("error") if isinstance(payload.get("error"), dict) else payload
            raise stream_error(self.target, {"error": error})
        framed = (b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n",) if kind else (b"data: " + data + b"\n\n",)
        first = not self._seen_output and kind not in OPENING
        self._seen_output = self._seen_output or first
        if kind in ENDINGS and isinstance(parsed, dict):
            response = mapping(parsed.get("response"))
            self.usage = usage_from(response.get("usage"))
            self.finish_reason = STATUS_FINISH.get(str(response.get("status")), "stop")
            return Translated(framed, first_token=first, done=True)
        return Translated(framed, first_token=first)

    def end(self) -> Translated:
        raise UpstreamStreamCut(
            502, f"{self.target.provider} closed the stream before response.completed", self.target.provider
        )
