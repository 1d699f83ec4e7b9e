"""What the spans of one request shape share: their names and the attributes that repeat from request
to request (a route's, an upstream target's, a guardrail's, the rules that applied), built once per
shape by `tracing.TracePipeline` and kept shared; each function's arguments are its cache key.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

import orjson

from tfy_gateway.gateway.applied import AppliedRule, budgets_of, rate_limit_of
from tfy_gateway.gateway.observability import genai as g


def server_start(endpoint: str, path: str) -> tuple[str, dict[str, Any]]:
    """The server span's name and start attributes for a route."""
    attributes: dict[str, Any] = {
        "http.request.method": "POST",
        "url.path": path,
        "http.route": path,
        g.OPERATION: g.operation(endpoint),
    }
    span_type = g.SPAN_TYPES.get(endpoint)
    if span_type is not None:
        attributes[g.SPAN_TYPE] = span_type
    return f"POST {path}", attributes


def attempt_start(
    endpoint: str,
    target_name: str,
    stream: bool,
    number: int,
    kind: str,
    rule_id: str | None,
    provider: str,
    model_id: str,
    base_url: str,
) -> tuple[str, dict[str, Any]]:
    """An upstream call's span name and start attributes (the key of `tracing.TracePipeline.start`, in order)."""
    operation = g.operation(endpoint)
    built: dict[str, Any] = {
        g.OPERATION: operation,
        g.PROVIDER: g.provider_name(provider),
        g.REQUEST_MODEL: model_id,
        g.REQUEST_STREAM: stream,
        g.ATTEMPT: number,
        g.ATTEMPT_KIND: kind,
        g.ROUTING_TARGET: target_name,
        g.SPAN_TYPE: "Model",
        g.TFY_MODEL_NAME: target_name,
        g.TFY_MODEL_STREAMING: stream,
        g.TFY_MODEL_REQUEST_TYPE: g.SPAN_TYPES.get(endpoint, endpoint),
        **_server_address(base_url),
    }
    if rule_id:
        built[g.ROUTING_RULE] = rule_id
    return f"{operation} {model_id}", built


def server_end(
    status: int,
    model: str | None,
    subject: str | None,
    metadata: tuple[tuple[str, str], ...],
    rule_id: str | None,
    rules: tuple[AppliedRule, ...],
    stream: bool,
) -> dict[str, Any]:
    """The server span's end attributes of one request shape (the key of `tracing.SpanTrace._server_shape`)."""
    attributes: dict[str, Any] = {"http.response.status_code": status}
    if model is not None:
        attributes[g.REQUEST_MODEL] = model
        attributes[g.TFY_REQUESTED_MODEL] = model
    if subject is not None:
        attributes[g.TFY_SUBJECT] = subject
    if metadata:
        attributes[g.TFY_METADATA] = orjson.dumps(dict(metadata)).decode()
    if rule_id:
        attributes[g.APPLIED_ROUTING] = (rule_id,)
    if rules:
        rate_limit = rate_limit_of(rules)
        if rate_limit is not None:
            attributes[g.APPLIED_RATE_LIMITS] = (rate_limit.rule_id,)
        budgets = budgets_of(rules)
        if budgets:
            attributes[g.APPLIED_BUDGETS] = tuple(rule.rule_id for rule in budgets)
    if stream:
        attributes[g.REQUEST_STREAM] = True
    return attributes


def limit_rules(_kind: str, outcome: str, applied: tuple[AppliedRule, ...]) -> tuple[str, dict[str, Any]]:
    """The limit event's outcome and rule labels (the key of `tracing.SpanTrace._limits`, in order)."""
    rules = tuple(f"{rule.kind}:{rule.config_name}/{rule.rule_id}" for rule in applied)
    return "", {"tfy_gateway.limits.outcome": outcome, "tfy_gateway.limits.rules": rules}


def guardrail_start(
    name: str,
    stage: str,
    result: str,
    operation: str | None,
    strategy: str | None,
    message: str | None,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """An `apply_guardrail` span's name, start attributes and event attributes (the key of
    `tracing.SpanTrace.guardrails`, in order)."""
    attributes: dict[str, Any] = {
        g.OPERATION: g.APPLY_GUARDRAIL,
        g.GUARDRAIL_NAME: name,
        g.SPAN_TYPE: "Guardrail",
        "tfy.guardrail.fqn": name,
        "tfy.guardrail.result": result,
        "tfy_gateway.guardrail.stage": stage,
    }
    if operation:
        attributes["tfy_gateway.guardrail.operation"] = operation
    if strategy:
        attributes["tfy_gateway.guardrail.enforcing_strategy"] = strategy
    event = {"tfy.guardrail.result": result, **({"message": message} if message else {})}
    return f"{g.APPLY_GUARDRAIL} {name}", attributes, event


@functools.lru_cache(maxsize=256)
def _server_address(base_url: str) -> dict[str, Any]:
    parts = urlsplit(base_url)
    found: dict[str, Any] = {}
    if parts.hostname:
        found[g.SERVER_ADDRESS] = parts.hostname
        found[g.SERVER_PORT] = parts.port or (443 if parts.scheme == "https" else 80)
    return found
