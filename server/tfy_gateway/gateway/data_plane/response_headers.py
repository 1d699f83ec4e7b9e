"""The gateway's response headers: what answered, which configuration applied, and where time went.

- `x-tfy-resolved-model`: the model id that served the request (after load balancing / fallback).
- `x-tfy-applied-configurations`: JSON, e.g. `{"load_balancing": {"config": ..., "rule_id": ...,
  "strategy": ..., "target": ...}, "rate_limit": {"config": ..., "rule_id": ...}, "retries": 1,
  "fallbacks": 0}`; `rate_limit` names the rule that admitted (or refused) the request, if one matched.
- `server-timing` (non-streaming only): `gateway;dur=<ms>, provider;dur=<ms>, total;dur=<ms>`, i.e.
  the gateway's own overhead vs the time spent waiting for providers.
- `x-tfy-cost` (non-streaming, when the model is priced) and `x-tfy-request-id` (the log record id).
"""

from __future__ import annotations

from typing import Any

import orjson

from tfy_gateway.gateway.data_plane.asgi import Headers
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.limiting import RateLimitExceeded


def applied_configurations(request: RequestContext) -> dict[str, Any]:
    plan = request.plan
    applied: dict[str, Any] = {}
    if plan is not None and (plan.rule_id is not None or plan.virtual_model):
        applied["load_balancing"] = {
            "config": plan.config_name,
            "rule_id": plan.rule_id,
            "strategy": plan.strategy,
            "target": request.served.target if request.served else None,
            "virtual_model": plan.virtual_model,
        }
    reservation, error = request.reservation, request.error
    if reservation is not None and reservation.rule_id is not None:
        applied["rate_limit"] = {"config": reservation.config_name, "rule_id": reservation.rule_id}
    elif isinstance(error, RateLimitExceeded):
        applied["rate_limit"] = {"config": error.config_name, "rule_id": error.rule_id}
    retries, fallbacks = request.retries_and_fallbacks()
    if retries or fallbacks:
        applied["retries"] = retries
        applied["fallbacks"] = fallbacks
    return applied


def response_headers(request: RequestContext, *, content_type: str | None, timing: bool) -> Headers:
    headers: Headers = []
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    if request.served is not None:
        headers.append((b"x-tfy-resolved-model", request.served.target.encode("latin-1", "replace")))
    headers.append((b"x-tfy-applied-configurations", orjson.dumps(applied_configurations(request))))
    if timing:
        total_ms = request.elapsed_s * 1000
        provider_ms = request.provider_s * 1000
        gateway_ms = max(total_ms - provider_ms, 0.0)
        value = f"gateway;dur={gateway_ms:.3f}, provider;dur={provider_ms:.3f}, total;dur={total_ms:.3f}"
        headers.append((b"server-timing", value.encode()))
        if request.usage is not None and request.entry is not None:
            cost = request.entry.pricing.cost(request.usage)
            if cost is not None:
                headers.append((b"x-tfy-cost", repr(cost).encode()))
    headers.append((b"x-tfy-request-id", request.id.encode()))
    return headers
