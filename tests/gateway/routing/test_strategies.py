"""Strategies: weight shares, latency windows, priority with SLA cutoffs and failure cooldowns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from tests.gateway.routing.conftest import Clock, RouterUnderTest, Upstream, example, request
from tfy_gateway.gateway.routing import Outcome, Router

A, B = "openai-main/gpt-4o", "azure-backup/gpt-4o"


def first_targets(router: Router, count: int, *subjects: str) -> Counter[str]:
    return Counter(router.plan(request("openai/gpt-4o", *subjects)).attempts[0].target for _ in range(count))


def test_weighted_70_30_split_over_2000_plans(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(*example("routing-weighted.yaml"))
    counts = first_targets(router, 2000)
    assert abs(counts[A] / 2000 - 0.70) <= 0.03, counts
    assert abs(counts[B] / 2000 - 0.30) <= 0.03, counts
    plan = router.plan(request())
    assert (plan.rule_id, plan.config_name, plan.strategy) == ("weighted-chat", "chat-routing", "weight-based-routing")
    assert {a.target for a in plan.attempts} == {A, B}


def test_weighted_skips_unhealthy_targets_and_zero_weights(
    make_router: Callable[..., RouterUnderTest], clock: Clock
) -> None:
    config = example("routing-weighted.yaml")[0]
    router = make_router(config)
    router.backend.mark_unhealthy(A, clock.now + 30)
    assert first_targets(router, 200) == Counter({B: 200})
    plan = router.plan(request())
    assert [a.target for a in plan.attempts] == [B, A], "an unhealthy target stays a last-resort fallback"
    clock.advance(31)
    assert first_targets(router, 200)[A] > 100


def test_plans_of_one_choice_are_shared_until_health_changes(
    make_router: Callable[..., RouterUnderTest], clock: Clock
) -> None:
    """A static ranking hands every request that drew the same target the same plan (built once);
    a health mark makes a new ranking, whose plans say so."""
    router = make_router(*example("routing-weighted.yaml"))
    plans = {plan.attempts[0].target: plan for plan in (router.plan(request()) for _ in range(200))}
    again = {plan.attempts[0].target: plan for plan in (router.plan(request()) for _ in range(200))}
    assert set(plans) == {A, B}
    assert all(again[target] is plans[target] for target in plans)
    assert [a.target for a in plans[A].attempts] == [A, B]
    router.backend.mark_unhealthy(A, clock.now + 30)
    plan = router.plan(request())
    assert [a.target for a in plan.attempts] == [B, A]
    assert plan.rule_id == plans[B].rule_id and plan is not plans[B]


async def drive(router: Router, clock: Clock, upstream: Upstream, count: int) -> Counter[str]:
    """`count` requests, one second apart, through plan + execute; which target served each."""
    served: Counter[str] = Counter()
    for _ in range(count):
        result = await router.execute(router.plan(request()), upstream)
        assert result.served_by is not None
        served[result.served_by.target] += 1
        clock.advance(1)
    return served


def speeds(upstream: Upstream, a_ms: float, b_ms: float) -> None:
    upstream.script = {A: [Outcome(200, tpot_ms=a_ms)], B: [Outcome(200, tpot_ms=b_ms)]}


async def test_latency_moves_to_the_faster_target_and_back_when_it_recovers(
    make_router: Callable[..., RouterUnderTest], clock: Clock
) -> None:
    router = make_router(*example("routing-latency.yaml"))
    upstream = Upstream()
    speeds(upstream, 60, 20)  # A is 3x slower
    warmup = await drive(router, clock, upstream, 20)
    assert warmup[A] >= 3, "unjudged targets get traffic until they have 3 samples"
    assert await drive(router, clock, upstream, 100) == Counter({B: 100})

    speeds(upstream, 20, 21)  # A recovers; it gets no traffic, so its old samples must age out
    assert await drive(router, clock, upstream, 50) == Counter({B: 50})
    clock.advance(20 * 60)  # the 20-minute window: A's last samples are now older than that
    shared = await drive(router, clock, upstream, 200)
    assert shared[A] > 60 and shared[B] > 60, f"within 1.2x of the fastest: both share traffic: {shared}"


async def test_latency_leaves_a_target_that_degrades(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-latency.yaml"))
    upstream = Upstream()
    speeds(upstream, 20, 20)
    await drive(router, clock, upstream, 40)
    speeds(upstream, 20, 200)
    # B's mean over its last (at most 100) calls crosses 1.2x A's within a handful of B calls.
    await drive(router, clock, upstream, 30)
    assert await drive(router, clock, upstream, 50) == Counter({A: 50})


def test_latency_window_counts_at_most_100_calls(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router()
    for _ in range(100):
        router.latency.record(A, clock.now, 1000.0)
    for _ in range(100):
        router.latency.record(A, clock.now, 10.0)
    view = router.latency.view(A, clock.now)
    assert (view.samples, view.mean_tpot_ms) == (100, 10.0)
    clock.advance(20 * 60 + 1)
    assert router.latency.view(A, clock.now).samples == 0


PREMIUM = "team:premium"


async def test_priority_fails_over_on_sla_breach_and_returns_after_cooldown(
    make_router: Callable[..., RouterUnderTest], clock: Clock
) -> None:
    router = make_router(*example("routing-priority.yaml"))
    assert [a.target for a in router.plan(request("any/model", PREMIUM)).attempts] == [A, B]
    assert router.plan(request("any/model", "team:other")).rule_id is None

    upstream = Upstream({A: [Outcome(200, tpot_ms=80)]})  # cutoff is 50 ms per output token
    result = await router.execute(router.plan(request("any/model", PREMIUM)), upstream)
    assert result.outcome.status == 200 and result.tries == [(A, 200)]

    assert [a.target for a in router.plan(request("any/model", PREMIUM)).attempts] == [B, A]
    clock.advance(59)
    assert router.plan(request("any/model", PREMIUM)).attempts[0].target == B
    clock.advance(2)  # the 60 s SLA cooldown is over: A is tried again
    assert router.plan(request("any/model", PREMIUM)).attempts[0].target == A


async def test_failures_mark_a_target_unhealthy_for_the_cooldown(
    make_router: Callable[..., RouterUnderTest], clock: Clock
) -> None:
    router = make_router(*example("routing-priority.yaml"))
    upstream = Upstream({A: [Outcome(503)]})
    # A answers 503 to the first try and both default retries, then B serves.
    result = await router.execute(router.plan(request("m", PREMIUM)), upstream, sleep=_no_sleep)
    assert result.tries == [(A, 503), (A, 503), (A, 503), (B, 200)]
    assert router.plan(request("m", PREMIUM)).attempts[0].target == B, "3 failures within 60 s"
    clock.advance(61)
    assert router.plan(request("m", PREMIUM)).attempts[0].target == A


async def test_two_failures_do_not_bench_a_target(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-priority.yaml"))
    for _ in range(2):
        router.record(router.plan(request("m", PREMIUM)).attempts[0], Outcome(500))
        clock.advance(40)  # 2 failures, 40 s apart: at most 2 in any 60 s window
    assert router.plan(request("m", PREMIUM)).attempts[0].target == A


async def _no_sleep(seconds: float) -> None:
    return None


def test_sla_marks_are_per_rule_failures_per_target(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    rules = [*example("routing-priority.yaml")[0]["rules"], *example("routing-weighted.yaml")[0]["rules"]]
    router = make_router({"name": "both", "type": "gateway-load-balancing-config", "rules": rules})
    router.record(router.plan(request("x", PREMIUM)).attempts[0], Outcome(200, tpot_ms=500))
    assert router.plan(request("x", PREMIUM)).attempts[0].target == B
    assert first_targets(router, 400)[A] > 200, "the weighted rule has no SLA cutoff: A stays in it"
    for _ in range(3):
        router.record(router.plan(request("x", PREMIUM)).attempts[-1], Outcome(503))
    assert first_targets(router, 200) == Counter({B: 200}), "failures bench A in every rule"
