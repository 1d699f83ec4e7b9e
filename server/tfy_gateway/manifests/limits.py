"""`gateway-rate-limiting-config` and `gateway-budget-config`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tfy_gateway.manifests.common import NotificationTarget, StrictModel, When

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
    id: str = Field(min_length=1)
    when: When
    limit_to: int = Field(ge=0, description="Requests or tokens (input + output) per unit.")
    unit: RateLimitUnit
    rate_limit_applies_per: list[str] | None = Field(
        default=None,
        description="Separate counters per user | virtualaccount | model | team | metadata.<key>.",
    )


class RateLimitConfig(StrictModel):
    """The first matching rule decides; usage counts against every matching rule."""

    name: str = Field(min_length=1)
    type: Literal["gateway-rate-limiting-config"]
    rules: list[RateLimitRule]


class BudgetAlerts(StrictModel):
    thresholds: list[float] = Field(description="Percentages of the limit, 0..100.")
    notification_target: list[NotificationTarget]


class BudgetRule(StrictModel):
    id: str = Field(min_length=1)
    when: When
    limit_to: float = Field(ge=0, description="USD for cost_* units, tokens for tokens_* units.")
    unit: BudgetUnit
    budget_applies_per: list[str] | None = None
    audit_mode: bool = Field(default=False, description="Track spend but never block.")
    alerts: BudgetAlerts | None = None


class BudgetConfig(StrictModel):
    """Spend counts against every matching rule; the first matching rule decides allow or block."""

    name: str = Field(min_length=1)
    type: Literal["gateway-budget-config"]
    rules: list[BudgetRule]
