"""What a config says a caller's request rate limit on a model is: the limiter's own answer, in process."""

from __future__ import annotations

import anyio

from tfy_gateway.gateway.limits import Limiter, LimitRequest, LimitRule, MemoryLimitState
from tfy_gateway.policy.config import PolicyConfig


def expected_request_limit(config: PolicyConfig, subject: str, model: str) -> tuple[int, float] | None:
    """(requests, window seconds) of the tightest requests-per-period limit that decides for `subject`
    calling `model` (V1's first matching rule, every matching V2 limit), or None when none does."""
    principal = config.principal(subject)
    request = LimitRequest(model=model, caller=principal.subject, subjects=principal.subjects)
    verdicts = anyio.run(Limiter(MemoryLimitState()).simulate, config.compiled.limits, request)
    found = [
        (v.owner.limit, float(v.owner.unit.period.seconds))
        for v in verdicts
        if v.deciding and isinstance(v.owner, LimitRule) and v.owner.unit.kind == "requests"
    ]
    return min(found) if found else None
