"""The platform's error envelope, shared by the control plane and the data plane.

Every 4xx/5xx body looks like the real gateway's:
`{"status": "failure", "message": m, "error": {"message": m, "type": T, "code": "<status>"},
"error_origin_level": level}`. The `tfy` CLI prints `message`, so it must say what is wrong and what
to do about it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

logger = logging.getLogger(__name__)

_DEFAULT_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "AuthorizationError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    408: "TimeoutError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    422: "ValidationError",
    429: "RateLimitError",
}

_DEFAULT_LEVELS = {401: "authentication", 403: "authorization"}


class ApiError(Exception):
    """Raised anywhere in a request; rendered as the platform's envelope with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        origin: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _DEFAULT_TYPES.get(status, "Error")
        self.origin = origin or _DEFAULT_LEVELS.get(status, "control_plane" if status < 500 else "internal")
        self.extra = extra or {}


def error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "failure",
        "message": error.message,
        "error": {"message": error.message, "type": error.type, "code": str(error.status)},
        "error_origin_level": error.origin,
    }
    body.update(error.extra)
    return body


def error_response(error: ApiError) -> Response:
    return Response(orjson.dumps(error_body(error)), status_code=error.status, media_type="application/json")


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 get the envelope too, with a message that names the path."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"No route for {request.method} {request.url.path} on this gateway."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    response = error_response(ApiError(exc.status_code, message))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: the envelope with no internals (the traceback goes to the server log, not the client)."""
    return error_response(
        ApiError(500, f"Internal error while handling {request.method} {request.url.path}; see the gateway log.")
    )


async def handle_client_gone(request: Request, exc: Exception) -> Response:
    """The client left while its body was arriving: one log line, no traceback (nothing was changed;
    the answer reaches nobody)."""
    logger.info(
        "%s %s: the client went away before its request body arrived; nothing was done",
        request.method,
        request.url.path,
    )
    return error_response(ApiError(400, "The client disconnected before the request body arrived."))


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    ClientDisconnect: handle_client_gone,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
