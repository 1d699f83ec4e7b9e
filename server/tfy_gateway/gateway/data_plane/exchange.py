"""`Exchange`: one data-plane request from auth to the log record.

Order: authenticate (401) -> read and parse the body (413, 400, 422) -> x-tfy-* headers (400) ->
model access (403) -> routing plan -> `Router.execute` with `attempt` as the one-upstream-try
closure -> respond -> record (request log + metrics, always, even for failures).

`attempt` is the whole upstream exchange for one target. A stream is committed inside it: headers
and chunks go to the client there, so the router learns `committed=True` and never retries after
the first byte.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import replace
from typing import Any

import orjson

from tfy_gateway.gateway.access import ModelAccess
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.data_plane import multipart
from tfy_gateway.gateway.data_plane.asgi import (
    JSON_TYPE,
    ClientGone,
    Receive,
    Scope,
    Send,
    read_body,
    send_bytes,
    unless_disconnected,
)
from tfy_gateway.gateway.data_plane.catalog import CatalogEntry
from tfy_gateway.gateway.data_plane.endpoints import EndpointSpec, validate
from tfy_gateway.gateway.data_plane.failures import DataPlaneError, bad_request, error_json, from_upstream
from tfy_gateway.gateway.data_plane.headers import (
    NO_OPTIONS,
    RequestOptions,
    parse_options,
    routing_headers,
    scope_headers,
)
from tfy_gateway.gateway.data_plane.options import MAX_LOGGED_BODY_CHARS
from tfy_gateway.gateway.data_plane.recording import record
from tfy_gateway.gateway.data_plane.response_headers import response_headers
from tfy_gateway.gateway.data_plane.runtime import DataPlane
from tfy_gateway.gateway.data_plane.streaming import pump
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.providers import CallOptions, UpstreamError, UpstreamResponse, UpstreamStream, Usage, call
from tfy_gateway.gateway.routing import Attempt, Outcome, PlanResult, RoutePlan, RouteRequest

logger = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's convention for "the client went away"


class Exchange:
    """The state of one request; lives for the request only."""

    __slots__ = (
        "body",
        "body_logged",
        "committed",
        "completed",
        "created_at",
        "entry",
        "error",
        "id",
        "model",
        "model_allowed",
        "options",
        "plan",
        "plane",
        "principal",
        "provider_s",
        "raw",
        "receive",
        "response_logged",
        "result",
        "scope",
        "send",
        "served",
        "spec",
        "started",
        "status",
        "stream",
        "targets_tried",
        "ttft_s",
        "usage",
    )

    def __init__(self, plane: DataPlane, spec: EndpointSpec, scope: Scope, receive: Receive, send: Send) -> None:
        self.plane = plane
        self.spec = spec
        self.scope = scope
        self.receive = receive
        self.send = send
        self.started = time.perf_counter()
        self.created_at = time.time()
        self.id = os.urandom(12).hex()
        self.principal: Principal | None = None
        self.options: RequestOptions = NO_OPTIONS
        self.body: dict[str, Any] = {}
        self.raw = b""
        self.model: str | None = None
        self.model_allowed = False
        self.stream = False
        self.plan: RoutePlan | None = None
        self.result: PlanResult | None = None
        self.served: Attempt | None = None
        self.entry: CatalogEntry | None = None
        self.usage: Usage | None = None
        self.status = 0
        self.error: ApiError | None = None
        self.provider_s = 0.0
        self.ttft_s: float | None = None
        self.committed = False
        self.completed = False
        self.targets_tried: list[str] = []
        self.body_logged: str | None = None
        self.response_logged: str | None = None

    async def run(self) -> None:
        metrics = self.plane.metrics
        metrics.in_flight.inc()
        try:
            await self._serve()
        except ApiError as exc:
            await self._fail(exc)
        except ClientGone:
            self.status = CLIENT_CLOSED
            self.error = DataPlaneError(CLIENT_CLOSED, "the client closed the connection", origin="client")
        except asyncio.CancelledError:
            self.status = CLIENT_CLOSED
            self.error = DataPlaneError(CLIENT_CLOSED, "the request was cancelled", origin="client")
            raise
        except Exception:
            logger.exception("data-plane request %s failed unexpectedly", self.id)
            await self._fail(DataPlaneError(500, f"Internal gateway error (request id {self.id}).", origin="gateway"))
        finally:
            metrics.in_flight.dec()
            record(self)

    # --- the request ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        plane = self.plane
        headers = scope_headers(self.scope["headers"])
        self.principal = plane.state.authenticator.require(headers.get("authorization"))
        if self.spec.multipart:
            self.body = await multipart.read_form(self.scope, self.receive, plane.options.max_body_bytes, headers)
        else:
            self.raw = await read_body(self.receive, plane.options.max_body_bytes, headers.get("content-length"))
            self.body = _parse_object(self.raw)
        validate(self.spec, self.body)
        self.model = model = self.body["model"]
        self.options = parse_options(headers)
        request = RouteRequest(model, self.principal.subjects, self.options.metadata, routing_headers(headers))
        self.plan = plan = _authorized(plane.router.plan(request), plane.state.snapshot.current.access, self.principal)
        self.model_allowed = True
        self.stream = self.spec.streams and self.body.get("stream") is True
        if self.options.log_bodies or plane.options.log_bodies:
            self.body_logged = _clip(self.raw.decode("utf-8", "replace")) if self.raw else None
        execution = plane.router.execute(plan, self.attempt, retry_override=self.options.retry_override)
        self.result = result = await unless_disconnected(self.receive, execution, self._is_complete)
        outcome = result.outcome
        if outcome.committed:
            return
        if isinstance(outcome.payload, ApiError):
            raise outcome.payload
        if not isinstance(outcome.payload, UpstreamResponse):
            raise DataPlaneError(502, f"Model {model}: no usable answer from the provider.", origin="gateway")
        await self._respond(outcome.payload)

    def _is_complete(self) -> bool:
        return self.completed

    async def _respond(self, response: UpstreamResponse) -> None:
        if response.body is not None:
            payload = orjson.dumps(response.body)
            content_type = "application/json"
        else:
            payload = response.content or b""
            content_type = response.content_type
        if self.response_logged is None and (self.options.log_bodies or self.plane.options.log_bodies):
            self.response_logged = _clip(payload.decode("utf-8", "replace")) if response.body is not None else None
        self.status = 200
        headers = response_headers(self, content_type=content_type, timing=True)
        headers.append((b"content-length", str(len(payload)).encode()))
        self.completed = True
        await send_bytes(self.send, 200, payload, headers)

    async def _fail(self, error: ApiError) -> None:
        self.status = error.status
        self.error = error
        if self.committed:
            return
        headers = [JSON_TYPE]
        if self.plan is not None:
            headers += response_headers(self, content_type=None, timing=False)
        else:
            headers.append((b"x-tfy-request-id", self.id.encode()))
        payload = error_json(error)
        headers.append((b"content-length", str(len(payload)).encode()))
        self.completed = True
        await send_bytes(self.send, error.status, payload, headers)

    # --- one upstream try (the router's `call`) ---------------------------------------------------

    async def attempt(self, attempt: Attempt) -> Outcome:
        """Call `attempt.target` once; failures come back as an Outcome whose payload is the error."""
        model = attempt.target
        self.targets_tried.append(model)
        entry = self.plane.catalog.get(model)
        if entry is None or entry.target is None:
            return Outcome(500, payload=_not_callable(model, entry))
        body = self.body if not attempt.override_params else {**self.body, **attempt.override_params}
        override = None
        if attempt.headers_set or attempt.headers_remove:
            override = {"set": dict(attempt.headers_set), "remove": list(attempt.headers_remove)}
        options = self.options
        started = time.perf_counter()
        try:
            result = await call(
                self.plane.transport,
                entry.target,
                self.spec.name,
                body,
                CallOptions(
                    headers_override=override,
                    timeout=options.timeout_s or self.plane.options.upstream_timeout_s,
                    ttft_timeout=options.ttft_timeout_s if self.stream else None,
                ),
            )
        except UpstreamError as exc:
            self.provider_s += time.perf_counter() - started
            error = from_upstream(exc, model, request_timeout=options.timeout_s is not None)
            return Outcome(error.status, retry_after_s=exc.retry_after, payload=error)
        if isinstance(result, UpstreamStream):
            self.served, self.entry = attempt, entry
            return await pump(self, result, started)
        self.provider_s += time.perf_counter() - started
        self.served, self.entry, self.usage = attempt, entry, result.usage
        latency_ms = result.latency * 1000
        tokens = result.usage.completion_tokens
        return Outcome(
            result.status,
            ttft_ms=latency_ms,
            tpot_ms=latency_ms / tokens if tokens else None,
            payload=result,
        )


def _parse_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise bad_request("The request body is empty; send a JSON object with at least 'model'.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON ({exc}); send a JSON object.") from None
    if not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object, not a JSON {type(body).__name__}.")
    return body


def _authorized(plan: RoutePlan, access: ModelAccess, principal: Principal) -> RoutePlan:
    """The plan restricted to what the caller may use, or a 403.

    A model or virtual model is checked as requested. A gateway routing rule may match a name that is
    no model at all (an alias such as `openai/gpt-4o`): then the caller needs access to the rule's
    targets, and targets it may not use are dropped, so an alias never widens a token's reach.
    """
    if plan.rule_id is None or plan.virtual_model:
        if not access.allows(principal, plan.requested_model):
            raise _forbidden(principal, plan.requested_model)
        return plan
    usable = tuple(attempt for attempt in plan.attempts if access.allows(principal, attempt.target))
    if not usable:
        raise _forbidden(principal, plan.requested_model)
    return plan if len(usable) == len(plan.attempts) else replace(plan, attempts=usable)


def _forbidden(principal: Principal, model: str) -> DataPlaneError:
    who = "User" if principal.kind == "user" else "Virtual account"
    return DataPlaneError(
        403,
        f"{who} {principal.name} is not authorized to access model {model} or model does not exist. "
        "GET /api/llm/models lists the models this token may use.",
        type="AuthorizationError",
        origin="authorization",
    )


def _not_callable(model: str, entry: CatalogEntry | None) -> DataPlaneError:
    if entry is None:
        message = (
            f"Model {model} has no upstream to call: it is not an integration of a provider account "
            "(a virtual model needs a routing rule or targets)."
        )
    else:
        message = f"Model {model} cannot be called: {entry.problem}."
    return DataPlaneError(
        500, message, type="configuration_error", origin="gateway", provider=entry.provider if entry else None
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LOGGED_BODY_CHARS else text[:MAX_LOGGED_BODY_CHARS] + "…[truncated]"
