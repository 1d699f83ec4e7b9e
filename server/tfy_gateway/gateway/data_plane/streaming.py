"""Relay an upstream SSE stream to the client, after the router has picked the stream that answered.

The adapter already buffered the first chunk (so failures before it were retryable and the router
counted the stream as a success). Here the response headers go out, then every event as it
arrives. A failure after that cannot change the status any more: the client gets an OpenAI-style
`data: {"error": ...}` event (the SDKs raise on it) and the stream ends without `[DONE]`. The relay
holds back the final `[DONE]` and reports what happened; the pipeline records the request and then
sends `[DONE]` with the end of the body. Clients stop at `[DONE]` (and may hang up right away), so
nothing may be left to do once they have seen it: no late 499 for a served stream, and a client that
reads its logs or usage next finds the request there. A Responses stream ends with its
`response.completed` (or `.incomplete`, `.failed`) event instead, held back the same way, and
reports a failure as an `error` event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tfy_gateway.gateway.data_plane.asgi import SSE_HEADERS, Headers, Send
from tfy_gateway.gateway.data_plane.failures import DataPlaneError, error_fields, from_upstream
from tfy_gateway.gateway.providers import UpstreamError, ends_stream


class Events(Protocol):
    """What `relay` sends: an upstream stream, or one held back for its output guardrails."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def ready(self) -> list[bytes]:
        """The events after the one just iterated that are available without waiting, taken now."""
        ...

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


_TEXT_DELTA = b"event: response.output_text.delta\n"


def _delta_text(event: bytes) -> str:
    """The text a chunk event adds (only used when body logging is on)."""
    if event.startswith(_TEXT_DELTA):
        try:
            delta = orjson.loads(event[len(_TEXT_DELTA) + 6 :]).get("delta")
        except (orjson.JSONDecodeError, AttributeError):
            return ""
        return delta if isinstance(delta, str) else ""
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


ErrorEvent = Callable[[DataPlaneError, int], bytes]
"""The event that reports a failure mid-stream, given the error and how many events went before it."""


def error_event(error: DataPlaneError, sent: int = 0) -> bytes:
    failure = {"error": error_fields(error)}
    return b"data: " + orjson.dumps(failure) + b"\n\n"


def response_error_event(error: DataPlaneError, sent: int) -> bytes:
    """A Responses stream's `error` event (its fields as OpenAI's), with the `error` object that makes
    the openai SDK raise, as it does for chat; its sequence number follows the events sent."""
    fields = error_fields(error)
    failure = {
        "type": "error",
        "code": fields["code"],
        "message": error.message,
        "param": fields["param"],
        "sequence_number": sent,
        "error": fields,
    }
    return b"event: error\ndata: " + orjson.dumps(failure) + b"\n\n"


async def relay(
    send: Send,
    stream: Events,
    headers: Headers,
    *,
    target: str,
    keep_text: bool,
    failure: ErrorEvent = error_event,
) -> StreamReport:
    """Send the 200 and every event of `stream` but the final `[DONE]` to the client; close the stream."""
    text: list[str] = []
    first_sent_at: float | None = None
    error: DataPlaneError | None = None
    tail = b""
    sent = 0
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})
    try:
        async with stream:
            async for event in stream:
                # What the upstream's last read brought beyond this event goes out in the same write.
                more = stream.ready()
                if more:
                    body = [item for item in (event, *more) if not ends_stream(item)]
                    tail = next((item for item in reversed((event, *more)) if ends_stream(item)), tail)
                    if not body:
                        continue
                elif ends_stream(event):
                    tail = event
                    continue
                else:
                    body = [event]
                if first_sent_at is None:
                    first_sent_at = time.perf_counter()
                if keep_text:
                    text.extend(_delta_text(item) for item in body)
                payload = body[0] if len(body) == 1 else b"".join(body)
                await send({"type": "http.response.body", "body": payload, "more_body": True})
                sent += len(body)
    except UpstreamError as exc:
        error = from_upstream(exc, target)
        await send({"type": "http.response.body", "body": failure(error, sent), "more_body": True})
    return StreamReport(
        status=error.status if error is not None else 200,
        error=error,
        tail=tail if error is None else b"",
        first_sent_at=first_sent_at,
        text="".join(text) if keep_text else None,
    )
