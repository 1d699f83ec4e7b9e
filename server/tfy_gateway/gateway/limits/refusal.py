"""`Refusal`: why a request was refused, in words a user can act on, and when to retry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from tfy_gateway.gateway.applied import PolicyKind
from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.limits.rules import LimitRule
from tfy_gateway.gateway.limits.scope import Entity, describe


@dataclass(frozen=True)
class Refusal:
    kind: PolicyKind
    rule_id: str
    config_name: str
    entity: Entity
    limit: float  # in the rule's unit (requests, tokens or USD)
    unit: str  # as written in the manifest, e.g. tokens_per_minute, cost_per_day
    window: str  # "sliding minute", "day 2026-11-29"
    retry_after_s: float | None  # None: retrying never helps (a 0 limit, a spent lifetime budget)
    message: str
    used: float = 0  # what the window held, in the rule's unit
    need: float = 0  # what this request needed room for

    @classmethod
    def rate_limit(
        cls, rule: LimitRule, entity: Entity, *, used: int, need: int, retry_after_s: float | None
    ) -> Refusal:
        unit = rule.unit
        what = f"{rule.limit} {unit.kind} per {unit.period.name}"
        scope = describe(entity)
        head = f"Rate limit '{rule.id}' exceeded: it allows {what}" + (f" for {scope}" if scope else "")
        if retry_after_s is None:
            message = f"{head}, so every request it matches is refused. Raise limit_to or change the rule."
        else:
            held = "this request" if unit.kind == "requests" else f"this request's estimated {need} tokens"
            message = (
                f"{head}; {used} already counted in the sliding {unit.period.name} window, "
                f"no room for {held}. Capacity frees up in {math.ceil(retry_after_s)} s."
            )
        return cls(
            "rate_limit", rule.id, rule.config_name, entity, rule.limit, unit.name,
            f"sliding {unit.period.name}", retry_after_s, message, used, need,
        )  # fmt: skip

    @classmethod
    def budget(cls, rule: BudgetRule, entity: Entity, *, used: int, bucket: int, now: float) -> Refusal:
        unit = rule.unit
        period = unit.period
        ends = period.expires_at(bucket)
        retry_after_s = None if math.isinf(ends) else max(ends - now, 0.0)
        scope = describe(entity)
        amount = _amount(unit.kind, unit.show(rule.limit))
        spent = _amount(unit.kind, unit.show(used))
        head = f"Budget '{rule.id}' exhausted: it allows {amount} per {period.name}" + (
            f" for {scope}" if scope else ""
        )
        counted = "spent" if unit.kind == "cost" else "used"
        if retry_after_s is None:
            when = "A lifetime budget never resets: raise limit_to to allow more."
        else:
            reset = datetime.fromtimestamp(ends, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            when = f"It resets at {reset} (in {math.ceil(retry_after_s)} s)."
        message = f"{head}; {spent} {counted} in {period.label(bucket)}, in-flight requests included. {when}"
        return cls(
            "budget", rule.id, rule.config_name, entity, unit.show(rule.limit), unit.name,
            period.label(bucket), retry_after_s, message, unit.show(used), 0,
        )  # fmt: skip


def _amount(kind: str, value: float) -> str:
    return f"${value:,.6f}".rstrip("0").rstrip(".") if kind == "cost" else f"{value:,.0f} tokens"
