"""`Limiter` (rate limits): the first matching rule, one counter per entity, token holds settled to real usage."""

from __future__ import annotations

import pytest

from tests.gateway.limits.conftest import T0, SyncLimits, caller, limiter, rule, rules
from tfy_gateway.gateway.limits import CompiledLimits, LimitPolicies, LimitRequest, Refused, Reservation
from tfy_gateway.gateway.limits.tokens import DEFAULT_COMPLETION_TOKENS


def admitted(limits: SyncLimits, compiled: CompiledLimits, request: LimitRequest, attempts: int) -> int:
    count = 0
    for _ in range(attempts):
        try:
            limits.reserve(compiled, request)
            count += 1
        except Refused:
            pass
    return count


def test_no_rule_or_no_matching_rule_admits_without_holding() -> None:
    limits, _ = limiter()
    assert limits.reserve(rules(), caller()) is None
    compiled = rules(rule("other-model", 0, when={"models": ["fake/other"]}))
    assert limits.reserve(compiled, caller()) is None
    assert len(limits.state) == 0


def test_a_shape_planned_without_a_counter_is_known_to_charge_nothing() -> None:
    limits, _ = limiter()
    policies = LimitPolicies(rate_limits=rules(rule("other-model", 0, when={"models": ["fake/other"]})))
    request = caller(metadata={"project": "p"})
    shape = (request.model, request.caller, request.subjects, request.metadata)
    assert not limits.limiter.charges_none(policies, *shape)  # never planned: unknown
    assert limits.reserve(policies, request) is None
    assert limits.limiter.charges_none(policies, *shape)
    assert not limits.limiter.charges_none(policies, "fake/other", *shape[1:])  # another model: not planned
    matching = LimitPolicies(rate_limits=rules(rule("all", 5)))  # a new config: its own plans
    assert not limits.limiter.charges_none(matching, *shape)
    assert limits.reserve(matching, request) is not None
    assert not limits.limiter.charges_none(matching, *shape)


def test_the_reservation_names_the_rule() -> None:
    limits, _ = limiter()
    reservation = limits.reserve(rules(rule("r", 5)), caller())
    assert reservation is not None and reservation.rate_limit is not None
    assert (reservation.rate_limit.rule_id, reservation.rate_limit.config_name) == ("r", "limits")


def test_the_first_matching_rule_decides_and_every_matching_rule_counts() -> None:
    limits, _ = limiter()
    compiled = rules(
        rule("alice-generous", 100, when={"subjects": ["user:alice@x"]}),
        rule("everyone-strict", 12),
    )
    # Alice is decided by the first rule only (the strict catch-all never refuses her), but the
    # catch-all counts her requests too (the platform's V1 deprecation notice): bob finds it fuller.
    assert admitted(limits, compiled, caller("alice@x"), 20) == 20
    assert admitted(limits, compiled, caller("bob@x"), 10) == 0
    reservation = limits.reserve(compiled, caller("alice@x"))
    assert (
        reservation is not None
        and reservation.rate_limit is not None
        and reservation.rate_limit.rule_id == "alice-generous"
    )


def test_a_later_token_rule_counts_the_estimate_capped_at_its_own_limit_then_the_real_usage() -> None:
    limits, _ = limiter()
    compiled = rules(
        rule("first", 10, when={"subjects": ["user:alice@x"]}),
        rule("tokens", 50, "tokens_per_minute"),
    )
    body = {"model": "fake/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 500}
    reservation = limits.reserve(compiled, caller("alice@x", body=body))
    assert reservation is not None and [h.amount for h in reservation.holds] == [1, 50]
    limits.settle(reservation, release=False, tokens=7)
    assert limits.used(reservation, 1) == 7
    # Counted only: the full token rule never refuses alice, whom the first rule decides.
    for _ in range(5):
        limits.reserve(compiled, caller("alice@x", body=body))
    assert limits.used(reservation, 1) == 7 + 5 * 50


def test_a_full_first_rule_refuses_even_if_a_later_rule_has_room() -> None:
    limits, _ = limiter()
    compiled = rules(rule("gpt4o", 1, when={"models": ["fake/gpt-4o"]}), rule("all", 100))
    limits.reserve(compiled, caller())
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, caller())
    assert refused.value.refusal.rule_id == "gpt4o"


def test_without_applies_per_matching_callers_share_one_counter() -> None:
    limits, _ = limiter()
    compiled = rules(rule("shared", 3))
    assert admitted(limits, compiled, caller("a@x"), 2) + admitted(limits, compiled, caller("b@x"), 5) == 3


@pytest.mark.parametrize(
    ("applies_per", "first", "second", "separate"),
    [
        (["user"], caller("a@x"), caller("b@x"), True),
        (["user"], caller("a@x", model="m1"), caller("a@x", model="m2"), False),
        (["model"], caller("a@x", model="m1"), caller("a@x", model="m2"), True),
        (["model"], caller("a@x", model="m1"), caller("b@x", model="m1"), False),
        (["virtualaccount"], caller("virtualaccount:va1"), caller("virtualaccount:va2"), True),
        (["metadata.project"], caller(metadata={"project": "p1"}), caller(metadata={"project": "p2"}), True),
        (
            ["metadata.project"],
            caller("a@x", metadata={"project": "p"}),
            caller("b@x", metadata={"project": "p"}),
            False,
        ),
        (["user", "model"], caller("a@x", model="m1"), caller("a@x", model="m2"), True),
        (["user", "model"], caller("a@x", model="m1"), caller("a@x", model="m1"), False),
        (["team"], caller("a@x", teams=("t1",)), caller("b@x", teams=("t2",)), True),
        (["team"], caller("a@x", teams=("t1",)), caller("b@x", teams=("t1",)), False),
    ],
)
def test_applies_per_gives_one_counter_per_entity_combination(
    applies_per: list[str], first: LimitRequest, second: LimitRequest, separate: bool
) -> None:
    limits, _ = limiter()
    compiled = rules(rule("r", 2, when={"models": ["*"]}, rate_limit_applies_per=applies_per))
    assert admitted(limits, compiled, first, 5) == 2
    assert admitted(limits, compiled, second, 5) == (2 if separate else 0)


def test_a_user_is_not_lumped_with_other_callers_under_virtualaccount() -> None:
    limits, _ = limiter()
    compiled = rules(rule("per-va", 1, rate_limit_applies_per=["virtualaccount"]))
    assert admitted(limits, compiled, caller("a@x"), 3) == 1
    assert admitted(limits, compiled, caller("b@x"), 3) == 1


def test_a_caller_in_two_teams_must_fit_in_both_team_counters() -> None:
    limits, _ = limiter()
    compiled = rules(rule("per-team", 2, rate_limit_applies_per=["team"]))
    assert admitted(limits, compiled, caller("a@x", teams=("t1", "t2")), 1) == 1
    assert admitted(limits, compiled, caller("b@x", teams=("t2",)), 5) == 1  # t2 already holds a's request
    assert admitted(limits, compiled, caller("c@x", teams=("t1",)), 5) == 1
    assert admitted(limits, compiled, caller("d@x"), 5) == 2, "no team: a counter of its own"
    # A refusal holds nothing: t1 and t3 are untouched by the refused attempt of a (t1, t3) member.
    assert admitted(limits, compiled, caller("e@x", teams=("t3", "t1")), 1) == 0
    assert admitted(limits, compiled, caller("f@x", teams=("t3",)), 5) == 2


def test_a_metadata_rule_only_matches_requests_carrying_the_key() -> None:
    limits, _ = limiter()
    compiled = rules(
        rule("per-project", 1, rate_limit_applies_per=["metadata.project"]),
        rule("fallback", 3),
    )
    assert admitted(limits, compiled, caller(metadata={"project": "p"}), 5) == 1
    reservation = limits.reserve(compiled, caller())
    assert (
        reservation is not None and reservation.rate_limit is not None and reservation.rate_limit.rule_id == "fallback"
    )


def test_a_zero_limit_refuses_everything_without_a_retry_time() -> None:
    limits, _ = limiter()
    with pytest.raises(Refused) as refused:
        limits.reserve(rules(rule("blocked", 0)), caller())
    assert refused.value.refusal.retry_after_s is None
    assert "'blocked'" in str(refused.value) and "every request it matches is refused" in str(refused.value)


def test_the_refusal_names_rule_limit_unit_scope_and_when_to_retry() -> None:
    limits, clock = limiter()
    compiled = rules(rule("per-user", 3, rate_limit_applies_per=["user"]))
    for _ in range(3):
        limits.reserve(compiled, caller())
    clock.now = T0 + 17.5
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, caller())
    message = str(refused.value)
    assert "Rate limit 'per-user' exceeded" in message
    assert "3 requests per minute for user user:a@x" in message
    assert "Capacity frees up in 43 s" in message
    assert refused.value.refusal.retry_after_s == pytest.approx(42.5)


# --- token units ---------------------------------------------------------------------------------


def chat(max_tokens: int | None = None, content: str = "x" * 40) -> dict[str, object]:
    body: dict[str, object] = {"model": "fake/gpt-4o", "messages": [{"role": "user", "content": content}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


def held(reservation: Reservation | None) -> int:
    assert reservation is not None
    return sum(hold.amount for hold in reservation.holds)


def test_tokens_hold_the_prompt_estimate_plus_the_output_cap() -> None:
    limits, _ = limiter()
    compiled = rules(rule("tpm", 10_000, "tokens_per_minute"))
    assert held(limits.reserve(compiled, caller(body=chat(100)))) == 10 + 100
    assert held(limits.reserve(compiled, caller(body=chat()))) == 10 + DEFAULT_COMPLETION_TOKENS
    assert held(limits.reserve(compiled, caller(body={"model": "e", "input": "y" * 8}, generates=False))) == 2


def test_token_holds_settle_to_the_real_usage() -> None:
    limits, _ = limiter()
    compiled = rules(rule("tpm", 1_000, "tokens_per_minute"))
    first = limits.reserve(compiled, caller(body=chat(490)))  # holds 500
    assert first is not None
    with pytest.raises(Refused):  # 500 + 600 > 1000
        limits.reserve(compiled, caller(body=chat(590)))
    limits.settle(first, release=False, tokens=30)  # it used 30
    assert limits.reserve(compiled, caller(body=chat(590))) is not None  # 30 + 600
    assert limits.used(first) == 630


def test_usage_above_the_estimate_is_charged_and_blocks_later_requests() -> None:
    limits, clock = limiter()
    compiled = rules(rule("tpm", 1_000, "tokens_per_minute"))
    reservation = limits.reserve(compiled, caller(body=chat(10)))
    assert reservation is not None
    limits.settle(reservation, release=False, tokens=1_500)
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, caller(body=chat(10)))
    assert refused.value.refusal.used == 1_500
    clock.now = T0 + 60
    assert limits.reserve(compiled, caller(body=chat(10))) is not None


def test_release_gives_back_everything_held() -> None:
    limits, _ = limiter()
    requests, tokens = rules(rule("rpm", 1)), rules(rule("tpm", 100, "tokens_per_minute"))
    for compiled, body in ((requests, chat()), (tokens, chat(80))):
        reservation = limits.reserve(compiled, caller(body=body))
        assert reservation is not None
        with pytest.raises(Refused):
            limits.reserve(compiled, caller(body=body))
        limits.settle(reservation, release=True, tokens=None)
        assert limits.reserve(compiled, caller(body=body)) is not None


def test_settling_keeps_request_holds_and_unknown_usage_keeps_the_estimate() -> None:
    limits, _ = limiter()
    compiled = rules(rule("rpm", 1))
    reservation = limits.reserve(compiled, caller())
    assert reservation is not None
    limits.settle(reservation, release=False, tokens=0)
    with pytest.raises(Refused):
        limits.reserve(compiled, caller())
    tpm = rules(rule("tpm", 1_000, "tokens_per_minute"))
    reservation = limits.reserve(tpm, caller(body=chat(90)))
    assert reservation is not None
    limits.settle(reservation, release=False, tokens=None)
    assert limits.used(reservation) == 100


def test_an_estimate_above_the_limit_holds_the_whole_limit_and_needs_an_empty_window() -> None:
    limits, clock = limiter()
    compiled = rules(rule("tpm", 1_000, "tokens_per_minute"))
    reservation = limits.reserve(compiled, caller(body=chat(5_000)))
    assert reservation is not None and held(reservation) == 1_000
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, caller(body=chat(5_000)))
    assert refused.value.refusal.need == 1_000
    assert "estimated 1000 tokens" in str(refused.value)
    limits.settle(reservation, release=False, tokens=200)
    with pytest.raises(Refused):
        limits.reserve(compiled, caller(body=chat(5_000)))
    clock.now = T0 + 60
    assert limits.reserve(compiled, caller(body=chat(5_000))) is not None


def test_a_settle_after_the_window_moved_on_changes_nothing() -> None:
    limits, clock = limiter()
    compiled = rules(rule("tpm", 1_000, "tokens_per_minute"))
    long_stream = limits.reserve(compiled, caller(body=chat(90)))
    clock.now = T0 + 120
    fresh = limits.reserve(compiled, caller(body=chat(90)))
    assert long_stream is not None and fresh is not None
    limits.settle(long_stream, release=False, tokens=900)
    assert limits.used(fresh) == 100


def test_remembered_windows_follow_the_clock_both_ways() -> None:
    """The bucket of each period is remembered while the clock stays in it; a clock that crosses a
    boundary (forwards, or back as a test clock may) gets the period's own answer every time."""
    from tfy_gateway.gateway.limits.calendar import CALENDAR
    from tfy_gateway.gateway.limits.limiter import Limiter
    from tfy_gateway.gateway.limits.memory import MemoryLimitState
    from tfy_gateway.gateway.limits.window import PERIODS

    limiter_ = Limiter(MemoryLimitState())
    periods = [*PERIODS.values(), *CALENDAR.values()]
    quarter_end = 1_790_812_800.0  # 2026-10-01 00:00 UTC: a day, month and quarter boundary
    moments = [quarter_end - 1, quarter_end - 0.001, quarter_end, quarter_end + 0.5, quarter_end - 7200, T0, T0 + 601]
    for now in moments * 2:
        for period in periods:
            bucket = period.index(now)
            assert limiter_._window(period, now) == (bucket, period.expires_at(bucket)), (period.name, now)


def test_each_policies_version_keeps_its_own_plans() -> None:
    """The limiter remembers plans per compiled `LimitPolicies`: alternating versions never mix."""
    limits, _ = limiter()
    strict, loose = LimitPolicies(rules(rule("r", 1))), LimitPolicies(rules(rule("r", 3)))
    assert limits.reserve(strict, caller()) is not None
    assert limits.reserve(loose, caller()) is not None  # the same counter (rule id and unit): 2 of 3
    with pytest.raises(Refused):
        limits.reserve(strict, caller())  # 2 held, strict allows 1: the strict version's plan decided
    assert limits.reserve(loose, caller()) is not None
    with pytest.raises(Refused):
        limits.reserve(loose, caller())
