"""Request plumbing shared by the control-plane routes: JSON in/out, who may call, pagination."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from tfy_gateway.gateway.auth import Principal, single_authorization
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.json_depth import depth_message, too_deep
from tfy_gateway.gateway.snapshot import Resource
from tfy_gateway.gateway.state import get_state

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # a larger page size is served as this many
MAX_OFFSET = 10**9
MAX_DIGITS = 12
MAX_TEXT = 256


def find_resource(
    resources: Iterable[Resource],
    ident: str,
    what: str,
    fqn: Callable[[Resource], str] | None = None,
) -> Resource:
    """The resource a path parameter names (its id, its name, or its fqn when it has one), else 404."""
    for resource in resources:
        if ident in (resource.id, resource.name) or (fqn is not None and ident == fqn(resource)):
            return resource
    accepted = "id, name or fqn" if fqn is not None else "id or name"
    raise ApiError(404, f"No {what} {ident!r} on this gateway (give its {accepted}).")


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def read_body(request: Request) -> bytes:
    """The raw request body, refusing bodies over the configured cap with 413 (no parsing: a large
    manifest is decoded off the event loop by the writer)."""
    limit = get_state(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(body: bytes) -> Any:
    """`body` as JSON, with the control plane's messages for an empty, malformed or too deep one."""
    if not body.strip():
        raise ApiError(400, "The request body is empty; send a JSON object.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}.") from exc
    if too_deep(body, value):
        raise ApiError(400, depth_message())
    return value


def decode_object(body: bytes) -> dict[str, Any]:
    value = decode_json(body)
    if not isinstance(value, dict):
        raise ApiError(400, f"The request body must be a JSON object, not {type(value).__name__}.")
    return value


async def read_json(request: Request) -> Any:
    """The request body as JSON, refusing bodies over the configured cap with 413."""
    return decode_json(await read_body(request))


async def read_object(request: Request) -> dict[str, Any]:
    return decode_object(await read_body(request))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is larger than {limit // (1024 * 1024)} MB; split the manifest.")


def authenticate(request: Request) -> Principal:
    """The caller, or 401."""
    authorization = single_authorization(request.headers.getlist("authorization"))
    return get_state(request).authenticator.require(authorization)


def require_user(request: Request) -> Principal:
    """A user (PAT) caller; virtual-account tokens are for the data plane only (403)."""
    principal = authenticate(request)
    if principal.kind != "user":
        raise ApiError(
            403,
            f"Virtual account {principal.name} cannot call the control plane; virtual-account tokens "
            "are for the data plane (/api/llm). Use a personal access token.",
        )
    return principal


def require_admin(request: Request) -> Principal:
    """A tenant admin; only admins change configuration (403 otherwise)."""
    principal = require_user(request)
    if not principal.is_admin:
        raise ApiError(
            403,
            f"User {principal.name} is not a tenant admin; only admins can change gateway "
            "configuration. Ask an admin, or add one with 'tfy-gateway users add EMAIL --admin'.",
        )
    return principal


def int_param(request: Request, name: str, default: int, maximum: int = MAX_OFFSET, *, cap: bool = False) -> int:
    """A whole-number query parameter in 0..`maximum` (`default` when absent or empty): ASCII digits
    only (not `²`, `inf`, `-1`, `1e3`), else 400 naming it. Above `maximum`: `maximum` when `cap`
    (a page size larger than allowed), else 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError(400, f"Query parameter {name}={_shown(raw)} must be a whole number from 0 to {maximum}.")
    value = int(raw) if len(raw) <= MAX_DIGITS else maximum + 1
    if value > maximum:
        if cap:
            return maximum
        raise ApiError(400, f"Query parameter {name} must be at most {maximum}, got {_shown(raw)}.")
    return value


def text_param(request: Request, name: str, *, max_chars: int = MAX_TEXT) -> str | None:
    """A text query parameter (None when absent or empty): at most `max_chars` printable characters,
    else 400 naming it (a filter value that long or with a control character matches nothing)."""
    return query_text(request.query_params, name, max_chars=max_chars)


def query_text(params: QueryParams, name: str, *, max_chars: int = MAX_TEXT, value: str | None = None) -> str | None:
    """`text_param` on parsed query parameters (`value`: one of a repeated parameter's values)."""
    raw = params.get(name) if value is None else value
    if raw is None or raw == "":
        return None
    if len(raw) > max_chars:
        raise ApiError(400, f"Query parameter {name} is {len(raw)} characters long; at most {max_chars} are allowed.")
    if not raw.isprintable():
        raise ApiError(400, f"Query parameter {name}={_shown(raw)} contains a control character.")
    return raw


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")


def paginated(request: Request, items: Sequence[T]) -> dict[str, Any]:
    """The platform's list envelope `{data, pagination: {total, offset, limit}}`."""
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT, cap=True)
    offset = int_param(request, "offset", 0)
    return {
        "data": list(items[offset : offset + limit]),
        "pagination": {"total": len(items), "offset": offset, "limit": limit},
    }
