"""Rate-limit and budget usage as JSON: per request (explain, simulate) and per rule (usage listings).

Shapes follow the platform's budget usage types (truefoundry-sdk `BudgetUsageEntry`: name, type,
applies_to, mode, entities[{entity, periods{<unit>: {limit, used, percentage, start, end}}}]), with
`remaining` and `resets_in_s` added, and the same shape for rate limits, so one reader serves both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from tfy_gateway.gateway.limits.budgets import BUDGET_CONFIG, BudgetRule
from tfy_gateway.gateway.limits.limiter import Limiter, Verdict, counter_key
from tfy_gateway.gateway.limits.policies import LimitPolicies
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.rules import RATE_LIMITING_CONFIG, LimitRule
from tfy_gateway.gateway.limits.scope import Entity
from tfy_gateway.gateway.limits.state import Probe
from tfy_gateway.gateway.limits.v2 import V2Rule
from tfy_gateway.gateway.routing.types import RouteRequest

Rule = LimitRule | BudgetRule


def entity_label(entity: Entity) -> str | None:
    """ "user:a@x" for one dimension, "user=user:a@x, model=m" for two, None for a shared counter."""
    if not entity:
        return None
    if len(entity) == 1:
        return entity[0][1]
    return ", ".join(f"{dimension}={value}" for dimension, value in entity)


def _rule_head(rule: Rule) -> dict[str, Any]:
    budget = isinstance(rule, BudgetRule)
    return {
        "name": rule.id,
        "config": rule.config_name,
        "type": BUDGET_CONFIG if budget else RATE_LIMITING_CONFIG,
        "applies_to": ",".join(rule.applies_per) or "aggregate",
        "mode": "audit" if rule.audit else "enforce",
    }


def _period(rule: Rule, used: int, now: float, bucket: int, resets_in_s: float | None) -> dict[str, Any]:
    unit = rule.unit
    if isinstance(rule, BudgetRule):
        limit, shown = rule.unit.show(rule.limit), rule.unit.show(used)
        start, ends = rule.unit.period.starts_at(bucket), rule.unit.period.expires_at(bucket)
        end: float | None = None if math.isinf(ends) else ends
    else:
        limit, shown = float(rule.limit), float(used)
        start, end = now - rule.unit.period.seconds, now
    percentage = min(100.0, shown * 100 / limit) if limit > 0 else 100.0
    return {
        "unit": unit.name,
        "limit": limit,
        "used": shown,
        "remaining": max(limit - shown, 0.0),
        "percentage": round(percentage, 4),
        "start": start,
        "end": end,
        "window": unit.period.label(bucket),
        "resets_in_s": None if resets_in_s is None else round(max(resets_in_s, 0.0), 3),
    }


async def explain_limits(limiter: Limiter, policies: LimitPolicies, request: LimitRequest) -> dict[str, Any]:
    """Which rate-limit and budget rules apply to `request`, why the others do not, and the headroom
    of every counter it would be charged in, without holding anything."""
    route = RouteRequest(request.model, request.subjects, request.metadata)
    verdicts = await limiter.simulate(policies, request)
    now = limiter.clock()
    by_rule: dict[int, list[Verdict]] = {}
    for verdict in verdicts:
        by_rule.setdefault(id(verdict.owner), []).append(verdict)

    def trace(rules: tuple[Rule, ...]) -> list[dict[str, Any]]:
        """V1: every matching rule counts the request; the first matching one decides."""
        out: list[dict[str, Any]] = []
        matched_before = False
        for rule in rules:
            entry = _rule_head(rule)
            reason = _mismatch(rule, route)
            entry["matched"] = reason is None
            if reason is not None:
                entry["reason"] = reason
            else:
                entry["reason"] = "matches: " + rule.when.describe()
                if matched_before:
                    entry["reason"] += " (counted only: an earlier matching rule decides)"
                matched_before = True
                entry["entities"] = [_verdict(v, now) for v in by_rule.get(id(rule), [])]
                entry["deciding"] = any(v.deciding for v in by_rule.get(id(rule), []))
                entry["would_refuse"] = any(v.refused for v in by_rule.get(id(rule), []))
            out.append(entry)
        return out

    def trace_v2(rules: tuple[V2Rule, ...]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for rule in rules:
            entry = _v2_head(rule)
            reason = rule.match.mismatch(request)
            if reason is None and not rule.charged(request):
                reason = f"applies {rule.applies_to}, and the request has no such entity: not counted"
            entry["matched"] = reason is None
            if reason is not None:
                entry["reason"] = reason
            else:
                meters = {id(meter) for meter in rule.meters_all()}
                found = [v for v in verdicts if id(v.owner) in meters]
                entry["reason"] = "every filter matches"
                entry["entities"] = _merged(found, now)
                entry["would_refuse"] = any(v.refused for v in found)
            out.append(entry)
        return out

    refusing = [v for v in verdicts if v.refused and v.deciding and _enforced(v.owner)]
    return {
        "admitted": not refusing,
        "refused_by": refusing[0].owner.id if refusing else None,
        "rate_limits": trace(policies.rate_limits.rules),
        "budgets": trace(policies.budgets.rules),
        "rate_limits_v2": trace_v2(policies.v2.rate_limits),
        "budgets_v2": trace_v2(policies.v2.budgets),
    }


Visible = Callable[[Entity], bool]


async def usage(
    limiter: Limiter,
    policies: LimitPolicies,
    *,
    kind: str,
    rule_id: str | None = None,
    visible: Visible | None = None,
) -> list[dict[str, Any]]:
    """Every rule of `kind` ("rate_limit" or "budget"), each with every entity counted in its current
    window (busiest first); `visible`: only the entities it accepts (a caller's own counters)."""
    rules: tuple[Rule, ...] = policies.rate_limits.rules if kind == "rate_limit" else policies.budgets.rules
    now = limiter.clock()
    out = await _v1_usage(limiter, rules, now, rule_id, visible)
    v2 = policies.v2.rate_limits if kind == "rate_limit" else policies.v2.budgets
    for rule in v2:
        if rule_id is None or rule.name == rule_id:
            out.append(await _v2_usage(limiter, rule, now, visible))
    return out


async def _v1_usage(
    limiter: Limiter, rules: tuple[Rule, ...], now: float, rule_id: str | None, visible: Visible | None
) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        if rule_id is not None and rule.id != rule_id:
            continue
        period = rule.unit.period
        bucket = period.index(now)
        prefix = counter_key("rl" if isinstance(rule, LimitRule) else "budget", rule.id, rule.unit.name, ())[:-1]
        rows = await limiter.state.scan(prefix, bucket, period.span)
        entities = []
        for key, used in sorted(rows, key=lambda row: -row[1]):
            parts = orjson.loads(key)[3:]
            entity = tuple(zip(parts[::2], parts[1::2], strict=True))
            if visible is not None and not visible(entity):
                continue
            if used or isinstance(rule, BudgetRule):
                periods = {rule.unit.name: _period(rule, used, now, bucket, None)}
                entities.append({"entity": entity_label(entity), "periods": periods})
        out.append({**_rule_head(rule), "entities": entities})
    return out


async def _v2_usage(limiter: Limiter, rule: V2Rule, now: float, visible: Visible | None = None) -> dict[str, Any]:
    """Every entity of a V2 rule with each of its windows (an override's limits where one applies)."""
    prefix_kind = "rl2" if rule.kind == "rate_limit" else "budget2"
    by_entity: dict[Entity, dict[str, int]] = {}
    for unit in dict.fromkeys(meter.unit.name for meter in rule.meters_all()):
        period = next(meter.unit.period for meter in rule.meters_all() if meter.unit.name == unit)
        prefix = counter_key(prefix_kind, rule.name, unit, ())[:-1]
        for key, total in await limiter.state.scan(prefix, period.index(now), period.span):
            parts = orjson.loads(key)[3:]
            by_entity.setdefault(tuple(zip(parts[::2], parts[1::2], strict=True)), {})[unit] = total
    entities = []
    for entity, totals in sorted(by_entity.items(), key=lambda item: -max(item[1].values())):
        if visible is not None and not visible(entity):
            continue
        periods = {}
        for meter in rule.meters_for(entity):
            bucket = meter.unit.period.index(now)
            periods[meter.unit.name] = _period(meter, totals.get(meter.unit.name, 0), now, bucket, None)
        entities.append({"entity": entity_label(entity), "periods": periods})
    return {**_v2_head(rule), "entities": entities}


def _v2_head(rule: V2Rule) -> dict[str, Any]:
    head: dict[str, Any] = {"name": rule.name, "config": rule.name, "type": rule.type}
    head["applies_to"] = f"metadata:{rule.metadata_key}" if rule.applies_to == "metadata" else rule.applies_to
    head["mode"] = rule.mode
    return head


def _merged(verdicts: list[Verdict], now: float) -> list[dict[str, Any]]:
    """Verdicts of one V2 rule's windows, one entry per entity with every window under `periods`."""
    entries: dict[Entity, dict[str, Any]] = {}
    for verdict in verdicts:
        entry = _verdict(verdict, now)
        known = entries.get(verdict.entity)
        if known is None:
            entries[verdict.entity] = entry
        else:
            known["periods"].update(entry["periods"])
            known["would_refuse"] = known.get("would_refuse", False) or entry.get("would_refuse", False)
            if "retry_after_s" in entry:
                known["retry_after_s"] = max(known.get("retry_after_s") or 0.0, entry["retry_after_s"] or 0.0)
    return list(entries.values())


def _verdict(verdict: Verdict, now: float) -> dict[str, Any]:
    rule = verdict.owner
    bucket = rule.unit.period.index(now)
    entry: dict[str, Any] = {"entity": entity_label(verdict.entity)}
    entry["periods"] = {rule.unit.name: _period(rule, verdict.used, now, bucket, verdict.resets_in_s)}
    if verdict.deciding:
        entry["would_refuse"] = verdict.refused
        if verdict.refused:
            entry["retry_after_s"] = None if verdict.retry_after_s is None else round(verdict.retry_after_s, 3)
    else:
        entry["note"] = "charged, not checked: an earlier matching budget rule decides"
    return entry


def _mismatch(rule: Rule, route: RouteRequest) -> str | None:
    missing = [key for key in rule.required_metadata if key not in route.metadata]
    if missing:
        return f"applies per metadata.{missing[0]}, and the request does not carry '{missing[0]}'"
    return rule.when.mismatch(route)


def _enforced(rule: Rule) -> bool:
    return not rule.audit and not (isinstance(rule, BudgetRule) and rule.soft)


async def budget_entries(
    limiter: Limiter,
    policies: LimitPolicies,
    request: LimitRequest | None,
    *,
    subjects_only: bool = False,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """V2 budgets as the platform's `BudgetUsageEntry` list: with `request`, every budget it matches
    and its own counter (`subjects_only`: matched on who is asking alone, for my-usage); without,
    the budget `name` with every entity counted (its leaderboard). Entities are bare names."""
    now = limiter.clock()
    out: list[dict[str, Any]] = []
    for rule in policies.v2.budgets:
        if request is None:
            if rule.name == name:
                out.append(_sdk_entry(rule, (await _v2_usage(limiter, rule, now))["entities"]))
            continue
        if subjects_only and rule.applies_to in ("per-model", "metadata"):
            continue
        reason = rule.match.mismatch(request, subjects_only=subjects_only)
        charged = rule.charged(request) if reason is None else []
        if not charged:
            continue
        probes = [
            Probe(counter_key("budget2", rule.name, meter.unit.name, entity), meter.unit.period.index(now), 1)
            for meter, entity in charged
        ]
        totals = await limiter.state.read(probes)
        entities: dict[Entity, dict[str, Any]] = {}
        for (meter, entity), total in zip(charged, totals, strict=True):
            bucket = meter.unit.period.index(now)
            periods = entities.setdefault(entity, {"entity": entity_label(entity), "periods": {}})["periods"]
            periods[meter.unit.name] = _period(meter, total, now, bucket, None)
        out.append(_sdk_entry(rule, list(entities.values())))
    return out


def _sdk_entry(rule: V2Rule, entities: list[dict[str, Any]]) -> dict[str, Any]:
    for entity in entities:
        label = entity["entity"]
        if isinstance(label, str) and label.partition(":")[0] in ("user", "virtualaccount", "team"):
            entity["entity"] = label.partition(":")[2]
    head = _v2_head(rule)
    head.pop("config")
    return {**head, "team_name": rule.match.team_name, "entities": entities}
