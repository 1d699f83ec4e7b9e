"""The observe stage: one request-log record (queued, never awaited), the metrics per request (the
gateway's own and the GenAI conventions'), and the end of its trace.

Never raises: a failure to account for a request is logged, it must not turn a served request into
an error. Tokens and cost come from the provider's usage whether the answer was streamed or not, so
both forms of the same request account identically.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tfy_gateway.gateway.applied import budgets_of, rate_limit_of
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.data_plane.check_series import observe_checks
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.request_series import RequestSeries, SeriesLabels
from tfy_gateway.gateway.identities import EVERYONE_TEAM
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.observability.genai import error_type, operation, provider_name
from tfy_gateway.gateway.observability.genai_metrics import GenAILabels
from tfy_gateway.gateway.observability.telemetry import Telemetry
from tfy_gateway.gateway.request_logs import LogWriter
from tfy_gateway.gateway.request_logs.record import json_text, stored_ms
from tfy_gateway.gateway.tallies import ShapeCache

if TYPE_CHECKING:  # imported only when a configuration exports metrics
    from tfy_gateway.gateway.observability.otlp_metrics import OtlpMetrics

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
    otlp = None
    if telemetry is not None:
        try:  # where the GenAI metrics go over OTLP, if anywhere (the request's series record into it)
            otlp = telemetry.metrics_sink(request.config.telemetry)
        except Exception:
            logger.exception("exporting the metrics of request %s failed", request.id)
    try:
        _record(request, metrics, logs, otlp)
    except Exception:
        # The trace is still finished: its spans go out and its pipeline stops counting it as active.
        logger.exception("accounting for request %s failed", request.id)
    if telemetry is None or request.trace is None:
        return
    try:
        if request.guardrails is not None and request.guardrails.checks:
            request.trace.guardrails(request.guardrails.checks)
        request.trace.finish(request)
    except Exception:
        logger.exception("tracing request %s failed", request.id)


def _record(request: RequestContext, metrics: GatewayMetrics, logs: LogWriter, otlp: OtlpMetrics | None) -> None:
    """Metrics (also into `otlp` when the GenAI metrics are exported) and the log record."""
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
    series.observe(elapsed, request.provider_s, request.ttft_s, usage, cost, request.attempt_s, otlp)
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


def _series(
    request: RequestContext, metrics: GatewayMetrics, shape: tuple[Any, ...], calls: tuple[tuple[str, int], ...]
) -> RequestSeries:
    """The series a request of `shape` writes, with their labels."""
    catalog = request.config.catalog.entries
    labelled = calls if request.result is not None else calls[-1:]
    clients: list[tuple[str, str, str] | None] = []
    for target, outcome in calls:
        entry = catalog.get(target)
        failed = str(outcome) if outcome >= 400 else ""
        clients.append(None if entry is None else (provider_name(entry.provider), target, failed))
    served = request.served.target if request.served is not None else None
    entry = catalog.get(served) if served is not None else None
    tries = tuple((_target_label(request, target), status) for target, status in labelled)
    endpoint, _, _, status, origin, genai_error, _, overhead, usage, cost, ttft = shape[:11]
    model = _model_label(request)
    tokens = (provider_name(entry.provider), served) if usage and entry and served is not None else None
    genai = GenAILabels(operation(endpoint), model, genai_error, ttft, tuple(clients), tokens)
    labels = SeriesLabels(endpoint, model, status, origin, served, overhead, usage, cost, ttft, tries, genai)
    return RequestSeries(metrics, labels)
