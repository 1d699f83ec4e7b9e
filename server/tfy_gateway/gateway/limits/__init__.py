"""Rate limits and budgets: compiled rules, one state interface for their counters, and the limiter
that reserves at admission and settles with the real usage.

Semantics, windows and estimates are documented in references/rate-limiting.md and
references/budgets.md.
"""

from tfy_gateway.gateway.applied import AppliedRule, Headroom
from tfy_gateway.gateway.limits.budgets import BudgetRule, CompiledBudgets, compile_budgets
from tfy_gateway.gateway.limits.journal import LimitJournal
from tfy_gateway.gateway.limits.limiter import Limiter, Refused
from tfy_gateway.gateway.limits.memory import Clock, MemoryLimitState
from tfy_gateway.gateway.limits.policies import LimitPolicies, compile_policies
from tfy_gateway.gateway.limits.refusal import Refusal
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.reservation import Hold, Reservation
from tfy_gateway.gateway.limits.rules import CompiledLimits, LimitRule, Unit, compile_limits
from tfy_gateway.gateway.limits.state import LimitState
from tfy_gateway.gateway.limits.thresholds import ThresholdCrossed

__all__ = [
    "AppliedRule",
    "BudgetRule",
    "Clock",
    "CompiledBudgets",
    "CompiledLimits",
    "Headroom",
    "Hold",
    "LimitJournal",
    "LimitPolicies",
    "LimitRequest",
    "LimitRule",
    "LimitState",
    "Limiter",
    "MemoryLimitState",
    "Refusal",
    "Refused",
    "Reservation",
    "ThresholdCrossed",
    "Unit",
    "compile_budgets",
    "compile_limits",
    "compile_policies",
]
