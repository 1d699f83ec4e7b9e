"""The values that cross the boundary between the routing engine and the data plane.

None is changed once built: a `RoutePlan` and its `Attempt`s are built once per request (or, for
the attempts, once per apply) and may be shared between concurrent requests, so they are frozen.
`RouteRequest` (one per routed request, and per limit or budget rule set matched) and `Outcome` (one
per upstream call) are never shared and are not: a frozen dataclass sets each field through
`object.__setattr__`, ~2.7x the cost of a plain `__init__`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass
class RouteRequest:
    """What routing needs to know about a request. `headers` keys are lowercased by the caller."""

    model: str
    subjects: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on the same target: `attempts` counts retries after the first try."""

    attempts: int = 0
    delay_ms: int = 0
    on_status_codes: frozenset[int] = frozenset()


NO_RETRY = RetryPolicy()


@dataclass(frozen=True)
class Attempt:
    """One target to call, with everything the data plane applies to the upstream request."""

    target: str
    retry: RetryPolicy = NO_RETRY
    fallback_status_codes: frozenset[int] = frozenset()
    fallback_candidate: bool = True
    override_params: Mapping[str, Any] | None = None
    headers_set: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    headers_remove: tuple[str, ...] = ()
    # Routing's own bookkeeping (the data plane ignores these): which rule the target belongs to
    # and its priority-rule SLA cutoffs, so `execute` can judge the outcome.
    rule_key: str | None = None
    sla_tpot_ms: float | None = None
    sla_ttft_ms: float | None = None


@dataclass(frozen=True)
class RoutePlan:
    """The chosen target first, then the fallback candidates in the order they will be tried."""

    requested_model: str
    rule_id: str | None
    config_name: str | None
    strategy: str | None
    attempts: tuple[Attempt, ...]
    virtual_model: bool = False
    # Set when the rule is sticky and the request carried every session identifier.
    sticky_key: str | None = None
    sticky_ttl_s: float | None = None


@dataclass
class Outcome:
    """The result of one upstream call as the data plane saw it (a stream: up to its first chunk)."""

    status: int
    retry_after_s: float | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    payload: Any = None
    # The gateway failed before calling the provider (e.g. a secret with no value): says nothing about
    # the target's health, and retrying the same target cannot help.
    local: bool = False


@dataclass
class PlanResult:
    """What `Router.execute` did: the final outcome, who served it, and every try in order."""

    outcome: Outcome
    served_by: Attempt | None
    tries: list[tuple[str, int]]
    retries: int = 0
    fallbacks: int = 0
