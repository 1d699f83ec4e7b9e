"""The gateway's only retry loop: retries on the same target, then fallback, bounded. A stream's
first chunk is its success, so nothing is retried once the client may have seen a byte.

Per attempt: call; on a retryable status retry the same target (its `RetryPolicy`, or the
request's `x-tfy-retry-config` which replaces it) after `max(delay, retry-after capped)`; when the
target is done, move to the next planned candidate only if the final status is in the failing
target's `fallback_status_codes` (408 always: the request's own time limit expired on that target,
and the next gets its own, see data_plane/deadlines.py). The total number of upstream calls per
request is capped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tfy_gateway.gateway.routing.types import Attempt, Outcome, PlanResult, RetryPolicy, RoutePlan

Sleep = Callable[[float], Awaitable[Any]]
Record = Callable[[Attempt, Outcome], None]

ALWAYS_FALLBACK = frozenset({408})


def retry_delay_s(policy: RetryPolicy, outcome: Outcome, cap_s: float) -> float:
    """The configured delay, or the upstream's `retry-after` when longer, never above `cap_s`."""
    delay = policy.delay_ms / 1000.0
    if outcome.retry_after_s is not None and outcome.retry_after_s > delay:
        delay = min(outcome.retry_after_s, max(cap_s, delay))
    return delay


async def run_plan(
    plan: RoutePlan,
    call: Callable[[Attempt], Awaitable[Outcome]],
    *,
    record: Record,
    sleep: Sleep,
    retry_override: RetryPolicy | None,
    max_total_attempts: int,
    retry_after_cap_s: float,
) -> PlanResult:
    tries: list[tuple[str, int]] = []
    retries = fallbacks = 0
    outcome: Outcome | None = None
    served_by: Attempt | None = None
    for position, attempt in enumerate(plan.attempts):
        if position > 0:
            fallbacks += 1
        policy = retry_override or attempt.retry
        retried = 0
        while True:
            outcome = await call(attempt)
            served_by = attempt
            tries.append((attempt.target, outcome.status))
            record(attempt, outcome)
            if outcome.status < 400 or len(tries) >= max_total_attempts:
                return PlanResult(outcome, served_by, tries, retries, fallbacks)
            if outcome.local or retried >= policy.attempts or outcome.status not in policy.on_status_codes:
                break
            await sleep(retry_delay_s(policy, outcome, retry_after_cap_s))
            retried += 1
            retries += 1
        if outcome.status not in attempt.fallback_status_codes and outcome.status not in ALWAYS_FALLBACK:
            break
    if outcome is None:
        raise ValueError("a RoutePlan needs at least one attempt")
    return PlanResult(outcome, served_by, tries, retries, fallbacks)
