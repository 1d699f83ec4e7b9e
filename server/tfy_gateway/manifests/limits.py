"""`gateway-rate-limiting-config` and `gateway-budget-config`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tfy_gateway.manifests.common import NotificationTarget, StrictModel, When
from tfy_gateway.manifests.names import AppliesPer, Label, RuleId

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
    limit_to: int = Field(ge=0, description="Requests or tokens (input + output) per unit.")
    unit: RateLimitUnit
    rate_limit_applies_per: list[AppliesPer] | None = Field(
        default=None,
        description="Separate counters per user | virtualaccount | model | team | metadata.<key>.",
    )


class RateLimitConfig(StrictModel):
    """Only the first matching rule limits a request."""

    name: Label
    type: Literal["gateway-rate-limiting-config"]
    rules: list[RateLimitRule]


class BudgetAlerts(StrictModel):
    thresholds: list[float] = Field(description="Percentages of the limit, 0..100.")
    notification_target: list[NotificationTarget]


class BudgetRule(StrictModel):
    id: RuleId
    when: When
    limit_to: float = Field(ge=0, description="USD for cost_* units, tokens for tokens_* units.")
    unit: BudgetUnit
    budget_applies_per: list[AppliesPer] | None = None
    audit_mode: bool = Field(default=False, description="Track spend but never block.")
    alerts: BudgetAlerts | None = None


class BudgetConfig(StrictModel):
    """Spend counts against every matching rule; the first matching rule decides allow or block."""

    name: Label
    type: Literal["gateway-budget-config"]
    rules: list[BudgetRule]
