"""`LimitPolicies`: every rate-limit and budget rule of one configuration version, compiled together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tfy_gateway.gateway.limits.budgets import CompiledBudgets, compile_budgets
from tfy_gateway.gateway.limits.rules import CompiledLimits, compile_limits
from tfy_gateway.gateway.limits.v2 import CompiledV2, compile_v2
from tfy_gateway.gateway.snapshot import ConfigSnapshot


@dataclass(frozen=True)
class LimitPolicies:
    rate_limits: CompiledLimits = field(default_factory=CompiledLimits)
    budgets: CompiledBudgets = field(default_factory=CompiledBudgets)
    v2: CompiledV2 = field(default_factory=CompiledV2)
    # The limiter's plans per request shape (caller, model, metadata), valid for this version only.
    plans: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        v2 = self.v2
        return not (self.rate_limits.rules or self.budgets.rules or v2.rate_limits or v2.budgets)

    @property
    def prices_matter(self) -> bool:
        """Whether a budget may hold a cost (the data plane then finds the request's price)."""
        return bool(self.budgets.rules or self.v2.budgets)


def compile_policies(snapshot: ConfigSnapshot, *, cache_size: int = 10_000) -> LimitPolicies:
    return LimitPolicies(
        rate_limits=compile_limits(snapshot, cache_size=cache_size),
        budgets=compile_budgets(snapshot, cache_size=cache_size),
        v2=compile_v2(snapshot),
    )
