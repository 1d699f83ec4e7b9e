"""Control-plane views of the data plane: routing explain, request logs, usage summary.

- `POST /api/svc/v1/llm-gateway/explain` (admin PAT): `{subject, model, metadata, body?}` -> the
  router's explanation for a request from that subject (a known user's teams and `team:everyone`
  included), under `limits` the rate-limit and budget rules it would meet, with headroom
  (`body`: the request body to estimate its tokens and cost from), and under `guardrails` the
  guardrail rules that match and the guardrails that would run on its input and output.
- `GET /api/svc/v1/llm-gateway/logs?limit=&offset=&model=&subject=&status=&since=&until=&team=&rule=
  &metadata=KEY:VALUE&id=&blocked=&guardrail=`: the list envelope `{data, pagination}`, newest first
  (`blocked=true`: only requests a guardrail blocked; `guardrail=<group>/<integration>`: only requests
  it checked). Admins see every record, others their own only (a virtual account's token: the account's).
- `GET /api/svc/v1/llm-gateway/usage/summary?since=&until=&model=&subject=&group_by=&blocked=`: requests,
  tokens and cost in total, per model and per subject (default window: the last 24 hours); `group_by=team`
  or `metadata:KEY` adds `by_team` / `by_metadata` (`{key, data}`).
- `GET /api/svc/v1/llm-gateway/usage/series?since=&until=&bucket=SECONDS` (same filters): the same
  figures per time bucket, every bucket of the window listed (default: the last hour by minute).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import anyio
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.control_plane.explain_access import access_report, caller_for, subject_of
from tfy_gateway.gateway.control_plane.http import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    authenticate,
    int_param,
    json_response,
    query_text,
    read_object,
    require_admin,
    text_param,
)
from tfy_gateway.gateway.control_plane.limit_usage import limits_for
from tfy_gateway.gateway.data_plane.runtime import DataPlane, data_plane_of
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.guardrails.explain import explain as explain_guardrails
from tfy_gateway.gateway.identities import team_memberships
from tfy_gateway.gateway.request_logs import LogFilter, QueryError, parse_since
from tfy_gateway.gateway.routing import RouteRequest
from tfy_gateway.gateway.routing import explain as explain_route

T = TypeVar("T")

SVC = "/api/svc/v1/llm-gateway"
DEFAULT_SUMMARY_WINDOW = "24h"


MAX_BUCKETS = 2000
MAX_BUCKET_S = 366 * 86_400


def log_filter(
    params: QueryParams, principal: Principal, *, default_since: str | None = None, now: float | None = None
) -> LogFilter:
    """The filter a request's query parameters describe, narrowed to the caller's own records unless
    it is an admin (403 when a non-admin names another subject); 400 for a value not understood."""
    subject = query_text(params, "subject")
    if not principal.is_admin:
        if subject is not None and subject != principal.subject:
            raise ApiError(
                403,
                f"{principal.subject} may only read its own request logs; only tenant admins can read "
                f"those of {subject}.",
            )
        subject = principal.subject
    try:
        since_raw = query_text(params, "since") or default_since
        since = parse_since(since_raw, now=now) if since_raw else None
        until_raw = query_text(params, "until")
        until = parse_since(until_raw, now=now, name="until") if until_raw else None
        return LogFilter(
            model=query_text(params, "model"),
            subject=subject,
            status=query_text(params, "status"),
            since=since,
            until=until,
            blocked=_flag(query_text(params, "blocked")),
            guardrail=query_text(params, "guardrail"),
            id=query_text(params, "id"),
            team=query_text(params, "team"),
            metadata=_metadata_pairs(
                [query_text(params, "metadata", value=v) or "" for v in params.getlist("metadata")]
            ),
            rule=query_text(params, "rule"),
            trace_id=query_text(params, "trace_id"),
        )
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None


def _flag(value: str | None) -> bool:
    if value is None or value.lower() in ("", "false", "0", "no"):
        return False
    if value.lower() in ("true", "1", "yes"):
        return True
    raise QueryError(f"blocked={value!r} is not understood: use true or false")


def _metadata_pairs(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        if not value:
            continue
        key, separator, wanted = value.partition(":")
        if not separator or not key:
            raise QueryError(f"metadata={value!r} is not understood: use KEY:VALUE, e.g. metadata=project_id:p1")
        pairs.append((key, wanted))
    return tuple(pairs)


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


async def read_logs(plane: DataPlane, function: Callable[[], T]) -> T:
    """`function` (a read of the log backend) in a worker thread, after writing what is queued (a
    reader sees its own requests); a filter value the query cannot use is a 400."""
    await plane.logs.flush()
    try:
        return await anyio.to_thread.run_sync(function)
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None


async def logs(request: Request) -> Response:
    plane = data_plane_of(request)
    principal = authenticate(request)
    where = log_filter(request.query_params, principal)
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT, cap=True)
    offset = int_param(request, "offset", 0)
    data, total = await read_logs(plane, lambda: plane.logs.backend.query(where, limit=limit, offset=offset))
    return json_response({"data": data, "pagination": {"total": total, "offset": offset, "limit": limit}})


async def summary(request: Request) -> Response:
    plane = data_plane_of(request)
    principal = authenticate(request)
    where = log_filter(request.query_params, principal, default_since=DEFAULT_SUMMARY_WINDOW)
    backend = plane.logs.backend
    result = await read_logs(plane, lambda: backend.summary(where))
    group_by = text_param(request, "group_by")
    if group_by == "team":
        result["by_team"] = await read_logs(plane, lambda: backend.breakdown(where, "team"))
    elif group_by:
        data = await read_logs(plane, lambda: backend.breakdown(where, group_by))
        result["by_metadata"] = {"key": group_by.partition(":")[2], "data": data}
    window = {"since": _iso(where.since), "until": _iso(where.until) or _iso(time.time())}
    return json_response({"window": window, **result})


async def series(request: Request) -> Response:
    plane = data_plane_of(request)
    principal = authenticate(request)
    now = time.time()
    where = log_filter(request.query_params, principal, default_since="1h", now=now)
    bucket = int_param(request, "bucket", 60, MAX_BUCKET_S)
    end = where.until if where.until is not None else now
    start = where.since if where.since is not None else end - 3600
    if bucket < 1 or (end - start) / bucket > MAX_BUCKETS:
        raise ApiError(400, f"bucket={bucket} gives more than {MAX_BUCKETS} buckets (or none); use a larger one.")
    points = await read_logs(plane, lambda: plane.logs.backend.series(where, start=start, end=end, bucket_s=bucket))
    return json_response({"window": {"since": _iso(start), "until": _iso(end)}, "bucket_s": bucket, "data": points})


async def explain(request: Request) -> Response:
    plane = data_plane_of(request)
    require_admin(request)
    body = await read_object(request)
    subject, model, metadata = body.get("subject"), body.get("model"), body.get("metadata") or {}
    subject = subject_of(subject) if isinstance(subject, str) else subject
    if not isinstance(subject, str) or ":" not in subject:
        raise ApiError(
            400,
            "'subject' is required: e.g. 'user:alice@example.com' (or just the email), 'team:backend' or "
            "'virtualaccount:ci'.",
        )
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required: the model id a request would name, e.g. 'openai-main/gpt-4o'.")
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ApiError(400, "'metadata' must be an object of string values, as x-tfy-metadata would carry.")
    subjects = await _subjects(plane, subject)
    routing = plane.config.current.routing
    explanation = explain_route(plane.router, routing, RouteRequest(model, subjects, metadata, {}))
    caller = caller_for(subject, subjects, plane.state.config.snapshot.users)
    access = access_report(plane.config.current.access, caller, explanation)
    limits = await limits_for(plane, _caller(subject, subjects), subjects, model, metadata, body.get("body"))
    guardrails = explain_guardrails(plane.config.current.guardrails, model, subjects, metadata)
    return json_response(
        {
            "subject": subject,
            "subjects": list(subjects),
            **explanation,
            "access": access,
            "limits": limits,
            "guardrails": guardrails,
        }
    )


routes = [
    Route(f"{SVC}/logs", logs, methods=["GET"]),
    Route(f"{SVC}/usage/summary", summary, methods=["GET"]),
    Route(f"{SVC}/usage/series", series, methods=["GET"]),
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
