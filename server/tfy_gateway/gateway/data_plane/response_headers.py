"""The gateway's response headers: what answered, which configuration applied, and where time went.

- `x-tfy-resolved-model`: the model id that served the request (after load balancing / fallback).
- `x-tfy-applied-configurations`: JSON, e.g. `{"load_balancing": {"config": ..., "rule_id": ...,
  "strategy": ..., "target": ...}, "retries": 1, "fallbacks": 0}`.
- `server-timing` (non-streaming only): `gateway;dur=<ms>, provider;dur=<ms>, total;dur=<ms>`, i.e.
  the gateway's own overhead vs the time spent waiting for providers.
- `x-tfy-cost` (non-streaming, when the model is priced) and `x-tfy-request-id` (the log record id).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from tfy_gateway.gateway.data_plane.asgi import Headers

if TYPE_CHECKING:
    from tfy_gateway.gateway.data_plane.exchange import Exchange


def retries_and_fallbacks(exchange: Exchange) -> tuple[int, int]:
    """From the router's result when known, else counted from the targets tried so far."""
    if exchange.result is not None:
        return exchange.result.retries, exchange.result.fallbacks
    retries = fallbacks = 0
    previous = None
    for target in exchange.targets_tried:
        if previous is not None:
            if target == previous:
                retries += 1
            else:
                fallbacks += 1
        previous = target
    return retries, fallbacks


def applied_configurations(exchange: Exchange) -> dict[str, Any]:
    plan = exchange.plan
    applied: dict[str, Any] = {}
    if plan is not None and (plan.rule_id is not None or plan.virtual_model):
        applied["load_balancing"] = {
            "config": plan.config_name,
            "rule_id": plan.rule_id,
            "strategy": plan.strategy,
            "target": exchange.served.target if exchange.served else None,
            "virtual_model": plan.virtual_model,
        }
    retries, fallbacks = retries_and_fallbacks(exchange)
    if retries or fallbacks:
        applied["retries"] = retries
        applied["fallbacks"] = fallbacks
    return applied


def response_headers(exchange: Exchange, *, content_type: str | None, timing: bool) -> Headers:
    headers: Headers = []
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    if exchange.served is not None:
        headers.append((b"x-tfy-resolved-model", exchange.served.target.encode("latin-1", "replace")))
    headers.append((b"x-tfy-applied-configurations", orjson.dumps(applied_configurations(exchange))))
    if timing:
        total_ms = (time.perf_counter() - exchange.started) * 1000
        provider_ms = exchange.provider_s * 1000
        gateway_ms = max(total_ms - provider_ms, 0.0)
        value = f"gateway;dur={gateway_ms:.3f}, provider;dur={provider_ms:.3f}, total;dur={total_ms:.3f}"
        headers.append((b"server-timing", value.encode()))
        if exchange.usage is not None and exchange.entry is not None:
            cost = exchange.entry.pricing.cost(exchange.usage)
            if cost is not None:
                headers.append((b"x-tfy-cost", repr(cost).encode()))
    headers.append((b"x-tfy-request-id", exchange.id.encode()))
    return headers
