"""`PolicyLimits`, the data plane's Limits hook: request context in, 429 out, and what a request is charged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import pytest

from tests.gateway.limits.conftest import T0, Clock, rule, rules
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config import EMPTY_CONFIG
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.limiting import LimitExceeded, PolicyLimits
from tfy_gateway.gateway.data_plane.response_headers import applied_configurations
from tfy_gateway.gateway.limits import CompiledLimits, Limiter, LimitPolicies, MemoryLimitState, Reservation
from tfy_gateway.gateway.limits.state import Admission, Batch, Probe, Settlement
from tfy_gateway.gateway.providers import Usage
from tfy_gateway.gateway.providers.output_tokens import MAX_OUTPUT_TOKENS

ALICE = Principal("user", "a@x", "a@x", ("t",), False, ("user:a@x", "team:t", "team:everyone"), "tok", "tok-id")


def context(compiled: CompiledLimits, max_tokens: int = 90) -> RequestContext:
    ctx = RequestContext(
        endpoint=ENDPOINTS["chat/completions"], config=replace(EMPTY_CONFIG, limits=LimitPolicies(rate_limits=compiled))
    )
    ctx.principal, ctx.model = ALICE, "fake/gpt-4o"
    ctx.body = {"model": "fake/gpt-4o", "messages": [{"role": "user", "content": "x" * 40}], "max_tokens": max_tokens}
    return ctx


class AwaitedState:
    """The in-memory store behind an interface that must be awaited (as Redis's): no `adjust_now`."""

    def __init__(self, clock: Clock) -> None:
        self.memory = MemoryLimitState(clock)

    async def reserve(self, batch: Batch) -> Admission:
        await asyncio.sleep(0)
        return self.memory.reserve_now(batch)

    async def adjust(self, settlement: Settlement, ticket: str | None = None) -> tuple[int, ...]:
        await asyncio.sleep(0)
        return self.memory.adjust_now(settlement)

    async def read(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        return self.memory.read_now(probes)

    async def scan(self, prefix: str, bucket: int, span: int) -> list[tuple[str, int]]:
        return await self.memory.scan(prefix, bucket, span)


@pytest.fixture(params=["in-memory", "awaited"])
def hook(request: pytest.FixtureRequest) -> PolicyLimits:
    """The hook over the in-memory store (settled at once) and over one that must be awaited."""
    clock = Clock(T0)
    state = MemoryLimitState(clock) if request.param == "in-memory" else AwaitedState(clock)
    return PolicyLimits(Limiter(state, clock=clock))


async def settle(hook: PolicyLimits, reservation: Reservation, ctx: RequestContext) -> None:
    """As the pipeline does: done at once with the in-memory store, else awaited."""
    pending = hook.settle(reservation, ctx)
    assert (pending is None) == isinstance(hook.limiter.state, MemoryLimitState)
    if pending is not None:
        await pending


async def used(hook: PolicyLimits, compiled: CompiledLimits) -> int:
    """What the counter holds, read from the refusal of a request asking for the whole limit."""
    probe = context(compiled, max_tokens=MAX_OUTPUT_TOKENS)
    with pytest.raises(LimitExceeded) as refused:
        await hook.reserve(probe)
    return refused.value.refusal.used


async def test_a_refusal_is_a_429_from_rate_limiting_with_retry_after_and_the_rule(hook: PolicyLimits) -> None:
    compiled = rules(rule("one", 1))
    ctx = context(compiled)
    ctx.reservation = await hook.reserve(ctx)
    assert applied_configurations(ctx)["rate_limit"] == {"config": "limits", "rule_id": "one"}
    refused_ctx = context(compiled)
    with pytest.raises(LimitExceeded) as refused:
        await hook.reserve(refused_ctx)
    error = refused.value
    assert (error.status, error.origin, error.retry_after_s) == (429, "rate_limiting", 60.0)
    refused_ctx.error = error
    assert applied_configurations(refused_ctx)["rate_limit"] == {"config": "limits", "rule_id": "one"}


@pytest.mark.parametrize(
    ("usage", "reached", "held_estimate", "charged"),
    [
        (Usage(prompt_tokens=10, completion_tokens=5), True, False, 15),  # the real usage
        (None, True, False, 0),  # the provider answered an error: no tokens
        (None, False, False, 0),  # certain that no provider was called: released
        (None, True, True, 100),  # reached, usage unknown (a timeout, a client that left): the estimate
    ],
)
async def test_what_a_request_is_charged_for_tokens(
    hook: PolicyLimits, usage: Usage | None, reached: bool, held_estimate: bool, charged: int
) -> None:
    compiled = rules(rule("tpm", 1_000, "tokens_per_minute"))
    ctx = context(compiled)
    reservation = await hook.reserve(ctx)
    assert reservation is not None and reservation.estimate == (10, 90)
    ctx.usage, ctx.reached_provider, ctx.held_estimate = usage, reached, held_estimate
    await settle(hook, reservation, ctx)
    if charged:
        assert await used(hook, compiled) == charged
    else:
        assert await hook.reserve(context(compiled, max_tokens=MAX_OUTPUT_TOKENS)) is not None  # the window is empty


@pytest.mark.parametrize(
    ("case", "reached", "held_estimate", "counts"),
    [
        ("answered", True, False, True),
        ("the provider answered an error", True, False, True),
        ("timed out (408/504), or the client left during the call", True, True, True),
        ("no connection could be made, or the client left before the call", False, False, False),
    ],
)
async def test_which_requests_count_under_a_requests_unit(
    hook: PolicyLimits, case: str, reached: bool, held_estimate: bool, counts: bool
) -> None:
    compiled = rules(rule("rpm", 1))
    ctx = context(compiled)
    reservation = await hook.reserve(ctx)
    assert reservation is not None
    ctx.usage = Usage(prompt_tokens=1) if case == "answered" else None
    ctx.reached_provider, ctx.held_estimate = reached, held_estimate
    await settle(hook, reservation, ctx)
    if counts:
        with pytest.raises(LimitExceeded):
            await hook.reserve(context(compiled))
    else:
        assert await hook.reserve(context(compiled)) is not None


async def test_a_callers_plan_follows_the_configuration_it_was_made_for(hook: PolicyLimits) -> None:
    """The plan kept for a caller's objects is the one of the configuration the request carries."""
    first, second = context(rules(rule("first", 5))).config, context(rules(rule("second", 5))).config
    for config, rule_id in [(first, "first"), (first, "first"), (second, "second"), (first, "first")]:
        ctx = context(CompiledLimits())
        ctx.config = config  # one configuration object for its requests, as a version's are
        ctx.reservation = await hook.reserve(ctx)
        assert applied_configurations(ctx)["rate_limit"] == {"config": "limits", "rule_id": rule_id}
        await settle(hook, ctx.reservation, ctx)
