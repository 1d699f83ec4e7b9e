"""Data-plane errors in the platform's envelope, with OpenAI's error fields inside `error`.

`{"status": "failure", "message": m, "error": {"message": m, "type": t, "code": "<status>",
"param": p?}, "error_origin_level": level, "provider": p?}`: the OpenAI SDKs read `error.message`,
the `tfy` tooling reads `message`, and `error_origin_level` says who failed: `authentication`,
`authorization`, `request` (bad input), `api_error` (the provider answered with an error),
`gateway` (could not reach the provider in time, or a configuration problem).
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
        provider: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(status, message, type=type, origin=origin or _origin(status))
        self.param = param
        self.provider = provider
        # The provider's Retry-After, passed on when this error is the final answer.
        self.retry_after_s = retry_after_s


def _origin(status: int) -> str:
    if status == 401:
        return "authentication"
    if status == 403:
        return "authorization"
    return "request" if status < 500 else "gateway"


def bad_request(message: str, param: str | None = None, status: int = 400) -> DataPlaneError:
    return DataPlaneError(status, message, type=INVALID_REQUEST, param=param)


def error_payload(error: ApiError) -> dict[str, Any]:
    inner: dict[str, Any] = {"message": error.message, "type": error.type, "code": str(error.status)}
    body: dict[str, Any] = {
        "status": "failure",
        "message": error.message,
        "error": inner,
        "error_origin_level": error.origin,
    }
    if isinstance(error, DataPlaneError):
        if error.param is not None:
            inner["param"] = error.param
        if error.provider is not None:
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
            param=getattr(exc, "param", None),  # the request field a translator could not send
        )
    return DataPlaneError(
        exc.status,
        f"{provider} returned HTTP {exc.status} for model {model}: {exc.message}",
        type=exc.error_type or "APIError",
        origin="api_error",
        provider=provider,
        retry_after_s=exc.retry_after,
    )
