"""Request plumbing shared by the control-plane routes: JSON in/out, who may call, pagination."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tfy_gateway.gateway.auth import Principal, single_authorization
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.json_depth import depth_message, too_deep
from tfy_gateway.gateway.snapshot import Resource
from tfy_gateway.gateway.state import get_state

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


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
    if declared is not None and declared.isdigit() and int(declared) > limit:
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


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer query parameter (`default` when absent), capped at `maximum`; else 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter {name}={raw!r} is not an integer.") from None
    if value < 0:
        raise ApiError(400, f"Query parameter {name} must be >= 0, got {value}.")
    return min(value, maximum) if maximum is not None else value


def paginated(request: Request, items: Sequence[T]) -> dict[str, Any]:
    """The platform's list envelope `{data, pagination: {total, offset, limit}}`."""
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = int_param(request, "offset", 0)
    return {
        "data": list(items[offset : offset + limit]),
        "pagination": {"total": len(items), "offset": offset, "limit": limit},
    }
