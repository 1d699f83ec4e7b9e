"""Control-plane views of the data plane: routing explain, request logs, usage summary.

- `POST /api/svc/v1/llm-gateway/explain` (admin PAT): `{subject, model, metadata, body?}` -> the
  router's explanation for a request from that subject (a known user's teams and `team:everyone`
  included), under `limits` the rate-limit and budget rules it would meet, with headroom
  (`body`: the request body to estimate its tokens and cost from), and under `guardrails` the
  guardrail rules that match and the guardrails that would run on its input and output.
- `GET /api/svc/v1/llm-gateway/logs?limit=&offset=&model=&subject=&status=&since=&until=&blocked=
  &guardrail=`: the list envelope `{data, pagination}`, newest first (`blocked=true`: only requests a
  guardrail blocked; `guardrail=<group>/<integration>`: only requests it checked). Admins see every
  record, others their own only.
- `GET /api/svc/v1/llm-gateway/usage/summary?since=&until=&model=&subject=&blocked=`: requests, tokens
  and cost in total, per model and per subject (default window: the last 24 hours).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.control_plane.http import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    authenticate,
    int_param,
    json_response,
    read_object,
    require_admin,
)
from tfy_gateway.gateway.control_plane.limit_usage import limits_for
from tfy_gateway.gateway.data_plane.runtime import DataPlane, data_plane_of
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.guardrails.explain import explain as explain_guardrails
from tfy_gateway.gateway.identities import team_memberships
from tfy_gateway.gateway.request_logs import LogFilter, QueryError, parse_since
from tfy_gateway.gateway.routing import RouteRequest
from tfy_gateway.gateway.routing import explain as explain_route

SVC = "/api/svc/v1/llm-gateway"
DEFAULT_SUMMARY_WINDOW = "24h"


def _filter(request: Request, principal: Principal, *, default_since: str | None = None) -> LogFilter:
    params = request.query_params
    subject = params.get("subject") or None
    if not principal.is_admin:
        if subject is not None and subject != principal.subject:
            raise ApiError(
                403,
                f"{principal.subject} may only read its own request logs; only tenant admins can read "
                f"those of {subject}.",
            )
        subject = principal.subject
    try:
        since_raw = params.get("since") or default_since
        since = parse_since(since_raw) if since_raw else None
        until = parse_since(params["until"]) if params.get("until") else None
        return LogFilter(
            model=params.get("model") or None,
            subject=subject,
            status=params.get("status") or None,
            since=since,
            until=until,
            blocked=_flag(params.get("blocked")),
            guardrail=params.get("guardrail") or None,
            trace_id=params.get("trace_id") or None,
        )
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None


def _flag(value: str | None) -> bool:
    if value is None or value.lower() in ("", "false", "0", "no"):
        return False
    if value.lower() in ("true", "1", "yes"):
        return True
    raise QueryError(f"blocked={value!r} is not understood: use true or false")


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


async def _read(plane: DataPlane, function: Any, *args: Any) -> Any:
    await plane.logs.flush()  # read your own writes
    return await anyio.to_thread.run_sync(function, *args)


async def logs(request: Request) -> Response:
    plane = data_plane_of(request)
    principal = authenticate(request)
    where = _filter(request, principal)
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = int_param(request, "offset", 0, 10**9)
    data, total = await _read(plane, lambda: plane.logs.backend.query(where, limit=limit, offset=offset))
    return json_response({"data": data, "pagination": {"total": total, "offset": offset, "limit": limit}})


async def summary(request: Request) -> Response:
    plane = data_plane_of(request)
    principal = authenticate(request)
    where = _filter(request, principal, default_since=DEFAULT_SUMMARY_WINDOW)
    result = await _read(plane, plane.logs.backend.summary, where)
    window = {"since": _iso(where.since), "until": _iso(where.until) or _iso(time.time())}
    return json_response({"window": window, **result})


async def explain(request: Request) -> Response:
    plane = data_plane_of(request)
    require_admin(request)
    body = await read_object(request)
    subject, model, metadata = body.get("subject"), body.get("model"), body.get("metadata") or {}
    if not isinstance(subject, str) or ":" not in subject:
        raise ApiError(
            400, "'subject' is required: e.g. 'user:alice@example.com', 'team:backend' or 'virtualaccount:ci'."
        )
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required: the model id a request would name, e.g. 'openai-main/gpt-4o'.")
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ApiError(400, "'metadata' must be an object of string values, as x-tfy-metadata would carry.")
    subjects = await _subjects(plane, subject)
    routing = plane.config.current.routing
    explanation = explain_route(plane.router, routing, RouteRequest(model, subjects, metadata, {}))
    limits = await limits_for(plane, _caller(subject, subjects), subjects, model, metadata, body.get("body"))
    guardrails = explain_guardrails(plane.config.current.guardrails, model, subjects, metadata)
    return json_response(
        {"subject": subject, "subjects": list(subjects), **explanation, "limits": limits, "guardrails": guardrails}
    )


routes = [
    Route(f"{SVC}/logs", logs, methods=["GET"]),
    Route(f"{SVC}/usage/summary", summary, methods=["GET"]),
    Route(f"{SVC}/explain", explain, methods=["POST"]),
]


def _caller(subject: str, subjects: tuple[str, ...]) -> str:
    """The caller's own subject (a team named as the subject stands for an anonymous member)."""
    return subjects[0] if subjects else subject


async def _subjects(plane: DataPlane, subject: str) -> tuple[str, ...]:
    """The subjects a request from `subject` carries: a known user's teams and team:everyone too."""
    kind, _, name = subject.partition(":")
    if kind != "user":
        return (subject,)
    state = plane.state
    email = name.lower()
    if email not in state.config.snapshot.users:
        return (subject,)
    teams = [t for t in team_memberships(state.config.snapshot.manifests()).get(email, ()) if t != "everyone"]
    return (f"user:{email}", *(f"team:{t}" for t in teams), "team:everyone")
