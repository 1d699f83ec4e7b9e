"""After every request: one request-log record (queued, never awaited) and the metrics.

Never raises: a failure to account for a request is logged, it must not turn a served request into
an error. Tokens and cost come from the provider's usage whether the answer was streamed or not, so
both forms of the same request account identically.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from tfy_gateway.gateway.data_plane.response_headers import retries_and_fallbacks
from tfy_gateway.gateway.request_logs import LogRecord

if TYPE_CHECKING:
    from tfy_gateway.gateway.data_plane.exchange import Exchange

logger = logging.getLogger(__name__)

UNKNOWN_MODEL = "-"


def record(exchange: Exchange) -> None:
    try:
        _record(exchange)
    except Exception:
        logger.exception("accounting for request %s failed", exchange.id)


def _record(exchange: Exchange) -> None:
    plane = exchange.plane
    metrics = plane.metrics
    elapsed = time.perf_counter() - exchange.started
    endpoint = exchange.spec.name
    status = exchange.status or 500
    model_label = exchange.model if exchange.model_allowed and exchange.model else UNKNOWN_MODEL
    served = exchange.served.target if exchange.served is not None else None
    usage = exchange.usage
    cost = None
    # A stream that failed midway (committed) still consumed tokens: it is priced too.
    if usage is not None and exchange.entry is not None and (status < 400 or exchange.committed):
        cost = exchange.entry.pricing.cost(usage)

    metrics.requests.labels(endpoint, model_label, str(status)).inc()
    metrics.latency.labels(endpoint, model_label).observe(elapsed)
    error = exchange.error
    if status >= 400:
        metrics.errors.labels(endpoint, model_label, error.origin if error else "gateway").inc()
    if exchange.ttft_s is not None and served:
        metrics.ttft.labels(served).observe(exchange.ttft_s)
    if not exchange.stream and status < 400 and exchange.result is not None:
        metrics.overhead.labels(endpoint).observe(max(elapsed - exchange.provider_s, 0.0))
    if usage is not None and served:
        metrics.tokens.labels(served, "prompt").inc(usage.prompt_tokens)
        metrics.tokens.labels(served, "completion").inc(usage.completion_tokens)
        if cost:
            metrics.cost.labels(served).inc(cost)
    tries = exchange.result.tries if exchange.result is not None else [(t, status) for t in exchange.targets_tried[-1:]]
    for target, try_status in tries:
        metrics.upstream_tries.labels(target, str(try_status)).inc()

    principal = exchange.principal
    plan = exchange.plan
    retries, fallbacks = retries_and_fallbacks(exchange)
    plane.logs.submit(
        LogRecord(
            id=exchange.id,
            created_at=exchange.created_at,
            subject=principal.subject if principal else None,
            token_name=principal.token_name if principal else None,
            endpoint=endpoint,
            requested_model=exchange.model,
            resolved_model=served,
            status=status,
            error=error.message if error is not None else None,
            error_origin=error.origin if error is not None else None,
            latency_ms=elapsed * 1000,
            ttft_ms=exchange.ttft_s * 1000 if exchange.ttft_s is not None else None,
            provider_ms=exchange.provider_s * 1000 if exchange.result is not None else None,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=usage.cached_tokens if usage else 0,
            cost=cost,
            stream=exchange.stream,
            metadata=dict(exchange.options.metadata),
            rule_ids=[plan.rule_id] if plan is not None and plan.rule_id else [],
            retries=retries,
            fallbacks=fallbacks,
            tries=[list(item) for item in tries],
            request_body=exchange.body_logged,
            response_body=exchange.response_logged,
        )
    )
