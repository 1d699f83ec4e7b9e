"""Response helpers: JSON bodies, SSE framing and each provider's real error format."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

import orjson
from aiohttp import web

Flavor = Literal["openai", "anthropic", "azure", "bedrock", "gemini", "vertex"]

_JSON = "application/json"
DONE = b"data: [DONE]\n\n"

# OpenAI error `type`/`code` by status, as the real API sends them.
_OPENAI_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout_error", None),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}
_ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}

# Bedrock exceptions by status (sent as `x-amzn-ErrorType`, the body is `{"message": ...}`).
BEDROCK_EXCEPTIONS: dict[int, str] = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def bedrock_exception(status: int) -> str:
    return BEDROCK_EXCEPTIONS.get(status, "InternalServerException" if status >= 500 else "ValidationException")


# Google's canonical status per HTTP status, and the ErrorInfo reason the fake adds to some of them.
_GOOGLE_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_GOOGLE_REASON: dict[int, str] = {401: "CREDENTIALS_MISSING", 429: "RATE_LIMIT_EXCEEDED"}


def google_error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """Google's error object (Gemini API and Vertex AI), with an ErrorInfo detail when there is a reason."""
    canonical = _GOOGLE_STATUS.get(status, "FAILED_PRECONDITION" if status < 500 else "INTERNAL")
    error: dict[str, Any] = {"code": status, "message": message, "status": canonical}
    reason = reason or _GOOGLE_REASON.get(status)
    if reason:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}
        ]
    return {"error": error}


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type=_JSON, headers=headers)


def error_body(
    flavor: Flavor, status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The provider's own error body; `code`/`param` replace OpenAI's defaults for the status."""
    if flavor == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if flavor == "azure":
        return {"error": {"code": str(status), "message": message}}
    if flavor in ("gemini", "vertex"):
        return google_error_body(status, message)
    if flavor == "bedrock":
        return {"message": message}
    kind, default_code = _OPENAI_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}}


def error_response(
    flavor: Flavor,
    status: int,
    message: str,
    retry_after: float | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
) -> web.Response:
    headers: dict[str, str] = {}
    if retry_after is not None:
        seconds = f"{retry_after:g}"
        headers = {"retry-after": seconds, "retry-after-ms": str(int(retry_after * 1000))}
    if flavor == "bedrock":
        headers["x-amzn-ErrorType"] = (
            bedrock_exception(status) + ":http://internal.amazon.com/coral/com.amazon.bedrock/"
        )
    body = error_body(flavor, status, message, code=code, param=param)
    return json_response(body, status=status, headers=headers or None)


def sse_data(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_event(name: str, obj: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


async def start_sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200, headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    await response.prepare(request)
    return response


class Pacer:
    """Sleeps until absolute deadlines so total stream time matches ttft + n * tpot (no drift)."""

    def __init__(self, ttft_ms: float, tpot_ms: float) -> None:
        self._start = time.monotonic()
        self._ttft = ttft_ms / 1000
        self._tpot = tpot_ms / 1000

    async def before_token(self, index: int) -> None:
        """Wait for the deadline of output token `index` (0 = first token)."""
        if not self._ttft and not self._tpot:
            return
        delay = self._start + self._ttft + index * self._tpot - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def generation_delay(ttft_ms: float, tpot_ms: float, tokens: int) -> None:
    """A non-streaming reply takes as long as the equivalent stream would."""
    await Pacer(ttft_ms, tpot_ms).before_token(max(0, tokens - 1))


def abort(request: web.Request) -> None:
    """Drop the connection mid-response (simulates an upstream crash)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
