"""Raw ASGI plumbing for the hot path: read a capped body, send JSON, notice a client going away.

Plain `receive`/`send` calls instead of Starlette's Request/Response objects: fewer allocations per
request, and control over when the first byte goes out (which decides whether a retry is allowed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

from tfy_gateway.gateway.data_plane.failures import DataPlaneError
from tfy_gateway.gateway.errors import RequestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
T = TypeVar("T")

JSON_TYPE = (b"content-type", b"application/json")
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientGone(RequestError):
    """The client closed the connection before the response was complete."""


def too_large(limit: int) -> DataPlaneError:
    return DataPlaneError(
        413,
        f"The request body is larger than the gateway's limit of {limit // (1024 * 1024)} MB; "
        "send a smaller request (fewer or shorter messages, or fewer inputs per call).",
        type="invalid_request_error",
    )


async def read_body(receive: Receive, limit: int, content_length: str | None) -> bytes:
    """The whole request body, or 413 as soon as it is known to exceed `limit` bytes."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise too_large(limit)
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise too_large(limit)
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_bytes(send: Send, status: int, body: bytes, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def encode_headers(pairs: list[tuple[str, str]]) -> Headers:
    return [(name.encode("latin-1"), value.encode("latin-1", "replace")) for name, value in pairs]


WATCH_AFTER_S = 0.05
"""How long a request runs before a task starts watching for its client going away. Most answers
through the gateway take less (a cached or small completion, the local fake providers), and then a
timer is all a request costs: no task, no extra turns of the event loop. A client that leaves earlier
is noticed when the watcher starts, so an abandoned upstream call runs at most about this much longer
(`disconnects.DisconnectWatch` starts it between this and 1.5 times this)."""
