"""`GET /api/svc/v1/llm-gateway/alerts`: budget alerts with their per-target delivery status.

Tenant admins only (an alert names users and their spend). Reads the outbox's database (`alerts.db`,
or the PostgreSQL database replicas share) in a worker thread, newest first, in the list envelope
`{data, pagination}`; filters `status` (pending, delivered, failed, recorded), `config` and
`rule_id`. What the outbox accepted appears as soon as its worker stored it (milliseconds after the
submit).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.alerts import AlertFilter, AlertQueryError
from tfy_gateway.gateway.control_plane.http import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    int_param,
    json_response,
    require_admin,
    text_param,
)
from tfy_gateway.gateway.data_plane.runtime import data_plane_of
from tfy_gateway.gateway.errors import ApiError

PATH = "/api/svc/v1/llm-gateway/alerts"


async def list_alerts(request: Request) -> Response:
    require_admin(request)
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT, cap=True)
    offset = int_param(request, "offset", 0)
    try:
        where = AlertFilter(
            status=text_param(request, "status"),
            config=text_param(request, "config"),
            rule_id=text_param(request, "rule_id"),
        )
    except AlertQueryError as exc:
        raise ApiError(400, f"{exc}.") from None
    data, total = await data_plane_of(request).alerts.list(where, limit=limit, offset=offset)
    return json_response({"data": data, "pagination": {"total": total, "offset": offset, "limit": limit}})


routes = [Route(PATH, list_alerts, methods=["GET"])]
