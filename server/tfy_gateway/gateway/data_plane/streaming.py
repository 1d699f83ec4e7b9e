"""Forward an upstream SSE stream to the client: this is where a streamed request commits.

The adapter has already buffered the first chunk (so failures before it were retryable). Here the
response headers go out, then every event as it arrives. A failure after that cannot change the
status any more: the client gets an OpenAI-style `data: {"error": ...}` event (the SDKs raise on it)
and the stream ends without `[DONE]`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from tfy_gateway.gateway.data_plane.asgi import SSE_HEADERS
from tfy_gateway.gateway.data_plane.failures import from_upstream
from tfy_gateway.gateway.data_plane.response_headers import response_headers
from tfy_gateway.gateway.providers import UpstreamError, UpstreamStream
from tfy_gateway.gateway.routing import Outcome

if TYPE_CHECKING:
    from tfy_gateway.gateway.data_plane.exchange import Exchange


def _delta_text(event: bytes) -> str:
    """The text a chunk event adds (only used when body logging is on)."""
    if not event.startswith(b"data: {"):
        return ""
    try:
        chunk = orjson.loads(event[6:])
    except orjson.JSONDecodeError:
        return ""
    parts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        parts.append(delta.get("content") or choice.get("text") or "")
    return "".join(part for part in parts if isinstance(part, str))


async def pump(exchange: Exchange, stream: UpstreamStream, started: float) -> Outcome:
    send = exchange.send
    keep_text = exchange.options.log_bodies or exchange.plane.options.log_bodies
    text: list[str] = []
    exchange.status = 200
    exchange.committed = True
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": SSE_HEADERS + response_headers(exchange, content_type=None, timing=False),
        }
    )
    status = 200
    error = None
    try:
        async with stream:
            async for event in stream:
                if exchange.ttft_s is None:
                    exchange.ttft_s = time.perf_counter() - exchange.started
                if keep_text:
                    text.append(_delta_text(event))
                await send({"type": "http.response.body", "body": event, "more_body": True})
    except UpstreamError as exc:
        error = from_upstream(exc, exchange.served.target if exchange.served else "?", request_timeout=False)
        status = error.status
        failure = {"error": {"message": error.message, "type": error.type, "code": str(error.status)}}
        chunk = b"data: " + orjson.dumps(failure) + b"\n\n"
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    exchange.provider_s += time.perf_counter() - started
    exchange.usage = stream.usage
    if keep_text:
        exchange.response_logged = "".join(text)
    if error is not None:
        exchange.status = status
        exchange.error = error
    exchange.completed = True
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    ttft_ms = stream.ttft * 1000 if stream.ttft is not None else None
    tpot_ms = None
    tokens = stream.usage.completion_tokens if stream.usage else 0
    if stream.duration is not None and stream.ttft is not None and tokens > 1:
        tpot_ms = (stream.duration - stream.ttft) * 1000 / (tokens - 1)
    return Outcome(status, committed=True, ttft_ms=ttft_ms, tpot_ms=tpot_ms, payload=error or stream)
