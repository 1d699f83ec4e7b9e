"""`LimitPolicies`: every rate-limit and budget rule of one configuration version, compiled together."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from tfy_gateway.gateway.limits.budgets import CompiledBudgets, compile_budgets
from tfy_gateway.gateway.limits.rules import CompiledLimits, compile_limits
from tfy_gateway.gateway.limits.v2 import CompiledV2, compile_v2
from tfy_gateway.gateway.snapshot import ConfigSnapshot


@dataclass(frozen=True, eq=False)
class LimitPolicies:
    """Immutable and shared by every request of a configuration version (hashed by identity: the
    limiter keeps its plans per request shape for it in its own memo)."""

    rate_limits: CompiledLimits = field(default_factory=CompiledLimits)
    budgets: CompiledBudgets = field(default_factory=CompiledBudgets)
    v2: CompiledV2 = field(default_factory=CompiledV2)

    # Read on every request, and fixed with the configuration: computed once (as counts_tokens).
    @cached_property
    def empty(self) -> bool:
        v2 = self.v2
        return not (self.rate_limits.rules or self.budgets.rules or v2.rate_limits or v2.budgets)

    @cached_property
    def prices_matter(self) -> bool:
        """Whether a budget may hold a cost (the data plane then finds the request's price)."""
        return bool(self.budgets.rules or self.v2.budgets)

    @cached_property
    def counts_tokens(self) -> bool:
        """Whether a rule may hold a token estimate (a budget, or a tokens rate limit): the data plane
        then finds how the request's targets will send it."""
        v1 = any(rule.unit.kind == "tokens" for rule in self.rate_limits.rules)
        v2 = any(meter.unit.kind == "tokens" for rule in self.v2.rate_limits for meter in rule.meters_all())
        return self.prices_matter or v1 or v2


def compile_policies(snapshot: ConfigSnapshot) -> LimitPolicies:
    return LimitPolicies(
        rate_limits=compile_limits(snapshot), budgets=compile_budgets(snapshot), v2=compile_v2(snapshot)
    )
