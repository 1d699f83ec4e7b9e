"""`explain`: a JSON-serialisable account of how a request would be routed.

Nothing is sent upstream, no sticky pin is written and the router's random stream is untouched:
for strategies that draw at random, `attempts` shows the order when the most likely target is
drawn, and each candidate's `probability` says how likely it is to go first.
"""

from __future__ import annotations

import random
from typing import Any

from tfy_gateway.gateway.routing.compiled import (
    LATENCY,
    PRIORITY,
    WEIGHT,
    CompiledRouting,
    CompiledRule,
    CompiledTarget,
)
from tfy_gateway.gateway.routing.matching import metadata_mismatch
from tfy_gateway.gateway.routing.router import Router, eligible_targets
from tfy_gateway.gateway.routing.sticky import identifier_value, sticky_key
from tfy_gateway.gateway.routing.strategies import Ranking
from tfy_gateway.gateway.routing.types import Attempt, RouteRequest


class _MostLikely(random.Random):
    """Makes `draw` pick the pool member with the largest share (ties: listed first)."""

    def __init__(self, point: float) -> None:
        super().__init__(0)
        self._point = point

    def random(self) -> float:
        return self._point


def explain(router: Router, routing: CompiledRouting, request: RouteRequest) -> dict[str, Any]:
    now = router.clock()
    result: dict[str, Any] = {
        "requested_model": request.model,
        "subjects": list(request.subjects),
        "metadata": dict(request.metadata),
        "virtual_model": False,
        "source": None,
        "config_name": None,
        "matched_rule": None,
        "strategy": None,
        "rules": [],
        "candidates": [],
        "sticky": None,
        "attempts": [request.model],
        "notes": [],
    }
    virtual = routing.virtual_models.get(request.model)
    rule: CompiledRule | None = None
    if virtual is not None:
        rule = virtual
        result.update(virtual_model=True, source="virtual-model", config_name=virtual.config_name)
        result["notes"].append(
            f"'{request.model}' is a virtual model: its own routing_config applies; gateway rules are not consulted"
        )
    else:
        rule = _evaluate_rules(routing, request, result["rules"])
        if rule is None:
            result["notes"].append(
                "no routing rule matches: the request goes to the requested model itself, without retries"
            )
            return result
        result.update(source="gateway-load-balancing-config", config_name=rule.config_name, matched_rule=rule.rule_id)
    result["strategy"] = rule.strategy
    eligible = router.match(routing, request)
    targets = eligible[1] if eligible is not None and eligible[0] is rule else []
    if not targets:
        result["notes"].append("no target's metadata_match fits the request")
        return result
    ranking = router.rank(routing, rule, targets, now)
    probabilities = ranking.probabilities()
    result["candidates"] = [
        _candidate(router, rule, target, request, now, target in targets, ranking.unhealthy, probabilities)
        for target in rule.targets
    ]
    result["sticky"] = _sticky(router, rule, request, now)
    most_likely = max(ranking.pool, key=lambda t: (probabilities.get(t.index, 0.0), -t.index))
    pinned = result["sticky"] and result["sticky"].get("pinned_target")
    plan = router.build_plan(routing, request, _MostLikely(_point_of(ranking, most_likely)), pin=False)
    result["attempts"] = [a.target for a in plan.attempts]
    result["attempt_details"] = [_attempt(a) for a in plan.attempts]
    if rule.strategy in (WEIGHT, LATENCY) and len(ranking.pool) > 1 and not pinned:
        result["notes"].append(
            "the first target is drawn per request (see each candidate's probability);"
            " attempts shows the most likely order"
        )
    return result


def _point_of(ranking: Ranking, target: CompiledTarget) -> float:
    """The `random()` value that makes `draw` pick `target` (the middle of its share)."""
    total = sum(ranking.shares)
    before = 0.0
    for member, share in zip(ranking.pool, ranking.shares, strict=True):
        if member is target:
            return (before + share / 2) / total
        before += share
    return 0.0


def _evaluate_rules(
    routing: CompiledRouting, request: RouteRequest, trace: list[dict[str, Any]]
) -> CompiledRule | None:
    """Walk every rule in order (not the model index) so each non-match gets its reason."""
    for rule in routing.rules:
        entry: dict[str, Any] = {"id": rule.rule_id, "config": rule.config_name, "type": rule.strategy}
        reason = rule.when.mismatch(request)
        if reason is None and not eligible_targets(rule, request):
            reason = "when matches, but no target's metadata_match fits the request (rule skipped)"
        entry["matched"] = reason is None
        entry["reason"] = reason if reason is not None else "matches: " + rule.when.describe()
        trace.append(entry)
        if reason is None:
            return rule
    return None


def _candidate(
    router: Router,
    rule: CompiledRule,
    target: CompiledTarget,
    request: RouteRequest,
    now: float,
    eligible: bool,
    unhealthy: frozenset[int],
    probabilities: dict[int, float],
) -> dict[str, Any]:
    until = router.health.unhealthy_until(target.target, target.sla_mark, now)
    entry: dict[str, Any] = {
        "target": target.target,
        "eligible": eligible,
        "healthy": until is None,
        "unhealthy_for_s": round(until - now, 3) if until is not None else None,
        "fallback_candidate": target.fallback_candidate,
        "probability": round(probabilities.get(target.index, 0.0), 4),
    }
    if not eligible:
        entry["excluded_because"] = metadata_mismatch(target.metadata_match, request.metadata)
    if rule.strategy == WEIGHT:
        entry["weight"] = target.weight
    if rule.strategy == PRIORITY:
        entry["priority"] = target.priority
        entry["sla_cutoff"] = {
            "time_per_output_token_ms": target.attempt.sla_tpot_ms,
            "time_to_first_token_ms": target.attempt.sla_ttft_ms,
        }
    if rule.strategy == LATENCY:
        view = router.latency.view(target.target, now)
        entry["latency"] = {
            "samples": view.samples,
            "mean_tpot_ms": round(view.mean_tpot_ms, 3) if view.mean_tpot_ms is not None else None,
            "judged": view.samples >= router.settings.latency_min_samples,
        }
    if target.metadata_match:
        entry["metadata_match"] = dict(target.metadata_match)
    return entry


def _sticky(router: Router, rule: CompiledRule, request: RouteRequest, now: float) -> dict[str, Any] | None:
    spec = rule.sticky
    if spec is None:
        return None
    identifiers = [
        {"source": source, "key": key, "present": identifier_value(source, key, request) is not None}
        for source, key in spec.identifiers
    ]
    key = sticky_key(rule.key, spec, request)
    pinned = router.backend.sticky_get(key, now) if key is not None else None
    return {
        "ttl_seconds": spec.ttl_s,
        "identifiers": identifiers,
        "sticky": key is not None,
        "pinned_target": pinned,
        "note": (
            "request lacks a session identifier: not sticky"
            if key is None
            else "pinned; reused while healthy"
            if pinned
            else "no pin yet: the first request pins its target"
        ),
    }


def _attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "target": attempt.target,
        "retry": {
            "attempts": attempt.retry.attempts,
            "delay_ms": attempt.retry.delay_ms,
            "on_status_codes": sorted(attempt.retry.on_status_codes),
        },
        "fallback_status_codes": sorted(attempt.fallback_status_codes),
        "override_params": dict(attempt.override_params) if attempt.override_params else None,
        "headers_set": sorted(attempt.headers_set),
        "headers_remove": list(attempt.headers_remove),
    }
