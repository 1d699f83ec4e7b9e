"""The routing engine: load-balancing rules and virtual models compiled into matchers at apply
time, then per request a plan (target + fallbacks), the gateway's only retry loop, and explain.

Semantics: references/routing.md.
"""

from tfy_gateway.gateway.routing.backend import MemoryBackend, RoutingBackend
from tfy_gateway.gateway.routing.compiled import CompiledRouting, compile_snapshot
from tfy_gateway.gateway.routing.explain import explain
from tfy_gateway.gateway.routing.retry_header import parse_retry_header
from tfy_gateway.gateway.routing.router import Router
from tfy_gateway.gateway.routing.types import (
    Attempt,
    Outcome,
    PlanResult,
    RetryPolicy,
    RoutePlan,
    RouteRequest,
)

__all__ = [
    "Attempt",
    "CompiledRouting",
    "MemoryBackend",
    "Outcome",
    "PlanResult",
    "RetryPolicy",
    "RoutePlan",
    "RouteRequest",
    "Router",
    "RoutingBackend",
    "compile_snapshot",
    "explain",
    "parse_retry_header",
]
