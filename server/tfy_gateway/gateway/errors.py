"""The gateway's errors: one root, five branches, and the platform's error envelope.

Every error the gateway raises on purpose derives from `GatewayError`; each branch says who is at
fault and where the error is answered:

    GatewayError                              root (errors.py)
    ├── ApiError                              answered to a client as the platform's envelope, with `status`
    │   ├── DataPlaneError                    data_plane/failures.py: + OpenAI's `param`, the provider, Retry-After
    │   │   └── LimitExceeded                 data_plane/limiting.py: 429 of a refused request
    │   ├── GuardrailBlocked                  guardrails/blocked.py: 400 guardrail_checks_failed
    │   ├── StateUnavailable                  limits/failover.py: 503, Redis away and fail-closed
    │   ├── LogsUnavailable                   request_logs/backend.py: 503, the log database away
    │   └── ChangedElsewhere                  config/writer.py: 409, other replicas kept committing first
    ├── RequestError                          the request or its caller; answered as a 4xx ApiError
    │   ├── QueryError (ValueError)           request_logs/query.py: a log filter value
    │   ├── AlertQueryError (ValueError)      alerts/query.py: an alert filter value
    │   ├── Refused                           limits/limiter.py: a limit refused it (-> LimitExceeded)
    │   ├── AmountTooLarge                    limits/bounds.py: a worst case no counter can hold (-> 400)
    │   ├── InputFileError (ValueError)       batches/jsonl.py: a batch input file's bad lines (-> 400)
    │   └── ClientGone                        data_plane/asgi.py: the client left (499 in the logs)
    ├── RemoteError                           a service the gateway calls failed or did not answer in time
    │   ├── UpstreamError                     providers/base.py: a provider call (-> failures.from_upstream)
    │   │   ├── UpstreamConnectionError       502; UpstreamStreamCut (502) below it
    │   │   ├── UpstreamTimeout               504, or 408 when the client's own deadline expired
    │   │   ├── InvalidRequest                400; OutputTokensInvalid (providers/output_tokens.py) below it
    │   │   └── UnsupportedEndpoint           400
    │   ├── TransportError                    providers/transport.py: below HTTP (-> UpstreamError)
    │   │   └── TransportConnectError, TransportTimeout, ResponseTooLarge
    │   ├── DeliveryError                     alerts/notifiers.py: one alert delivery attempt
    │   └── GuardrailUnavailable              guardrails/integration.py: a guardrail service gave no answer
    ├── StateError                            shared state or a store: unreachable, conflicting, held, unreadable
    │   ├── StateStoreDown                    shared/redis.py: Redis (-> the fail-open/closed policy)
    │   ├── StoreError, StoreConflict         store/base.py: the config store
    │   ├── DataDirBusy (RuntimeError)        dir_lock.py: another process holds the data dir (DataDirServed)
    │   ├── StateFileError                    limits/state_file.py: limits.sqlite3 cannot be used (one line: what to do)
    │   ├── SchemaError (RuntimeError)        alerts/schema.py: an outbox written by a newer gateway
    │   ├── AlertsFileError (RuntimeError)    alerts/schema.py: alerts.db is not a readable alert database
    │   └── AlertsUnavailable                 alerts/database.py: the shared alert database is away
    └── ConfigError                           configuration the gateway cannot use; the message says what to fix
        ├── SettingsError (ValueError)        settings.py
        ├── CompileError                      config/compiled.py: a snapshot that does not compile
        ├── ProviderConfigError (ValueError)  providers/targets.py
        ├── SecretError (ValueError)          providers/secrets.py
        ├── ChannelError                      alerts/channels.py
        └── AlertError (ValueError)           alerts/alert.py

Errors that were `ValueError`s (or a `RuntimeError`) still are, so callers catching those keep
working. Only an `ApiError` reaches a client as such: the others are turned into one (or logged)
where the request is answered. Observers (request log, metrics, response headers) read what they
report from the root's attributes (`applied`, `headroom`), never from a concrete class, so a new
kind of error needs no change in them. references/api-endpoints.md describes the branches for users.

Every 4xx/5xx body looks like the real gateway's:
`{"status": "failure", "message": m, "error": {"message": m, "type": T, "code": "<status>"},
"error_origin_level": level}`. The `tfy` CLI prints `message`, so it must say what is wrong and what
to do about it. On the data plane `error` is OpenAI's whole Error object instead: `code` names what
happened (the provider's own code when it gave one) and `param` the field at fault
(data_plane/failures.py).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from tfy_gateway.gateway.applied import AppliedRule, Headroom

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


class GatewayError(Exception):
    """The root of every error the gateway raises on purpose (the tree is in the module docstring).

    What observers report comes from here, for every kind of error alike (empty unless a subclass
    sets it): `applied`, the configured rules whose decision the error is (e.g. the rate-limit rule
    that refused the request), named in `x-tfy-applied-configurations` and the request log as a
    reservation's rules are; `headroom`, what those rules leave (`x-ratelimit-*` headers).
    """

    applied: tuple[AppliedRule, ...] = ()
    headroom: tuple[Headroom, ...] = ()


class RequestError(GatewayError):
    """The request or its caller is at fault: a value that cannot be used, a limit that refuses it,
    a client that went away. Answered as a 4xx `ApiError` where the request is handled."""


class RemoteError(GatewayError):
    """A service the gateway calls (a model provider, an alert channel) failed, answered with an
    error, or did not answer in time."""


class StateError(GatewayError):
    """Shared state or a store (Redis, the configuration store, the data dir, the alert outbox) is
    unreachable, holds a conflicting change, is held by another process, or cannot be read by this
    version."""


class ConfigError(GatewayError):
    """Configuration the gateway cannot use: a setting, a manifest that does not compile, a secret
    without a value, a notification channel. The message says what to fix, never a secret."""


class ApiError(GatewayError):
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
