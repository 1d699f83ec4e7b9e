"""`Pipeline`: one data-plane request, stage by stage, and the only writer of its `RequestContext`.

    authenticate (401) -> read and parse the body (413, 400, 422) -> x-tfy-* headers (400)
    -> model access and routing plan (403) -> guardrails in (400) -> limits reserve (429)
    -> route and call (the router retries and falls back; a stream's first chunk is its success),
       alongside the input validation still running (a block discards the answer)
    -> guardrails out (400; a stream is held until they pass) -> respond, or relay the stream
    -> limits settle -> observe (request log, metrics, trace)

The request reads the compiled configuration once, when it arrives, and uses that version for
access, routing and upstream targets. Settle and observe run exactly once, whatever happened
(success, upstream error, client gone, cancellation); settle is shielded from cancellation. Observe
runs just before the last byte of the response goes out, so a client that reads its request logs
or usage right after an answer always finds that answer in them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

import orjson

from tfy_gateway.gateway.access import ModelAccess
from tfy_gateway.gateway.accounting.estimate import usage_of_cut_stream
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config import CatalogEntry
from tfy_gateway.gateway.data_plane import multipart
from tfy_gateway.gateway.data_plane.asgi import (
    JSON_TYPE,
    ClientGone,
    Receive,
    Scope,
    Send,
    read_body,
    send_bytes,
)
from tfy_gateway.gateway.data_plane.context import CLIENT_CLOSED, RequestContext
from tfy_gateway.gateway.data_plane.deadlines import deadlines, gateway_deadlines
from tfy_gateway.gateway.data_plane.default_model import default_model
from tfy_gateway.gateway.data_plane.endpoints import EndpointSpec, validate
from tfy_gateway.gateway.data_plane.failures import (
    INVALID_REQUEST,
    DataPlaneError,
    bad_request,
    error_json,
    from_upstream,
)
from tfy_gateway.gateway.data_plane.headers import authorization_in, parse_options, routing_headers, scope_headers
from tfy_gateway.gateway.data_plane.held_stream import HeldStream, hold
from tfy_gateway.gateway.data_plane.hooks import GuardrailSession
from tfy_gateway.gateway.data_plane.limiting import estimated_usage_of
from tfy_gateway.gateway.data_plane.recording import record
from tfy_gateway.gateway.data_plane.response_headers import response_headers
from tfy_gateway.gateway.data_plane.runtime import DataPlane
from tfy_gateway.gateway.data_plane.streaming import error_event, relay, response_error_event
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.json_depth import depth_message, too_deep
from tfy_gateway.gateway.providers import (
    CallOptions,
    UpstreamError,
    UpstreamResponse,
    UpstreamStream,
    Usage,
    call,
)
from tfy_gateway.gateway.routing import Attempt, Outcome, RoutePlan, RouteRequest

logger = logging.getLogger(__name__)

MAX_LOGGED_BODY_CHARS = 64 * 1024


class Pipeline:
    """Runs one request; lives for that request only."""

    __slots__ = ("_answer", "_caller", "_guard", "_observed", "ctx", "plane", "receive", "scope", "send")

    def __init__(
        self,
        plane: DataPlane,
        endpoint: EndpointSpec,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        principal: Principal | None = None,
    ) -> None:
        """`principal`: who the request runs as when the gateway makes it itself (a batch's line, as the
        batch's owner); None authenticates the request's Authorization header."""
        self.plane = plane
        self._caller = principal
        self.scope = scope
        self.receive = receive
        self.send = send
        self.ctx = RequestContext(endpoint=endpoint, config=plane.config.current)
        # The upstream answer the router settled on (kept here: the stream owns live I/O).
        self._answer: UpstreamResponse | UpstreamStream | None = None
        self._guard: GuardrailSession | None = None
        self._observed = False

    async def run(self) -> None:
        ctx = self.ctx
        metrics = self.plane.metrics
        metrics.in_flight.inc()
        try:
            await self._admit()
            await self.plane.disconnects.run(self.receive, self._route_and_respond(), self._is_complete)
        except ApiError as exc:
            await self._fail(exc)
        except ClientGone:
            self._client_gone("the client closed the connection")
        except asyncio.CancelledError:
            self._client_gone("the request was cancelled")
            raise
        except Exception:
            logger.exception("data-plane request %s failed unexpectedly", ctx.id)
            await self._fail(DataPlaneError(500, f"Internal gateway error (request id {ctx.id}).", origin="gateway"))
        finally:
            metrics.in_flight.dec()
            if self._guard is not None:
                self._guard.close()
            self._observe()
            await self._settle()

    # --- admission: who, what, may they, within limits -------------------------------------------

    async def _admit(self) -> None:
        ctx, plane = self.ctx, self.plane
        raw_headers = self.scope["headers"]
        headers = scope_headers(raw_headers)
        ctx.trace = plane.telemetry.begin(
            ctx.config.telemetry, headers, ctx.endpoint.name, self.scope["path"], ctx.created_at
        )
        principal = self._caller or ctx.config.identities.require(authorization_in(headers, raw_headers))
        ctx.principal = principal
        limit = plane.settings.max_body_bytes
        if ctx.endpoint.multipart:
            spec = ctx.endpoint
            ctx.body = await multipart.read_form(
                self.scope, self.receive, limit, headers, path=spec.path, uploads=spec.uploads
            )
        else:
            ctx.raw = await read_body(self.receive, limit, headers.get("content-length"))
            ctx.body = _parse_object(ctx.raw)
        if ctx.endpoint.name == "moderations" and ctx.body.get("model") is None:
            ctx.body["model"] = default_model(ctx.config.access, principal, "moderation", "moderations")
        validate(ctx.endpoint, ctx.body)
        ctx.model = model = ctx.body["model"]
        ctx.options = options = parse_options(headers)
        routing = ctx.config.routing
        # A model no rule can route needs no description of the request (subjects, metadata, headers).
        plan = plane.router.unrouted(routing, model)
        if plan is None:
            request = RouteRequest(model, principal.subjects, options.metadata, routing_headers(headers))
            plan = plane.router.plan(routing, request)
        if plan.rule_id is None and ctx.config.catalog.get(model) is None:
            raise model_not_found(model)
        ctx.plan = authorized_plan(plan, ctx.config.access, principal)
        ctx.model_allowed = True
        ctx.stream = ctx.endpoint.streams and ctx.body.get("stream") is True
        if self._log_bodies and ctx.raw:
            ctx.body_logged = _clip(ctx.raw.decode("utf-8", "replace"))
        guard = self._guard = plane.guardrails.start(ctx)
        if guard is not None:
            ctx.guardrails = guard.report
            rewritten = await guard.check_input(ctx.body)
            if rewritten is not None:
                ctx.body = rewritten  # what the provider receives (and the log shows)
                if ctx.body_logged is not None:
                    ctx.body_logged = _clip(orjson.dumps(rewritten).decode())
        trace = ctx.trace
        ctx.reservation = await (
            plane.limits.reserve(ctx) if trace is None else trace.reserve(plane.limits.reserve, ctx)
        )

    @property
    def _log_bodies(self) -> bool:
        return self.ctx.options.log_bodies or self.plane.settings.log_bodies

    # --- route and call, then respond ----------------------------------------------------------

    async def _route_and_respond(self) -> None:
        ctx, plane, guard = self.ctx, self.plane, self._guard
        assert ctx.plan is not None
        execute = plane.router.execute(ctx.plan, self._try, retry_override=ctx.options.retry_override)
        if guard is None:
            ctx.result = result = await execute
        else:
            try:
                ctx.result = result = await guard.alongside(execute)
            except ApiError:
                await self._discard()
                raise
        if result.outcome.status < 400:
            ctx.served = result.served_by
        answer = self._answer
        if isinstance(answer, UpstreamStream):
            await self._relay(await self._held(answer, guard) if guard is not None and guard.checks_output else answer)
            return
        if isinstance(result.outcome.payload, ApiError):
            raise result.outcome.payload
        if not isinstance(answer, UpstreamResponse):
            raise DataPlaneError(502, f"Model {ctx.model}: no usable answer from the provider.", origin="gateway")
        self._account(answer.usage, complete=True, content_chunks=0)
        if guard is not None and guard.checks_output and answer.body is not None:
            try:
                rewritten = await guard.check_output(ctx.body, answer.body)
            except ApiError:
                ctx.answer_discarded = True
                raise
            # The guardrails read the parsed answer (and may have rewritten it): encode what they passed.
            answer = replace(answer, body=answer.body if rewritten is None else rewritten, raw=None)
        await self._respond(answer)

    async def _discard(self) -> None:
        """Input validation blocked after the provider answered: close the answer, count what it used."""
        answer = self._answer
        if isinstance(answer, UpstreamStream):
            await answer.aclose()
            self._account(answer.usage, complete=False, content_chunks=answer.content_chunks)
        elif isinstance(answer, UpstreamResponse):
            self._account(answer.usage, complete=True, content_chunks=0)
        else:
            return
        self.ctx.answer_discarded = True

    async def _held(self, stream: UpstreamStream, guard: GuardrailSession) -> HeldStream:
        """The whole stream, once the output guardrails passed it (held_stream.py)."""
        ctx = self.ctx
        assert ctx.served is not None
        try:
            return await hold(stream, guard, ctx.body, ctx.served.target)
        except ApiError as exc:
            self._account(stream.usage, complete=stream.completed, content_chunks=stream.content_chunks)
            ctx.answer_discarded = exc.origin.startswith("guardrails")
            raise

    async def _try(self, attempt: Attempt) -> Outcome:
        """One upstream call (the router's `call`); a failure comes back as an Outcome carrying the error."""
        ctx, plane = self.ctx, self.plane
        model = attempt.target
        ctx.targets_tried.append(model)
        entry = ctx.config.catalog.get(model)
        if entry is None or entry.target is None:
            ctx.attempt_s.append(None)
            return Outcome(500, payload=_not_callable(model, entry), local=True)
        body = ctx.body if not attempt.override_params else {**ctx.body, **attempt.override_params}
        override = None
        if attempt.headers_set or attempt.headers_remove:
            override = {"set": dict(attempt.headers_set), "remove": list(attempt.headers_remove)}
        options = ctx.options
        limits = deadlines(
            options.timeout_s,
            options.ttft_timeout_s if ctx.stream else None,
            gateway_deadlines(plane.settings.upstream_timeout_s),
        )
        traced = ctx.trace.attempt(attempt, entry, ctx) if ctx.trace is not None else None
        call_options = CallOptions(
            headers_override=override, timeouts=limits.timeouts, trace_headers=traced.headers if traced else None
        )
        started = time.perf_counter()
        try:
            answer = await call(plane.transport, entry.target, ctx.endpoint.name, body, call_options)
        except UpstreamError as exc:
            self._spent(started)
            if exc.reached:
                ctx.reached_provider = True
                ctx.unanswered = ctx.unanswered or not exc.answered
            error = from_upstream(exc, model, limits)
            if traced is not None:
                traced.failed(error.status, error)
            return Outcome(error.status, retry_after_s=exc.retry_after, payload=error)
        except BaseException:  # cancelled mid-call (the client left): the provider may be at work
            ctx.reached_provider = ctx.unanswered = True
            raise
        ctx.reached_provider = True
        self._spent(started)
        if traced is not None:
            traced.answered(answer)
        ctx.entry = entry
        self._answer = answer
        if isinstance(answer, UpstreamStream):
            # The first chunk is buffered: the stream has succeeded; its timings are reported when it ends.
            return Outcome(200, payload=answer)
        latency_ms = answer.latency * 1000
        tokens = answer.usage.completion_tokens
        return Outcome(
            answer.status, ttft_ms=latency_ms, tpot_ms=latency_ms / tokens if tokens else None, payload=answer
        )

    async def _relay(self, stream: UpstreamStream | HeldStream) -> None:
        ctx, plane = self.ctx, self.plane
        assert ctx.served is not None
        ctx.status = 200
        ctx.response_started = True
        headers = response_headers(ctx, content_type=None, timing=False)
        relayed_from = time.perf_counter()
        try:
            traced_text = ctx.trace is not None and ctx.trace.records_request_data
            keep_text = self._log_bodies or traced_text
            failure = response_error_event if ctx.endpoint.name == "responses" else error_event
            report = await relay(
                self.send, stream, headers, target=ctx.served.target, keep_text=keep_text, failure=failure
            )
        finally:
            spent = time.perf_counter() - relayed_from
            ctx.provider_s += spent
            ctx.attempt_s[-1] = (ctx.attempt_s[-1] or 0.0) + spent  # the stream's call lasted until it ended
            self._account(stream.usage, complete=stream.completed, content_chunks=stream.content_chunks)
        if report.first_sent_at is not None:
            ctx.ttft_s = report.first_sent_at - ctx.started
        ctx.response_logged = report.text if self._log_bodies else None
        if traced_text and ctx.trace is not None:
            ctx.trace.streamed_output(report.text)
        if report.error is not None:
            ctx.status, ctx.error = report.status, report.error
        ctx.completed = True
        plane.router.record(ctx.served, _stream_outcome(report.status, stream))
        self._observe()
        await self.send({"type": "http.response.body", "body": report.tail, "more_body": False})

    async def _respond(self, response: UpstreamResponse) -> None:
        ctx = self.ctx
        if response.body is not None:
            # A provider's answer passed through as it came (encoding its parse again gives the same value).
            payload = response.raw if response.raw is not None else orjson.dumps(response.body)
            content_type = "application/json"
        else:
            payload = response.content or b""
            content_type = response.content_type
        if self._log_bodies and response.body is not None:
            ctx.response_logged = _clip(payload.decode("utf-8", "replace"))
        ctx.status = 200
        headers = response_headers(ctx, content_type=content_type, timing=True)
        headers.append((b"content-length", str(len(payload)).encode()))
        ctx.response_started = ctx.completed = True
        self._observe()
        await send_bytes(self.send, 200, payload, headers)

    # --- endings --------------------------------------------------------------------------------

    def _is_complete(self) -> bool:
        return self.ctx.completed

    def _client_gone(self, message: str) -> None:
        ctx = self.ctx
        ctx.status = CLIENT_CLOSED
        ctx.error = DataPlaneError(CLIENT_CLOSED, message, origin="client")
        stream = self._answer
        if isinstance(stream, UpstreamStream) and ctx.usage is None:
            self._account(stream.usage, complete=stream.completed, content_chunks=stream.content_chunks)

    async def _fail(self, error: ApiError) -> None:
        ctx = self.ctx
        ctx.status = error.status
        ctx.error = error
        if ctx.response_started:
            return
        headers = [JSON_TYPE]
        if ctx.plan is not None:
            headers += response_headers(ctx, content_type=None, timing=False)
        else:
            headers.append((b"x-tfy-request-id", ctx.id.encode()))
        if isinstance(error, DataPlaneError) and error.retry_after_s is not None:
            headers.append((b"retry-after", str(max(1, math.ceil(error.retry_after_s))).encode()))
        if isinstance(error, DataPlaneError) and not error.retry:
            headers.append((b"x-should-retry", b"false"))
        payload = error_json(error)
        headers.append((b"content-length", str(len(payload)).encode()))
        ctx.response_started = ctx.completed = True
        self._observe()
        await send_bytes(self.send, error.status, payload, headers)

    def _account(self, reported: Usage | None, *, complete: bool, content_chunks: int) -> None:
        """What the request consumed, for every kind of answer: the provider's usage when it gave it
        for a complete answer, else an estimate of what was sent (marked as one)."""
        ctx = self.ctx
        if complete and reported is not None:
            ctx.usage, ctx.usage_estimated = reported, False
        else:
            ctx.usage, ctx.usage_estimated = usage_of_cut_stream(ctx.body, reported, content_chunks), True
        ctx.cost = ctx.entry.pricing.cost(ctx.usage) if ctx.entry is not None else None

    def _spent(self, started: float) -> None:
        """One upstream call ended (a stream: its first chunk came): its time, for metrics and the log."""
        spent = time.perf_counter() - started
        self.ctx.provider_s += spent
        self.ctx.attempt_s.append(spent)

    def _observe(self) -> None:
        """The request log record, metrics and the trace, once per request."""
        if not self._observed:
            self._observed = True
            self._unknown_usage()
            record(self.ctx, self.plane.metrics, self.plane.logs, self.plane.telemetry)

    def _unknown_usage(self) -> None:
        """A request that may have reached a provider and got no answer telling its usage (a timeout,
        a broken connection, a client that left) is charged its reservation's estimate: logged as
        estimated usage, settled without a correction. Releasing it instead let clients that time out
        bypass rate limits and budgets while the provider did the work."""
        ctx = self.ctx
        if ctx.usage is None and ctx.unanswered:
            ctx.held_estimate = ctx.usage_estimated = True
            ctx.usage = estimated_usage_of(ctx)

    async def _settle(self) -> None:
        """Hand the reservation back with what the request really used, even if it is being cancelled."""
        reservation = self.ctx.reservation
        if reservation is None:
            return
        try:
            pending = self.plane.limits.settle(reservation, self.ctx)
            if pending is not None:
                await _to_completion(pending)
        except Exception:
            logger.exception("settling the limits of request %s failed", self.ctx.id)


async def _to_completion(work: Awaitable[None]) -> None:
    """Await `work` to its end even if this task is cancelled meanwhile, then re-raise the cancellation."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


def _stream_outcome(status: int, stream: UpstreamStream | HeldStream) -> Outcome:
    """How the stream went, for health and latency-based routing."""
    ttft_ms = stream.ttft * 1000 if stream.ttft is not None else None
    tpot_ms = None
    tokens = stream.usage.completion_tokens if stream.usage else 0
    if stream.duration is not None and stream.ttft is not None and tokens > 1:
        tpot_ms = (stream.duration - stream.ttft) * 1000 / (tokens - 1)
    return Outcome(status, ttft_ms=ttft_ms, tpot_ms=tpot_ms)


def _parse_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise bad_request("The request body is empty; send a JSON object with at least 'model'.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON ({exc}); send a JSON object.") from None
    if not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object, not a JSON {type(body).__name__}.")
    if too_deep(raw, body):
        raise bad_request(depth_message())
    return body


def authorized_plan(plan: RoutePlan, access: ModelAccess, principal: Principal) -> RoutePlan:
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


def model_not_found(model: str) -> DataPlaneError:
    """No model, virtual model or routing rule has this name: OpenAI's 404 `model_not_found`. (A
    model that exists but the caller may not use stays the platform's 403.)"""
    return DataPlaneError(
        404,
        f"The model `{model}` does not exist: no provider account integration, virtual model or routing "
        "rule has this name. GET /api/llm/models lists the models this token may use.",
        type=INVALID_REQUEST,
        origin="request",
        param="model",
        code="model_not_found",
    )


def _not_callable(model: str, entry: CatalogEntry | None) -> DataPlaneError:
    if entry is None:
        message = (
            f"Model {model} has no upstream to call: it is not an integration of a provider account "
            "(a virtual model needs a routing rule or targets)."
        )
    else:
        message = f"Model {model} cannot be called: {entry.problem}."
    return DataPlaneError(  # asking again cannot help until the configuration changes
        500,
        message,
        type="configuration_error",
        origin="gateway",
        provider=entry.provider if entry else None,
        code="configuration_error",
        retry=False,
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LOGGED_BODY_CHARS else text[:MAX_LOGGED_BODY_CHARS] + "…[truncated]"
