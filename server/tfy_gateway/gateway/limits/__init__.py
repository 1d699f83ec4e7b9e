"""Rate limits (V1, `gateway-rate-limiting-config`): compiled rules, sliding-window counters, and
the limiter that reserves at admission and settles with the real usage.

Semantics, window and estimates are documented in references/rate-limiting.md.
"""

from tfy_gateway.gateway.limits.counters import Clock, WindowCounters
from tfy_gateway.gateway.limits.limiter import RateLimited, RateLimiter, Refusal
from tfy_gateway.gateway.limits.request import LimitRequest
from tfy_gateway.gateway.limits.reservation import Hold, Reservation
from tfy_gateway.gateway.limits.rules import CompiledLimits, LimitRule, Unit, compile_limits

__all__ = [
    "Clock",
    "CompiledLimits",
    "Hold",
    "LimitRequest",
    "LimitRule",
    "RateLimited",
    "RateLimiter",
    "Refusal",
    "Reservation",
    "Unit",
    "WindowCounters",
    "compile_limits",
]
