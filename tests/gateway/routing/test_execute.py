"""The retry loop: retries, fallback, bounds, retry-after, committed responses, overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.gateway.routing.conftest import RouterUnderTest, Sleeps, Upstream, example, request
from tfy_gateway.gateway.routing import Outcome, RetryPolicy

A, B = "openai-main/gpt-4o", "azure-backup/gpt-4o"


def priority_rule(*targets: dict[str, Any], rule_id: str = "p") -> dict[str, Any]:
    return {
        "name": "routing",
        "type": "gateway-load-balancing-config",
        "rules": [
            {
                "id": rule_id,
                "type": "priority-based-routing",
                "when": {"models": ["m"]},
                "load_balance_targets": [{"priority": i, **t} for i, t in enumerate(targets)],
            }
        ],
    }


async def test_503_falls_back_to_the_second_target(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(*example("routing-weighted.yaml"))
    plan = router.plan(request())
    first, second = (a.target for a in plan.attempts)
    upstream, sleeps = Upstream({first: [Outcome(503)]}), Sleeps()
    result = await router.execute(plan, upstream, sleep=sleeps)
    assert result.outcome.status == 200
    assert result.served_by is plan.attempts[1]
    assert result.tries == [(first, 503), (first, 503), (second, 200)]  # retry_config.attempts is 1
    assert (result.retries, result.fallbacks) == (1, 1)
    assert sleeps.delays == [0.1]


async def test_400_neither_retries_nor_falls_back(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(*example("routing-weighted.yaml"))
    plan = router.plan(request())
    upstream = Upstream({a.target: [Outcome(400)] for a in plan.attempts})
    result = await router.execute(plan, upstream, sleep=Sleeps())
    assert result.outcome.status == 400
    assert result.tries == [(plan.attempts[0].target, 400)]
    assert (result.retries, result.fallbacks) == (0, 0)


async def test_a_stream_reported_after_it_ended_counts_for_health(make_router: Callable[..., RouterUnderTest]) -> None:
    """`execute` sees a stream succeed at its first chunk; a later failure is reported with `record`."""
    router = make_router(*example("routing-weighted.yaml"))
    plan = router.plan(request())
    first = plan.attempts[0]
    result = await router.execute(plan, Upstream(default=Outcome(200)))
    assert result.outcome.status == 200 and len(result.tries) == 1
    for _ in range(router.settings.failure_threshold):
        router.record(first, Outcome(502))  # the stream broke after its first chunk, each time
    assert router.health.unhealthy_until(first.target, None, router.clock()) is not None


async def test_retry_after_is_honoured_up_to_the_cap(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(priority_rule({"target": A, "retry_config": {"attempts": 3, "delay": 100}}, {"target": B}))
    upstream = Upstream(
        {A: [Outcome(429, retry_after_s=2.5), Outcome(429, retry_after_s=30), Outcome(429), Outcome(200)]}
    )
    sleeps = Sleeps()
    result = await router.execute(router.plan(request("m")), upstream, sleep=sleeps)
    assert result.tries == [(A, 429), (A, 429), (A, 429), (A, 200)]
    assert sleeps.delays == [2.5, 5.0, 0.1]  # retry-after, retry-after capped at 5 s, the configured delay


async def test_408_always_falls_back(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(
        priority_rule({"target": A, "fallback_status_codes": ["500"], "retry_config": {"attempts": 0}}, {"target": B})
    )
    result = await router.execute(router.plan(request("m")), Upstream({A: [Outcome(408)]}))
    assert result.tries == [(A, 408), (B, 200)]


async def test_status_outside_fallback_codes_fails_immediately(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(
        priority_rule({"target": A, "fallback_status_codes": ["500"], "retry_config": {"attempts": 0}}, {"target": B})
    )
    result = await router.execute(router.plan(request("m")), Upstream({A: [Outcome(503)]}))
    assert result.tries == [(A, 503)] and result.outcome.status == 503


async def test_non_candidates_are_not_fallbacks_and_nothing_runs_twice(
    make_router: Callable[..., RouterUnderTest],
) -> None:
    c = "anthropic-main/claude-sonnet"
    router = make_router(
        priority_rule({"target": A}, {"target": B, "fallback_candidate": False}, {"target": c}),
    )
    plan = router.plan(request("m"))
    assert [a.target for a in plan.attempts] == [A, c]
    upstream = Upstream({A: [Outcome(500)], c: [Outcome(500)]})
    result = await router.execute(plan, upstream, sleep=Sleeps())
    assert result.tries == [(A, 500)] * 3 + [(c, 500)] * 3, "each target gets its own retries, once"
    assert result.outcome.status == 500 and (result.retries, result.fallbacks) == (4, 1)


async def test_total_attempts_are_bounded(make_router: Callable[..., RouterUnderTest]) -> None:
    targets = [{"target": t, "retry_config": {"attempts": 10, "delay": 0}} for t in (A, B) * 6]
    router = make_router(priority_rule(*targets))
    upstream = Upstream(default=Outcome(503))
    result = await router.execute(router.plan(request("m")), upstream, sleep=Sleeps())
    assert len(upstream.calls) == len(result.tries) == 10


async def test_retry_override_replaces_the_target_policy(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(priority_rule({"target": A, "fallback_status_codes": ["400"]}, {"target": B}))
    upstream, sleeps = Upstream({A: [Outcome(418)]}), Sleeps()
    override = RetryPolicy(attempts=3, delay_ms=250, on_status_codes=frozenset({418}))
    result = await router.execute(router.plan(request("m")), upstream, retry_override=override, sleep=sleeps)
    assert result.tries == [(A, 418)] * 4 and sleeps.delays == [0.25] * 3


async def test_without_a_rule_one_attempt_and_no_retries(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(*example("routing-weighted.yaml"))
    plan = router.plan(request(A))
    assert plan.rule_id is None and [a.target for a in plan.attempts] == [A]
    result = await router.execute(plan, Upstream({A: [Outcome(503)]}))
    assert result.tries == [(A, 503)]
    with_header = await router.execute(
        plan, Upstream({A: [Outcome(503), Outcome(200)]}), retry_override=RetryPolicy(1, 0, frozenset({503}))
    )
    assert with_header.tries == [(A, 503), (A, 200)]


async def test_headers_and_params_overrides_ride_on_the_attempt(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(
        priority_rule(
            {
                "target": A,
                "override_params": {"temperature": 0.1},
                "headers_override": {"set": {"X-Region": "eu"}, "remove": ["X-Internal-Debug"]},
            }
        )
    )
    attempt = router.plan(request("m")).attempts[0]
    assert dict(attempt.override_params or {}) == {"temperature": 0.1}
    assert dict(attempt.headers_set) == {"x-region": "eu"} and attempt.headers_remove == ("x-internal-debug",)
