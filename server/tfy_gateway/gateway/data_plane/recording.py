"""The observe stage: one request-log record (queued, never awaited), the metrics per request (the
gateway's own and the GenAI conventions'), and the end of its trace.

Never raises: a failure to account for a request is logged, it must not turn a served request into
an error. Tokens and cost come from the provider's usage whether the answer was streamed or not, so
both forms of the same request account identically.
"""

from __future__ import annotations

import logging
from typing import Any

from tfy_gateway.gateway.applied import budgets_of, rate_limit_of
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.data_plane.check_series import observe_checks
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.request_series import ClientKey, RequestSeries, SeriesLabels
from tfy_gateway.gateway.identities import EVERYONE_TEAM
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.observability.genai import error_type, operation, provider_name
from tfy_gateway.gateway.observability.genai_metrics import GenAISink
from tfy_gateway.gateway.observability.telemetry import Telemetry
from tfy_gateway.gateway.request_logs import LogWriter
from tfy_gateway.gateway.request_logs.record import json_text, stored_ms
from tfy_gateway.gateway.tallies import ShapeCache

logger = logging.getLogger(__name__)

UNKNOWN_MODEL = "-"  # the request never got as far as a model it may use
OTHER = "other"  # a name the applied configuration does not know (e.g. let through by a `*` rule)


def _model_label(request: RequestContext) -> str:
    """Metric labels take only names from the applied config, so requests cannot grow /metrics."""
    model = request.model
    if model is None or not request.model_allowed:
        return UNKNOWN_MODEL
    config = request.config
    return model if model in config.catalog.entries or config.routing.names(model) else OTHER


def _target_label(request: RequestContext, target: str) -> str:
    return target if target in request.config.catalog.entries else OTHER


def _limits(request: RequestContext) -> dict[str, Any]:
    """The limit rules that admitted the request or refused it, for the log record."""
    applied: dict[str, Any] = {}
    if rules := request.limits_applied:
        if (rate_limit := rate_limit_of(rules)) is not None:
            applied["rate_limit"] = rate_limit.rule_id
        if budgets := budgets_of(rules):
            applied["budgets"] = [rule.rule_id for rule in budgets]
    reservation = request.reservation
    if reservation is not None and reservation.would_block:
        applied["would_have_blocked"] = [
            {"kind": rule.kind, "config": rule.config_name, "rule_id": rule.rule_id} for rule in reservation.would_block
        ]
    return applied


def _limits_text(request: RequestContext, texts: ShapeCache) -> str:
    """`_limits` as its row's JSON, encoded once per set of rules (a request shape's limit plan
    applies the same ones to every request: 1.5-2.3 us a request to build and encode)."""
    rules = request.limits_applied
    reservation = request.reservation
    blocked = reservation.would_block if reservation is not None else ()
    if not rules and not blocked:
        return "{}"
    key = (rules, blocked)
    text: str | None = texts.get(request.config, key)
    if text is None:
        text = json_text(_limits(request), "{}")
        texts.put(key, text)
    return text


def _caller_texts(request: RequestContext, texts: CallerMemo[tuple[str, str, str]]) -> tuple[str, str, str]:
    """The row's metadata, rule_ids and teams columns, encoded once per caller, metadata and routing
    rule (`caller_memo`: the principal and the parsed metadata are found by identity)."""
    principal = request.principal
    metadata = request.options.metadata
    plan = request.plan
    rule_id = plan.rule_id if plan is not None else None
    encoded = texts.get(principal, metadata, rule_id)
    if encoded is None:
        encoded = (
            json_text(metadata if type(metadata) is dict else dict(metadata), "{}"),
            json_text([rule_id], "[]") if rule_id else "[]",
            json_text([team for team in principal.teams if team != EVERYONE_TEAM], "[]") if principal else "[]",
        )
        texts.put(principal, metadata, rule_id, encoded)
    return encoded


def record(
    request: RequestContext, metrics: GatewayMetrics, logs: LogWriter, telemetry: Telemetry | None = None
) -> None:
    elapsed: float | None = None
    try:
        elapsed = _record(request, metrics, logs)
    except Exception:
        # The trace is still finished: its spans go out and its pipeline stops counting it as active.
        logger.exception("accounting for request %s failed", request.id)
    if telemetry is None:
        return
    try:
        if request.trace is not None:
            if request.guardrails is not None and request.guardrails.checks:
                request.trace.guardrails(request.guardrails.checks)
            request.trace.finish(request)
        sink = telemetry.metrics_sink(request.config.telemetry)
        if sink is not None and elapsed is not None:
            _genai(request, sink, elapsed)
    except Exception:
        logger.exception("tracing request %s failed", request.id)


def _genai(request: RequestContext, sink: GenAISink, elapsed: float) -> None:
    """The GenAI conventions' measurements of one request, into `sink`."""
    operation_name = operation(request.endpoint.name)
    model = _model_label(request)
    status = request.status or 500
    sink.server_duration(elapsed, operation_name, model, error_type(status, request.error) if status >= 400 else None)
    if request.ttft_s is not None:
        sink.time_to_first_token(request.ttft_s, operation_name, model)
    catalog = request.config.catalog.entries
    for target, seconds, outcome in zip(request.targets_tried, request.attempt_s, _statuses(request), strict=False):
        entry = catalog.get(target)
        if seconds is None or entry is None:
            continue
        failed = str(outcome) if outcome >= 400 else None
        sink.client_duration(seconds, operation_name, provider_name(entry.provider), target, failed)
    usage, served = request.usage, request.served
    entry = catalog.get(served.target) if served is not None else None
    if usage is not None and entry is not None and served is not None:
        provider = provider_name(entry.provider)
        sink.token_usage(usage.prompt_tokens, operation_name, provider, served.target, "input")
        sink.token_usage(usage.completion_tokens, operation_name, provider, served.target, "output")


def _statuses(request: RequestContext) -> list[int]:
    """The status of each upstream call, in order (the last one's is the request's own when the router
    never returned, e.g. the client left mid-call)."""
    if request.result is not None:
        return [status for _, status in request.result.tries]
    return [request.status or 500] * len(request.targets_tried)


def _record(request: RequestContext, metrics: GatewayMetrics, logs: LogWriter) -> float:
    """Metrics and the log record; returns the request's duration."""
    elapsed = request.elapsed_s
    endpoint = request.endpoint.name
    status = request.status or 500
    served = request.served.target if request.served is not None else None
    usage = request.usage
    # A stream that failed midway, or an answer a guardrail withheld, still consumed tokens: priced too.
    cost = request.cost if status < 400 or request.response_started or request.answer_discarded else None

    error = request.error
    result = request.result
    # Every upstream call and its status (the last one's is the request's own when the router never
    # returned, e.g. the client left mid-call); the tries metric counts only the last of those then.
    calls = tuple(result.tries) if result is not None else tuple((target, status) for target in request.targets_tried)
    failed = status >= 400
    # The model as requested (and whether it may be used) stands for its label: the label follows from
    # them and the configuration, which the cache is kept for, and is worked out only for a new shape.
    shape = (
        endpoint,
        request.model,
        request.model_allowed,
        status,
        (error.origin if error else "gateway") if failed else None,
        error_type(status, error) if failed else "",
        served,
        not request.stream and not failed and result is not None,
        usage is not None,
        bool(cost),
        request.ttft_s is not None,
        calls,
        result is not None,
    )
    # A shape's series and its row's `tries` text (its calls and whether the router returned decide it).
    found: tuple[RequestSeries, str] | None = metrics.shapes.get(request.config, shape)
    if found is None:
        tries = calls if result is not None else calls[-1:]
        found = (_series(request, metrics, shape, calls), json_text(tries, "[]"))
        metrics.shapes.put(shape, found)
    series, tries_text = found
    series.observe(elapsed, request.provider_s, request.ttft_s, usage, cost, request.attempt_s)
    report = request.guardrails
    guardrails = "[]" if report is None else observe_checks(report.checks, metrics, metrics.checks, request.config)
    principal = request.principal
    retries, fallbacks = request.retries_and_fallbacks()
    metadata_text, rule_ids_text, teams_text = _caller_texts(request, logs.caller_texts)
    ttft_s = request.ttft_s
    # The stored row itself (`LogRecord.to_row`'s columns, in order): built once, here, without the
    # record object in between.
    logs.submit_row(
        (
            request.id,  # id
            request.created_at,  # created_at
            principal.subject if principal else None,  # subject
            principal.token_name if principal else None,  # token_name
            endpoint,  # endpoint
            request.model,  # requested_model
            served,  # resolved_model
            status,  # status
            error.message if error is not None else None,  # error
            error.origin if error is not None else None,  # error_origin
            stored_ms(elapsed * 1000),  # latency_ms
            stored_ms(ttft_s * 1000) if ttft_s is not None else None,  # ttft_ms
            stored_ms(request.provider_s * 1000) if result is not None else None,  # provider_ms
            usage.prompt_tokens if usage else 0,  # prompt_tokens
            usage.completion_tokens if usage else 0,  # completion_tokens
            usage.cached_tokens if usage else 0,  # cached_tokens
            cost,  # cost
            int(request.stream),  # stream
            metadata_text,  # metadata
            rule_ids_text,  # rule_ids
            retries,  # retries
            fallbacks,  # fallbacks
            tries_text,  # tries: (target, status) pairs, arrays in JSON
            request.body_logged,  # request_body
            request.response_logged,  # response_body
            int(request.usage_estimated),  # usage_estimated
            _limits_text(request, logs.texts),  # limits
            request.trace.trace_id if request.trace is not None else None,  # trace_id
            teams_text,  # teams
            guardrails,  # guardrails
        )
    )
    return elapsed


def _series(
    request: RequestContext, metrics: GatewayMetrics, shape: tuple[Any, ...], calls: tuple[tuple[str, int], ...]
) -> RequestSeries:
    """The series a request of `shape` writes, with the labels `_genai` gives them."""
    catalog = request.config.catalog.entries
    labelled = calls if request.result is not None else calls[-1:]
    operation_name = operation(request.endpoint.name)
    client: list[ClientKey | None] = []
    for target, outcome in calls:
        entry = catalog.get(target)
        failed = str(outcome) if outcome >= 400 else ""
        client.append(None if entry is None else (operation_name, provider_name(entry.provider), target, failed))
    served = request.served.target if request.served is not None else None
    entry = catalog.get(served) if served is not None else None
    tries = tuple((_target_label(request, target), status) for target, status in labelled)
    endpoint, _, _, status, origin, genai_error, _, overhead, usage, cost, ttft = shape[:11]
    model = _model_label(request)
    provider = provider_name(entry.provider) if entry else None
    labels = SeriesLabels(
        endpoint,
        model,
        status,
        origin,
        genai_error,
        served,
        overhead,
        usage,
        cost,
        ttft,
        tries,
        tuple(client),
        provider,
    )
    return RequestSeries(metrics, labels, operation_name)
