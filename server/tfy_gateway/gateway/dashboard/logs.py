"""The logs pages: request logs filtered like the logs API (the same query parameters, the same
parser, so every filtered page links to its JSON twin), and one request's detail: how it was routed,
which limits and budgets it was charged to, its trace id and guardrail results when the record has
them, and its bodies only when body logging was on for it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.control_plane.logs import SVC, log_filter, read_logs
from tfy_gateway.gateway.dashboard.render import Page
from tfy_gateway.gateway.data_plane.runtime import data_plane_of
from tfy_gateway.gateway.errors import ApiError

PAGE_SIZE = 50
FILTERS = ("status", "model", "subject", "team", "metadata", "rule", "trace_id", "since", "until")


async def logs_page(request: Request, viewer: Principal) -> Page:
    plane = data_plane_of(request)
    params = request.query_params
    where = log_filter(params, viewer)
    page = _page_number(params)
    offset = (page - 1) * PAGE_SIZE
    records, total = await read_logs(plane, lambda: plane.logs.backend.query(where, limit=PAGE_SIZE, offset=offset))
    kept = [(name, value) for name, value in params.multi_items() if name in FILTERS and value]
    return Page(
        "logs.html.j2",
        {
            "records": records,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": {name: params.get(name, "") for name in FILTERS},
            "query": urlencode(kept),
            "api_url": f"{SVC}/logs?" + urlencode([*kept, ("limit", str(PAGE_SIZE)), ("offset", str(offset))]),
        },
    )


async def log_detail(request: Request, viewer: Principal) -> Page:
    plane = data_plane_of(request)
    request_id = request.path_params["id"]
    # The same scoping as the list: a record of another user is as absent as one that never was.
    where = log_filter(QueryParams({"id": request_id}), viewer)
    records, _ = await read_logs(plane, lambda: plane.logs.backend.query(where, limit=1, offset=0))
    if not records:
        raise ApiError(404, f"No request log {request_id!r} that you can see.")
    record = records[0]
    return Page(
        "log.html.j2", {"record": record, "routing": _routing(record), "api_url": f"{SVC}/logs?id={request_id}"}
    )


def _page_number(params: QueryParams) -> int:
    raw = params.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


def _routing(record: dict[str, Any]) -> dict[str, Any]:
    """The routing decision as the record tells it: rule, where it went, every attempt."""
    tries = [{"target": item[0], "status": item[1]} for item in record.get("tries") or [] if len(item) == 2]
    return {
        "rules": record.get("rule_ids") or [],
        "requested": record.get("requested_model"),
        "served_by": record.get("resolved_model"),
        "tries": tries,
        "retries": record.get("retries", 0),
        "fallbacks": record.get("fallbacks", 0),
    }
