"""`gateway-rate-limiting-config` and `gateway-budget-config`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tfy_gateway.manifests.common import NotificationTarget, StrictModel, When
from tfy_gateway.manifests.names import AppliesPer, Label, RuleId
from tfy_gateway.manifests.numbers import MAX_COUNT, MAX_USD, Count, Percent

RateLimitUnit = Literal[
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "tokens_per_minute",
    "tokens_per_hour",
    "tokens_per_day",
]
BudgetUnit = Literal[
    "cost_per_day",
    "cost_per_week",
    "cost_per_month",
    "cost_per_quarter",
    "tokens_per_day",
    "tokens_per_month",
]


class RateLimitRule(StrictModel):
    id: RuleId
    when: When
    limit_to: Count = Field(description="Requests or tokens (input + output) per unit.")
    unit: RateLimitUnit
    rate_limit_applies_per: list[AppliesPer] | None = Field(
        default=None,
        description="Separate counters per user | virtualaccount | model | team | metadata.<key>.",
    )


class RateLimitConfig(StrictModel):
    """The first matching rule decides; usage counts against every matching rule."""

    name: Label
    type: Literal["gateway-rate-limiting-config"]
    rules: list[RateLimitRule]


class BudgetAlerts(StrictModel):
    thresholds: list[Percent] = Field(description="Percentages of the limit, 0..100.")
    notification_target: list[NotificationTarget]


class BudgetRule(StrictModel):
    id: RuleId
    when: When
    limit_to: float = Field(
        ge=0, le=MAX_COUNT, description="USD for cost_* units (at most 1e9), tokens for tokens_* units (at most 1e12)."
    )
    unit: BudgetUnit
    budget_applies_per: list[AppliesPer] | None = None
    audit_mode: bool = Field(default=False, description="Track spend but never block.")
    alerts: BudgetAlerts | None = None

    @model_validator(mode="after")
    def _cost_in_range(self) -> BudgetRule:
        if self.unit.startswith("cost_") and self.limit_to > MAX_USD:
            raise ValueError(f"limit_to: a cost limit is at most {MAX_USD:g} USD, got {self.limit_to:g}")
        return self


class BudgetConfig(StrictModel):
    """Spend counts against every matching rule; the first matching rule decides allow or block."""

    name: Label
    type: Literal["gateway-budget-config"]
    rules: list[BudgetRule]
