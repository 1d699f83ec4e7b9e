"""`LimitPolicies`: every rate-limit and budget rule of one configuration version, compiled together."""

from __future__ import annotations

from dataclasses import dataclass, field

from tfy_gateway.gateway.limits.budgets import CompiledBudgets, compile_budgets
from tfy_gateway.gateway.limits.rules import CompiledLimits, compile_limits
from tfy_gateway.gateway.snapshot import ConfigSnapshot


@dataclass(frozen=True)
class LimitPolicies:
    rate_limits: CompiledLimits = field(default_factory=CompiledLimits)
    budgets: CompiledBudgets = field(default_factory=CompiledBudgets)

    @property
    def empty(self) -> bool:
        return not self.rate_limits.rules and not self.budgets.rules


def compile_policies(snapshot: ConfigSnapshot, *, cache_size: int = 10_000) -> LimitPolicies:
    return LimitPolicies(
        rate_limits=compile_limits(snapshot, cache_size=cache_size),
        budgets=compile_budgets(snapshot, cache_size=cache_size),
    )
