"""Budget alert thresholds: which percentages of a rule's limit a counter has reached.

Each threshold fires once per rule, entity and period: the limiter remembers what it reported (and
the alert outbox dedupes again, across restarts), so a counter that stays above 90% does not alert
on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.limits.scope import Entity, describe

MAX_REMEMBERED = 50_000


@dataclass(frozen=True)
class ThresholdCrossed:
    config_name: str
    rule_id: str
    entity: str  # "user user:a@x" or "" for the rule's one shared counter
    period: str  # "day 2026-11-29", "month 2026-11", "lifetime"
    threshold: float  # percent
    used: float  # in the rule's unit: USD or tokens
    limit: float
    unit: str
    occurred_at: float
    targets: tuple[Mapping[str, Any], ...]


Notify = Callable[[ThresholdCrossed], None]


class ThresholdWatch:
    """Reports each threshold a budget counter reaches, once."""

    def __init__(self, notify: Notify) -> None:
        self._notify = notify
        self._reported: set[tuple[str, str, str, Entity, int, float]] = set()

    def observe(self, rule: BudgetRule, entity: Entity, bucket: int, total: int, now: float) -> None:
        alerting = rule.alerting
        if alerting is None or rule.limit <= 0:
            return
        percent = total * 100 / rule.limit
        for threshold in alerting.thresholds:
            if threshold > percent:
                break
            key = (rule.config_name, rule.id, rule.unit.name, entity, bucket, threshold)
            if key in self._reported:
                continue
            if len(self._reported) >= MAX_REMEMBERED:
                self._reported.clear()
            self._reported.add(key)
            self._notify(
                ThresholdCrossed(
                    config_name=rule.config_name,
                    rule_id=rule.id,
                    entity=describe(entity),
                    period=rule.unit.period.label(bucket),
                    threshold=threshold,
                    used=rule.unit.show(total),
                    limit=rule.unit.show(rule.limit),
                    unit=rule.unit.name,
                    occurred_at=now,
                    targets=alerting.targets,
                )
            )
