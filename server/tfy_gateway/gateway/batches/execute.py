"""One batch line through the data plane's `Pipeline`, exactly as a live request would go, as the
batch's owner: routing, limits, budgets, guardrails, request log, metrics, cost.

The pipeline is driven as an ASGI app: the line's body is the request, the response is collected.
The request carries `x-tfy-metadata: {"batch_id": ...}`, so the request logs of a batch can be told
apart (and limit rules may match on it).
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.data_plane.endpoints import EndpointSpec
from tfy_gateway.gateway.data_plane.pipeline import Pipeline
from tfy_gateway.gateway.data_plane.runtime import DataPlane


@dataclass(frozen=True)
class LineAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def request_id(self) -> str:
        return self.headers.get("x-tfy-request-id", "")

    @property
    def retry_after_s(self) -> float | None:
        """The Retry-After of a refusal, when it says when to retry."""
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def json_body(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return self.body.decode("utf-8", "replace")


async def run_line(
    plane: DataPlane, endpoint: EndpointSpec, principal: Principal, body: dict[str, Any], batch_id: str
) -> LineAnswer:
    """Run `body` on `endpoint` as `principal` and return what a client would have received."""
    raw = orjson.dumps(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
        (b"x-tfy-metadata", orjson.dumps({"batch_id": batch_id})),
    ]
    scope: MutableMapping[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": f"/api/llm/v1/{endpoint.path}",
        "headers": headers,
        "query_string": b"",
        "path_params": {},
    }
    delivered = False
    never = asyncio.Event()  # no client to go away: the watcher waits until the request ends

    async def receive() -> MutableMapping[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await never.wait()
        return {"type": "http.disconnect"}

    status = 0
    answered: dict[str, str] = {}
    chunks: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            answered.update((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in message["headers"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await Pipeline(plane, endpoint, scope, receive, send, principal=principal).run()
    return LineAnswer(status, answered, b"".join(chunks))
