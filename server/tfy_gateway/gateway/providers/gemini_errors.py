"""Google API error bodies (Gemini API and Vertex AI) as UpstreamErrors: status and message kept.

Google answers `{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED", "details":
[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", ...}]}}`,
Vertex's streaming methods the same object inside a one-element list. The error's `type` is the
canonical `status` (INVALID_ARGUMENT, UNAUTHENTICATED, ...), its `code` the ErrorInfo `reason` when
there is one (API_KEY_INVALID: the SDK's `e.code`), else the status; a `BadRequest` field violation
names the `param`. Anything else (Anthropic's body from Vertex rawPredict, plain text) is read by the
generic `error_from_body`. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tfy_gateway.gateway.providers.base import (
    UpstreamError,
    UpstreamTarget,
    credential_values,
    error_from_body,
    parse_retry_after,
    redact,
)

# The canonical code's HTTP status, for an error met inside a stream (where the HTTP status was 200).
STATUS_OF = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "DATA_LOSS": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def google_error_object(parsed: Any) -> dict[str, Any] | None:
    """The `error` object of a Google error body (or of the first element of a list of them)."""
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        return None
    error = parsed.get("error")
    if isinstance(error, dict) and ("status" in error or isinstance(error.get("code"), int)):
        return error
    return None


def _details(error: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(ErrorInfo reason, first field violation's field) from `details`."""
    reason = field = None
    for detail in error.get("details") or ():
        if not isinstance(detail, dict):
            continue
        if reason is None and isinstance(detail.get("reason"), str):
            reason = detail["reason"]
        for violation in detail.get("fieldViolations") or ():
            if field is None and isinstance(violation, dict) and isinstance(violation.get("field"), str):
                field = violation["field"]
    return reason, field


def from_google_error(
    target: UpstreamTarget, error: Mapping[str, Any], status: int | None, headers: Mapping[str, str]
) -> UpstreamError:
    """One Google `error` object as an UpstreamError; `status` None: take it from the error itself."""
    canonical = str(error.get("status") or "") or None
    if status is None:
        code = error.get("code")
        status = code if isinstance(code, int) and 400 <= code <= 599 else STATUS_OF.get(canonical or "", 502)
    message = redact(str(error.get("message") or f"upstream answered HTTP {status}"), credential_values(target))
    reason, field = _details(error)
    return UpstreamError(
        status,
        message,
        target.provider,
        parse_retry_after(headers),
        error_type=canonical,
        code=reason or canonical,
        param=field,
    )


def gemini_error(target: UpstreamTarget, status: int, headers: Mapping[str, str], raw: bytes) -> UpstreamError:
    """An error answer of a Gemini or Vertex endpoint (an `ErrorReader`)."""
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        parsed = None
    error = google_error_object(parsed)
    if error is None:
        return error_from_body(target, status, headers, raw)
    return from_google_error(target, error, status, headers)
