"""Data-plane errors in the platform's envelope, with OpenAI's error fields inside `error`.

`{"status": "failure", "message": m, "error": {"message": m, "type": t, "code": c, "param": p},
"error_origin_level": level, "provider": p?}`: the OpenAI SDKs read `error.message`, `error.code` and
`error.param` (OpenAI's `Error` schema requires all four fields; `param` is null when no field is
at fault), the `tfy` tooling reads `message`, and `error_origin_level` says who failed:
`authentication`, `authorization`, `request` (bad input), `api_error` (the provider answered with an
error), `gateway` (could not reach the provider in time, or a configuration problem).

`code` is the provider's own (`context_length_exceeded`, `invalid_api_key`...) when it answered with
one, else the gateway's own code for what happened (`CODES` by status, or the raiser's: e.g.
`model_not_found`, `unsupported_parameter`, `missing_required_parameter`), never the bare status.

A provider that refuses the gateway's own credentials (401/403) is a 502 here, not the client's
401/403: the client's token was fine, the provider account's key is not (its `code` stays the
provider's, e.g. `invalid_api_key`, and `x-should-retry: false` tells SDKs not to retry it).
"""

from __future__ import annotations

from typing import Any

import orjson

from tfy_gateway.gateway.data_plane.deadlines import GATEWAY_ONLY, Deadlines
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.providers import (
    InvalidRequest,
    UnsupportedEndpoint,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamStreamCut,
    UpstreamTimeout,
)

INVALID_REQUEST = "invalid_request_error"
UPSTREAM_CREDENTIALS = frozenset({401, 403})

CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "request_too_large",
    422: "invalid_value",
    429: "rate_limit_exceeded",
    499: "client_closed_request",
    500: "internal_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}
"""The gateway's own `error.code` for an error that names none, by HTTP status."""


class DataPlaneError(ApiError):
    """An error the data plane answers with; `param` names the offending request field."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        origin: str | None = None,
        param: str | None = None,
        code: str | None = None,
        provider: str | None = None,
        retry_after_s: float | None = None,
        retry: bool = True,
    ) -> None:
        super().__init__(status, message, type=type, origin=origin or _origin(status))
        self.param = param
        self.code = code
        self.provider = provider
        # False when asking again cannot help (sent as `x-should-retry: false`, which OpenAI's SDKs obey).
        self.retry = retry
        # The provider's Retry-After, passed on when this error is the final answer.
        self.retry_after_s = retry_after_s


def _origin(status: int) -> str:
    if status == 401:
        return "authentication"
    if status == 403:
        return "authorization"
    return "request" if status < 500 else "gateway"


def bad_request(
    message: str, param: str | None = None, status: int = 400, *, code: str | None = None
) -> DataPlaneError:
    """A 400 (or 422) naming the offending field; code `invalid_value` when a field is named."""
    if code is None and param is not None:
        code = "invalid_value" if status == 400 else "invalid_type"
    return DataPlaneError(status, message, type=INVALID_REQUEST, param=param, code=code)


def error_fields(error: ApiError) -> dict[str, Any]:
    """OpenAI's `Error` object for `error`: message, type, code and param, all four always present."""
    code, param = getattr(error, "code", None), None  # an ApiError of another layer may name its code
    if isinstance(error, DataPlaneError):
        code, param = error.code, error.param
    return {
        "message": error.message,
        "type": error.type,
        "code": code or CODES.get(error.status, "error"),
        "param": param,
    }


def error_payload(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "failure",
        "message": error.message,
        "error": error_fields(error),
        "error_origin_level": error.origin,
    }
    if isinstance(error, DataPlaneError) and error.provider is not None:
        body["provider"] = error.provider
    body.update(error.extra)
    return body


def error_json(error: ApiError) -> bytes:
    return orjson.dumps(error_payload(error))


def from_upstream(exc: UpstreamError, model: str, deadlines: Deadlines = GATEWAY_ONLY) -> DataPlaneError:
    """Map an adapter failure to what the client gets.

    The provider's own HTTP errors keep their status (as the platform does) with origin `api_error`;
    connection failures are 502 and timeouts 504, or 408 when the limit that expired was the
    request's own (`x-tfy-request-timeout` / `x-tfy-ttft-timeout-ms`, see `deadlines`); both with
    origin `gateway`.
    """
    provider = exc.provider
    if isinstance(exc, UpstreamTimeout):
        return DataPlaneError(
            deadlines.status(exc.phase),
            f"Request to model {model} timed out: {exc.message}",
            type="timeout_error",
            origin="gateway",
            provider=provider,
        )
    if isinstance(exc, UpstreamStreamCut):
        return DataPlaneError(
            exc.status,
            f"The answer of model {model} was cut short: {exc.message}",
            type="APIError",
            origin="api_error",
            provider=provider,
        )
    if isinstance(exc, UpstreamConnectionError):
        return DataPlaneError(
            exc.status,
            f"Could not reach the provider of model {model}: {exc.message}",
            type="api_connection_error",
            origin="gateway",
            provider=provider,
        )
    if isinstance(exc, (InvalidRequest, UnsupportedEndpoint)):
        return DataPlaneError(
            exc.status,
            f"Model {model}: {exc.message}",
            type=INVALID_REQUEST,
            origin="request",
            provider=provider,
            code=exc.code or ("unsupported_endpoint" if isinstance(exc, UnsupportedEndpoint) else None),
            param=exc.param,
        )
    if exc.status in UPSTREAM_CREDENTIALS and type(exc) is UpstreamError:
        return DataPlaneError(
            502,
            f"{provider} refused the gateway's credentials for model {model} (HTTP {exc.status}: {exc.message}). "
            "Your token is fine; the provider account's API key or permissions are not: fix the account's "
            "secret (see references/providers.md).",
            type=exc.error_type or "APIError",
            origin="api_error",
            provider=provider,
            code=exc.code or ("invalid_api_key" if exc.status == 401 else "permission_denied"),
            param=exc.param,
            retry=False,
        )
    return DataPlaneError(
        exc.status,
        f"{provider} returned HTTP {exc.status} for model {model}: {exc.message}",
        type=exc.error_type or "APIError",
        origin="api_error",
        provider=provider,
        retry_after_s=exc.retry_after,
        code=exc.code,
        param=exc.param,
    )
