"""Relay an upstream SSE stream to the client, after the router has picked the stream that answered.

The adapter already buffered the first chunk (so failures before it were retryable and the router
counted the stream as a success). Here the response headers go out, then every event as it
arrives. A failure after that cannot change the status any more: the client gets an OpenAI-style
`data: {"error": ...}` event (the SDKs raise on it) and the stream ends without `[DONE]`. The relay
holds back the final `[DONE]` and reports what happened; the pipeline records the request and then
sends `[DONE]` with the end of the body. Clients stop at `[DONE]` (and may hang up right away), so
nothing may be left to do once they have seen it: no late 499 for a served stream, and a client that
reads its logs or usage next finds the request there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tfy_gateway.gateway.data_plane.asgi import SSE_HEADERS, Headers, Send
from tfy_gateway.gateway.data_plane.failures import DataPlaneError, error_fields, from_upstream
from tfy_gateway.gateway.providers import DONE, UpstreamError


class Events(Protocol):
    """What `relay` sends: an upstream stream, or one held back for its output guardrails."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


@dataclass(frozen=True)
class StreamReport:
    status: int
    error: DataPlaneError | None
    # What the pipeline sends with the end of the body: `[DONE]` for a complete stream, else nothing.
    tail: bytes
    # perf_counter() when the first event went to the client (None: nothing was sent).
    first_sent_at: float | None
    text: str | None


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


def error_event(error: DataPlaneError) -> bytes:
    failure = {"error": error_fields(error)}
    return b"data: " + orjson.dumps(failure) + b"\n\n"


async def relay(send: Send, stream: Events, headers: Headers, *, target: str, keep_text: bool) -> StreamReport:
    """Send the 200 and every event of `stream` but the final `[DONE]` to the client; close the stream."""
    text: list[str] = []
    first_sent_at: float | None = None
    error: DataPlaneError | None = None
    tail = b""
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})
    try:
        async with stream:
            async for event in stream:
                if event == DONE:
                    tail = DONE
                    continue
                if first_sent_at is None:
                    first_sent_at = time.perf_counter()
                if keep_text:
                    text.append(_delta_text(event))
                await send({"type": "http.response.body", "body": event, "more_body": True})
    except UpstreamError as exc:
        error = from_upstream(exc, target)
        await send({"type": "http.response.body", "body": error_event(error), "more_body": True})
    return StreamReport(
        status=error.status if error is not None else 200,
        error=error,
        tail=tail if error is None else b"",
        first_sent_at=first_sent_at,
        text="".join(text) if keep_text else None,
    )
