"""`PolicyLimits`: the pipeline's `Limits` hook, enforcing the applied rate limits and budgets.

It turns the request context into the plain `LimitRequest` the limiter reads, a refusal into the
429 the client gets, and what the request ended with into the amounts it is charged. Once any byte
of the request may have reached a provider, it counts:
- usage unknown (an attempt timed out, 408 or 504; its connection broke after sending; the client
  left while the provider worked): 1 request and the reservation's estimates, unchanged (the
  request log says `usage_estimated`); the provider may have done all the work;
- usage known (the provider's, or the pipeline's estimate for a cut stream): 1 request, the real
  input + output tokens, and their cost at the price of the model that answered;
- no usage, and the provider answered with an error (`api_error`): 1 request, 0 tokens, no cost.
Only when the gateway is certain no provider was called (no connection could be made, the request
could not be built for the target, a configuration problem, a refusal before routing, a client that
left before the call) is everything held released: the request does not count.

A budget hold is priced at the costliest model the request may be routed to, so a fallback to a
dearer target never overspends a budget that admitted the request at a cheaper target's price; its
output tokens are the most any of those targets' adapters will ask for (`sent_as`). A request whose
worst case no counter can hold (`max_tokens: 1e18`) is a 400 naming the field, holding nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from tfy_gateway.gateway.accounting.cost import UNPRICED, ModelPricing
from tfy_gateway.gateway.applied import AppliedRule, Headroom
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.config import ModelCatalog
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.failures import DataPlaneError, bad_request
from tfy_gateway.gateway.limits import Limiter, LimitRequest, Refusal, Refused, Reservation
from tfy_gateway.gateway.limits.bounds import AmountTooLarge
from tfy_gateway.gateway.limits.limiter import MAX_REMEMBERED_PLANS
from tfy_gateway.gateway.limits.plan import CounterPlan
from tfy_gateway.gateway.limits.tokens import AS_OPENAI, Send, estimated_usage
from tfy_gateway.gateway.providers import Usage, WireFormat
from tfy_gateway.gateway.providers.output_tokens import OutputTokensInvalid
from tfy_gateway.gateway.routing import Attempt, RoutePlan

ORIGINS = {"rate_limit": "rate_limiting", "budget": "budget"}
GENERATING_ENDPOINTS = frozenset({"chat", "completions", "responses"})


class LimitExceeded(DataPlaneError):
    """The 429 of a refused request: names the refusing rule (`applied`, for
    `x-tfy-applied-configurations` and the request log) and leaves nothing under it (`headroom`)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(429, refusal.message, origin=ORIGINS[refusal.kind], retry_after_s=refusal.retry_after_s)
        self.refusal = refusal
        self.rule_id = refusal.rule_id
        self.config_name = refusal.config_name
        self.applied = (AppliedRule(refusal.kind, refusal.config_name, refusal.rule_id),)
        self.headroom = (Headroom(_headroom_name(refusal), refusal.limit, 0, refusal.retry_after_s),)


def _headroom_name(refusal: Refusal) -> str:
    """The `x-ratelimit-*-<name>` of the refusing rule's unit (budget tokens apart from rate-limit tokens)."""
    name = refusal.unit.partition("_per_")[0]
    return "budget-tokens" if refusal.kind == "budget" and name == "tokens" else name


MAX_REMEMBERED_TARGETS = 1_024
Targets = tuple[tuple[Attempt, ...], ModelCatalog, tuple[WireFormat, ...] | None, ModelPricing]
"""(a plan's attempts, the catalog, their wire formats (None: a target overrides the body), their costliest
price): what `sent_as` and `costliest` find for a plan, remembered by the attempts' identity."""


class PolicyLimits:
    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        # Routing hands out one attempts tuple per rule ranking and choice, so a request's targets are
        # found by identity; the entry holds the tuple, so its id cannot be reused while remembered.
        self._targets: dict[int, Targets] = {}
        # The limiter's plan for a caller's requests to a model under one configuration (its shape:
        # the principal's subjects and the metadata), found by the caller's objects' identity.
        self._plans: CallerMemo[CounterPlan] = CallerMemo(MAX_REMEMBERED_PLANS)
        # A store that answers synchronously (in memory) admits a request of a known shape at once.
        self._at_once = limiter.reserves_now

    async def reserve(self, request: RequestContext) -> Reservation | None:
        principal = request.principal
        policies = request.config.limits
        if principal is None or request.model is None or policies.empty:
            return None
        metadata = request.options.metadata
        plan = self._plans.get(principal, metadata, (request.model, policies))
        if plan is None:
            plan = self.limiter.planned(policies, request.model, principal.subject, principal.subjects, metadata)
            if plan is not None:
                self._plans.put(principal, metadata, (request.model, policies), plan)
        if plan is not None and not plan.kinds:
            return None  # rules exist, none applies to requests like this one (known from an earlier one)
        generates = request.endpoint.name in GENERATING_ENDPOINTS
        body = request.body
        sends, pricing = AS_OPENAI, UNPRICED
        counts_tokens = generates and policies.counts_tokens
        prices_matter = policies.prices_matter
        if counts_tokens or prices_matter:
            formats, costliest_pricing = self._targets_of(request.plan, request.config.catalog)
            if prices_matter:
                pricing = costliest_pricing
            if counts_tokens:
                if formats is None:
                    sends = sent_as(body, request.plan, request.config.catalog)
                elif len(formats) == 1:  # one kind of target: no comprehension to build one pair
                    sends = ((formats[0], body),)
                else:
                    sends = tuple([(wire_format, body) for wire_format in formats])
        try:
            if plan is not None and self._at_once:
                return self.limiter.reserve_now(plan, body, generates=generates, sends=sends, pricing=pricing)
            limit_request = LimitRequest(
                model=request.model,
                caller=principal.subject,
                subjects=principal.subjects,
                metadata=metadata,
                body=body,
                generates=generates,
                sends=sends,
                pricing=pricing,
            )
            return await self.limiter.reserve(policies, limit_request, plan=plan)
        except Refused as exc:
            raise LimitExceeded(exc.refusal) from None
        except (OutputTokensInvalid, AmountTooLarge) as exc:
            # The request's worst case cannot be held: refused before anything is counted.
            raise bad_request(exc.message, exc.param) from None

    def _targets_of(
        self, plan: RoutePlan | None, catalog: ModelCatalog
    ) -> tuple[tuple[WireFormat, ...] | None, ModelPricing]:
        """The wire formats `sent_as` finds for `plan` (None: a target overrides the body, so what is
        sent differs per request) and its costliest pricing, remembered per attempts tuple."""
        if plan is None:
            return (), UNPRICED
        attempts = plan.attempts
        known = self._targets.get(id(attempts))
        if known is None or known[0] is not attempts or known[1] is not catalog:
            if len(self._targets) >= MAX_REMEMBERED_TARGETS:
                self._targets.clear()
            overridden = any(attempt.override_params for attempt in attempts)
            formats = None if overridden else tuple(wire for wire, _ in sent_as({}, plan, catalog))
            known = self._targets[id(attempts)] = (attempts, catalog, formats, costliest(plan, catalog))
        return known[2], known[3]

    def settle(self, reservation: Reservation, request: RequestContext) -> Awaitable[None] | None:
        """Settled at once with the in-memory store; an awaitable for one that must be awaited (Redis)."""
        release, tokens, cost = _charged(request)
        if self.limiter.settle_now(reservation, release=release, tokens=tokens, cost=cost):
            return None
        return self.limiter.settle(reservation, release=release, tokens=tokens, cost=cost)


def _charged(request: RequestContext) -> tuple[bool, int | None, float | None]:
    """(release everything, real tokens, real cost) of a request that ended (see the module docstring)."""
    if request.held_estimate:
        return False, None, None
    usage = request.usage
    if usage is not None:
        return False, usage.total_tokens, request.cost
    if request.reached_provider:
        return False, 0, 0.0
    return True, None, None


def estimated_usage_of(request: RequestContext) -> Usage | None:
    """What a request that got no answer telling its usage is charged, for its log record: the
    estimate its reservation held, else the same estimate made now (None if the body has none)."""
    reservation = request.reservation
    estimate = reservation.estimate if reservation is not None else None
    if estimate is None:
        try:
            generates = request.endpoint.name in GENERATING_ENDPOINTS
            sends = sent_as(request.body, request.plan, request.config.catalog) if generates else AS_OPENAI
            estimate = estimated_usage(request.body, generates=generates, sends=sends)
        except OutputTokensInvalid:
            return None
    return Usage(prompt_tokens=estimate[0], completion_tokens=estimate[1])


def sent_as(body: Mapping[str, Any], plan: RoutePlan | None, catalog: ModelCatalog) -> tuple[Send, ...]:
    """How the request may go out: the wire format of each kind of target the plan may call, with the
    body sent there (a target's `override_params` merged in), so token holds use what the adapters
    send (Anthropic's default `max_tokens`, an overridden cap)."""
    if plan is None:
        return AS_OPENAI
    formats: list[WireFormat] = []
    overridden: list[Send] = []
    for attempt in plan.attempts:
        entry = catalog.get(attempt.target)
        if entry is None or entry.target is None:
            continue
        wire_format = entry.target.wire_format
        if attempt.override_params:
            overridden.append((wire_format, {**body, **attempt.override_params}))
        elif wire_format not in formats:
            formats.append(wire_format)
    return (*((wire_format, body) for wire_format in formats), *overridden)


def costliest(plan: RoutePlan | None, catalog: ModelCatalog) -> ModelPricing:
    """The pricing of the plan's target with the highest output price (then input price)."""
    if plan is None:
        return UNPRICED
    best = UNPRICED
    best_rank = (-1.0, -1.0)
    for attempt in plan.attempts:
        entry = catalog.get(attempt.target)
        pricing = entry.pricing if entry is not None else UNPRICED
        price = pricing.price
        if price is None:
            continue
        factor = 1.0 - pricing.discount_percent / 100
        rank = (price.output * factor, price.input * factor)
        if rank > best_rank:
            best, best_rank = pricing, rank
    return best
