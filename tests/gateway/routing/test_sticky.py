"""Sticky routing: same identifiers, same target for the TTL; re-picked after expiry or ill health."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from tests.gateway.routing.conftest import Clock, RouterUnderTest, Sleeps, Upstream, example, request
from tfy_gateway.gateway.routing import Outcome, Router

A, B = "openai-main/gpt-4o", "azure-backup/gpt-4o"


def target_for(router: Router, user: str | None, **extra: str) -> str:
    headers = {"x-user-id": user} if user is not None else {}
    return router.plan(request(headers={**headers, **extra})).attempts[0].target


def test_same_header_same_target_for_the_ttl(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-sticky.yaml"))
    pins = {user: target_for(router, user) for user in (f"u{i}" for i in range(40))}
    assert set(pins.values()) == {A, B}, "sessions spread by weight"
    for _ in range(5):
        clock.advance(600)  # 3000 s of the 3600 s TTL
        assert {user: target_for(router, user) for user in pins} == pins


def test_pins_expire_after_the_ttl_and_are_re_picked(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-sticky.yaml"))
    pins = {user: target_for(router, user) for user in (f"u{i}" for i in range(40))}
    clock.advance(3601)
    again = {user: target_for(router, user) for user in pins}
    assert again != pins, "after the TTL each session is drawn again (50/50)"
    clock.advance(1800)
    assert {user: target_for(router, user) for user in pins} == again, "and pinned again"


def test_requests_without_identifiers_are_not_sticky(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(*example("routing-sticky.yaml"))
    plan = router.plan(request())
    assert plan.sticky_key is None
    assert set(Counter(target_for(router, None) for _ in range(100))) == {A, B}
    assert set(Counter(target_for(router, "") for _ in range(100))) == {A, B}, "an empty value is missing"


def test_an_unhealthy_pin_is_re_picked(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-sticky.yaml"))
    users = [f"u{i}" for i in range(20)]
    pins = {user: target_for(router, user) for user in users}
    on_a = [user for user, target in pins.items() if target == A]
    assert on_a
    router.backend.mark_unhealthy(A, clock.now + 60)
    assert {target_for(router, user) for user in on_a} == {B}
    clock.advance(120)  # A is healthy again, but the sessions were re-pinned to B
    assert {target_for(router, user) for user in on_a} == {B}


async def test_a_session_follows_its_fallback(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-sticky.yaml"))
    plan = router.plan(request(headers={"x-user-id": "carol"}))
    first, second = (a.target for a in plan.attempts)
    upstream = Upstream({first: [Outcome(503)]})
    result = await router.execute(plan, upstream, sleep=Sleeps())
    assert result.served_by is not None and result.served_by.target == second
    assert target_for(router, "carol") == second


def test_identifiers_from_metadata_and_case_insensitive_headers(make_router: Callable[..., RouterUnderTest]) -> None:
    config = example("routing-sticky.yaml")[0]
    rule = config["rules"][0]
    rule["sticky_routing"]["session_identifiers"] = [
        {"source": "headers", "key": "X-Session"},
        {"source": "metadata", "key": "tenant"},
    ]
    router = make_router(config)
    only_header = router.plan(request(headers={"x-session": "s1"}))
    assert only_header.sticky_key is None, "every identifier is needed"
    both = request(headers={"x-session": "s1"}, metadata={"tenant": "t1"})
    targets = {router.plan(both).attempts[0].target for _ in range(30)}
    assert len(targets) == 1 and router.plan(both).sticky_key is not None
