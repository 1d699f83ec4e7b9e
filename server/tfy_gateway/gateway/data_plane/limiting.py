"""`RateLimits`: the pipeline's `Limits` hook, enforcing the applied V1 rate limits.

It turns the request context into the plain `LimitRequest` the limiter reads, a refusal into the
429 the client gets, and what the request ended with into the amounts it is charged:
- usage known (the provider's, or the pipeline's estimate for a cut stream): 1 request and the
  real input + output tokens;
- no usage, and the provider answered with an error (`api_error`): 1 request, 0 tokens;
- no usage, and the gateway itself failed the request (status >= 400, any other origin but the
  client's: connection failure, timeout, configuration problem, internal error): everything
  held is released, the request does not count;
- otherwise (the client left before any answer): the request counts and keeps its token estimate,
  since the provider may have done the work.
"""

from __future__ import annotations

from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.failures import DataPlaneError
from tfy_gateway.gateway.limits import LimitRequest, RateLimited, RateLimiter, Refusal, Reservation

ORIGIN = "rate_limiting"
GENERATING_ENDPOINTS = frozenset({"chat", "completions"})


class RateLimitExceeded(DataPlaneError):
    """The 429 of a refused request; names the rule for `x-tfy-applied-configurations`."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(429, refusal.message, origin=ORIGIN, retry_after_s=refusal.retry_after_s)
        self.refusal = refusal
        self.rule_id = refusal.rule.id
        self.config_name = refusal.rule.config_name


class RateLimits:
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def reserve(self, request: RequestContext) -> Reservation | None:
        principal = request.principal
        if principal is None or request.model is None:
            return None
        limit_request = LimitRequest(
            model=request.model,
            caller=principal.subject,
            subjects=principal.subjects,
            metadata=request.options.metadata,
            body=request.body,
            generates=request.endpoint.name in GENERATING_ENDPOINTS,
        )
        try:
            return self.limiter.reserve(request.config.limits, limit_request)
        except RateLimited as exc:
            raise RateLimitExceeded(exc.refusal) from None

    async def settle(self, reservation: Reservation, request: RequestContext) -> None:
        usage, error = request.usage, request.error
        if usage is not None:
            self.limiter.settle(reservation, release=False, tokens=usage.total_tokens)
        elif error is not None and error.origin == "api_error":
            self.limiter.settle(reservation, release=False, tokens=0)
        elif request.status >= 400 and error is not None and error.origin != "client":
            self.limiter.settle(reservation, release=True, tokens=None)
        else:
            self.limiter.settle(reservation, release=False, tokens=None)
