"""`CounterPlan.window_at`: every counter's bucket and expiry, shared by requests until one changes."""

from __future__ import annotations

from tests.gateway.limits.conftest import T0
from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT
from tfy_gateway.gateway.limits.calendar import CALENDAR
from tfy_gateway.gateway.limits.limiter import Limiter
from tfy_gateway.gateway.limits.memory import MemoryLimitState
from tfy_gateway.gateway.limits.plan import CounterPlan, Slot, least_reaching
from tfy_gateway.gateway.limits.rules import LimitRule
from tfy_gateway.gateway.limits.window import PERIODS


def plan() -> CounterPlan:
    """One counter per period, minute to lifetime (the owner is never read by `window_at`)."""
    owner = LimitRule.__new__(LimitRule)
    periods = [*PERIODS.values(), *CALENDAR.values()]
    slots = [
        Slot(f"k{i}", period, period.span, None, True, "requests", "request", owner, ())
        for i, period in enumerate(periods)
    ]
    return CounterPlan(slots, [AppliedRule("rate_limit", "c", "r")])


def test_the_plan_window_is_every_period_own_answer_and_shared_within_a_sub_bucket() -> None:
    limiter = Limiter(MemoryLimitState())
    counters = plan()
    quarter_end = 1_790_812_800.0  # 2026-10-01 00:00 UTC: a day, month and quarter boundary
    moments = [T0, T0 + 5, T0 + 9.999, T0 + 10, T0 + 601, quarter_end - 1, quarter_end, quarter_end - 7200, T0 + 3]
    for now in moments * 2:
        _, _, buckets, expiries = counters.window_at(now, limiter._period_window)
        expected = [period.index(now) for period in counters.periods]
        assert list(buckets) == expected, now
        assert list(expiries) == [p.expires_at(b) for p, b in zip(counters.periods, expected, strict=True)], now
    first = counters.window_at(T0 + 1, limiter._period_window)
    assert counters.window_at(T0 + 9, limiter._period_window) is first, "one minute sub-bucket: the same window"
    assert counters.window_at(T0 + 10, limiter._period_window)[2][0] == first[2][0] + 1


def test_amounts_and_needs_follow_what_each_counter_holds() -> None:
    owner = LimitRule.__new__(LimitRule)
    minute, day = PERIODS["minute"], CALENDAR["day"]
    slots = [
        Slot("requests", minute, 6, 10, True, "requests", "request", owner, ()),
        Slot("tokens", minute, 6, 500, True, "tokens", "tokens", owner, (), cap=500),
        Slot("cost", day, 1, 10**9, True, "cost", "cost", owner, ()),
        Slot("budget-tokens", day, 1, 10**6, True, "tokens", "budget-tokens", owner, ()),
    ]
    counters = CounterPlan(slots, [])
    amounts = counters.amounts(tokens=800, cost=1234)
    assert amounts == [1, 500, 1234, 800], "a token rate limit holds at most its own limit"
    assert counters.needs(amounts) == [1, 500, 1, 1], "a budget needs room for 1: spend below its limit"
    assert counters.holds(tokens=800, cost=1234) == (amounts, [1, 500, 1, 1])
    assert counters.holds(tokens=7, cost=0) == ([1, 7, 0, 7], [1, 7, 1, 1]), "each request its own lists"
    assert counters.amounts(tokens=2**60, cost=1)[3] == 2**53 - 1, "tokens held within a counter's range"
    assert counters.token_positions == (1, 3) and counters.cost_positions == (2,)
    assert counters.ones is None and CounterPlan(slots[:1], []).ones == (1,)


def test_least_reaching_is_the_first_total_whose_percentage_reaches_the_threshold() -> None:
    for limit in (1, 3, 7, 100, 999_999_937, 10**18, MAX_AMOUNT):
        for percent in (0.0, 1e-9, 33.333, 50, 75.0, 99.99999, 100.0, 250.5):
            least = least_reaching(limit, percent)
            assert least <= MAX_AMOUNT + 1
            if least <= MAX_AMOUNT:
                assert least * 100 / limit >= percent, (limit, percent)
            if least > 0:
                assert (least - 1) * 100 / limit < percent, (limit, percent)
    assert least_reaching(10**18, 1e9) == MAX_AMOUNT + 1, "out of every counter's reach"
