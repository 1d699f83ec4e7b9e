"""The gateway's response headers: what answered, which configuration applied, and where time went.

- `x-tfy-resolved-model`: the model id that served the request (after load balancing / fallback).
- `x-tfy-applied-configurations`: JSON, e.g. `{"load_balancing": {"config": ..., "rule_id": ...,
  "strategy": ..., "target": ...}, "rate_limit": {"config": ..., "rule_id": ...}, "budgets": [{"config":
  ..., "rule_id": ...}], "retries": 1, "fallbacks": 0}`; `rate_limit` names the rule that admitted (or
  refused) the request, `budgets` every budget rule charged (the first decides), `would_block` the
  audit-mode rules that would have refused it, `guardrails` the guardrail rules that matched and the
  guardrails run on the input and the output (`{"rules": [...], "input": ["<group>/<name>"], "output":
  [...], "flagged": [...]}`, `flagged`: failed or errored without blocking, e.g. in audit mode).
- `x-ratelimit-limit-<name>`, `x-ratelimit-remaining-<name>`, `x-ratelimit-reset-<name>` (seconds
  until capacity frees up, or the budget period ends) for each kind of limit that applied: `requests`,
  `tokens` (rate limits), `cost` (USD) and `budget-tokens` (budgets), under the tightest rule.
- `server-timing` (non-streaming only): `gateway;dur=<ms>, provider;dur=<ms>, total;dur=<ms>`, i.e.
  the gateway's own overhead vs the time spent waiting for providers.
- `x-tfy-cost` (non-streaming, when the model is priced) and `x-tfy-request-id` (the log record id).

Values are ASCII whatever the names in them: JSON escapes everything outside printable ASCII
(`\u007f`, `\u00e9`), so a name stored before names were validated, or written in any script, can
never make a header the server refuses to send after the provider was already called.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import orjson

from tfy_gateway.gateway.applied import AppliedRule, Headroom, budgets_of, rate_limit_of
from tfy_gateway.gateway.data_plane.asgi import JSON_TYPE, Headers
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.guardrails.checks import AppliedGuardrails, applied_of

SERVER_TIMING = b"gateway;dur=%.3f, provider;dur=%.3f, total;dur=%.3f"

AppliedKey = tuple[
    tuple[str | None, str | None, str | None, str | None, bool] | None,
    tuple[AppliedRule, ...],
    tuple[AppliedRule, ...],
    tuple[int, int],
]
"""What `x-tfy-applied-configurations` says besides guardrails: (load balancing: config, rule,
strategy, target, virtual model; the limit rules; the audit rules that would have refused; retries
and fallbacks). Plain hashable values, the same for every request of one shape."""


def applied_configurations(request: RequestContext) -> dict[str, Any]:
    return _applied(_applied_key(request), request)


def _applied_key(request: RequestContext) -> AppliedKey:
    plan = request.plan
    balanced = None
    if plan is not None and (plan.rule_id is not None or plan.virtual_model):
        target = request.served.target if request.served else None
        balanced = (plan.config_name, plan.rule_id, plan.strategy, target, plan.virtual_model)
    reservation = request.reservation
    would_block = reservation.would_block if reservation is not None else ()
    return balanced, request.limits_applied, would_block, request.retries_and_fallbacks()


def _applied(
    key: AppliedKey, request: RequestContext | None, guardrails: AppliedGuardrails | None = None
) -> dict[str, Any]:
    """The header's object; `request`'s guardrail report too, or the report's `guardrails` key
    (both None: no report, as in `_applied_json`)."""
    balanced, rules, would_block, (retries, fallbacks) = key
    applied: dict[str, Any] = {}
    if balanced is not None:
        config, rule_id, strategy, target, virtual_model = balanced
        applied["load_balancing"] = {
            "config": config,
            "rule_id": rule_id,
            "strategy": strategy,
            "target": target,
            "virtual_model": virtual_model,
        }
    if rules:
        if (rate_limit := rate_limit_of(rules)) is not None:
            applied["rate_limit"] = _rule(rate_limit)
        if budgets := budgets_of(rules):
            applied["budgets"] = [_rule(budget) for budget in budgets]
    if would_block:
        applied["would_block"] = [{"kind": rule.kind, **_rule(rule)} for rule in would_block]
    if request is not None and request.guardrails is not None:
        applied["guardrails"] = request.guardrails.applied()
    elif guardrails is not None:
        applied["guardrails"] = applied_of(guardrails)
    if retries or fallbacks:
        applied["retries"] = retries
        applied["fallbacks"] = fallbacks
    return applied


@functools.lru_cache(maxsize=1024)
def _applied_json(key: AppliedKey, guardrails: AppliedGuardrails | None = None) -> bytes:
    """The header's value, encoded once per shape (and, with guardrails, per what their checks came
    to): requests of one caller and route repeat it, and its dicts and JSON cost more than hashing
    the key."""
    return header_json(_applied(key, None, guardrails))


def applied_header(request: RequestContext) -> bytes:
    """`x-tfy-applied-configurations`' value."""
    key = _applied_key(request)
    if request.guardrails is None:
        return _applied_json(key)
    return _applied_json(key, request.guardrails.applied_key())


def header_json(value: Any) -> bytes:
    """`value` as JSON in printable ASCII: fit for an HTTP header value whatever its strings hold."""
    encoded = orjson.dumps(value)
    if encoded.isascii() and b"\x7f" not in encoded:
        return encoded  # the common case: orjson already escaped every control character
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("\x7f", "\\u007f").encode()


def header_text(text: str) -> bytes:
    """`text` as a header value: anything outside printable ASCII becomes `?`."""
    if text.isascii() and text.isprintable():  # the common case: ' ' to '~' already (no control character)
        return text.encode("ascii")
    return "".join(c if " " <= c <= "~" else "?" for c in text).encode("ascii")


@functools.lru_cache(maxsize=1024)
def _resolved_model(target: str) -> tuple[bytes, bytes]:
    """`x-tfy-resolved-model` with its value, built once per target (a str keeps its hash)."""
    return b"x-tfy-resolved-model", header_text(target)


def _rule(rule: AppliedRule) -> dict[str, str]:
    return {"config": rule.config_name, "rule_id": rule.rule_id}


def _number(value: float) -> bytes:
    if type(value) is int:  # request and token counts
        return str(value).encode()
    return (str(int(value)) if value == int(value) else f"{value:.6f}".rstrip("0")).encode()


@functools.lru_cache(maxsize=1024, typed=True)
def _limit_texts(name: str, limit: float) -> tuple[tuple[bytes, bytes], bytes, bytes]:
    """(`x-ratelimit-limit-<name>` with its value, the remaining and reset header names) of one kind of
    limit at one limit: what every request of a plan repeats, built once; only the numbers left and
    the reset are written per request."""
    suffix = name.encode()
    limit_header = (b"x-ratelimit-limit-" + suffix, _number(limit))
    return limit_header, b"x-ratelimit-remaining-" + suffix, b"x-ratelimit-reset-" + suffix


def limit_headers(headroom: tuple[Headroom, ...]) -> Headers:
    """`x-ratelimit-*` for each kind of limit that applied (remaining 0 when it refused)."""
    headers: Headers = []
    for name, limit, remaining, reset_s in headroom:
        limit_header, remaining_name, reset_name = _limit_texts(name, limit)
        headers.append(limit_header)
        headers.append((remaining_name, _number(remaining)))
        if reset_s is not None:
            headers.append((reset_name, str(math.ceil(reset_s)).encode()))
    return headers


def response_headers(request: RequestContext, *, content_type: str | None, timing: bool) -> Headers:
    if content_type == "application/json":
        headers: Headers = [JSON_TYPE]
    else:
        headers = [] if content_type is None else [(b"content-type", content_type.encode("latin-1"))]
    if request.served is not None:
        headers.append(_resolved_model(request.served.target))
    headers.append((b"x-tfy-applied-configurations", applied_header(request)))
    if headroom := request.headroom:
        headers += limit_headers(headroom)
    if timing:
        total_ms = request.elapsed_s * 1000
        provider_ms = request.provider_s * 1000
        gateway_ms = max(total_ms - provider_ms, 0.0)
        # bytes formatting: the same digits as an f-string's `.3f`, without the str and its encoding
        headers.append((b"server-timing", SERVER_TIMING % (gateway_ms, provider_ms, total_ms)))
        if request.cost is not None:
            headers.append((b"x-tfy-cost", repr(request.cost).encode()))
    headers.append((b"x-tfy-request-id", request.id.encode()))
    return headers
