"""`MemoryLimitState`: atomic check-and-add over many counters, windows, expiry and settling."""

from __future__ import annotations

import math

from tests.gateway.limits.conftest import T0, Clock
from tfy_gateway.gateway.limits import MemoryLimitState
from tfy_gateway.gateway.limits.state import Adjustment, Batch, Charge, Probe, Settlement


def charge(key: str, amount: int, limit: int | None, *, bucket: int = 100, span: int = 6, **extra: object) -> Charge:
    fields: dict[str, object] = {"need": amount, "enforce": True, "expires_at": T0 + 60, **extra}
    return Charge(key, bucket, span, amount, limit=limit, **fields)  # type: ignore[arg-type]


def window(state: MemoryLimitState, key: str, bucket: int = 100, span: int = 6) -> int:
    return state.read_now([Probe(key, bucket, span)])[0]


def test_every_amount_is_added_only_when_every_enforced_check_passes() -> None:
    state = MemoryLimitState(Clock(T0))
    first = state.reserve_now(Batch.of([charge("a", 3, 5), charge("b", 3, 3)]))
    assert first.admitted and first.used == (0, 0)
    refused = state.reserve_now(Batch.of([charge("a", 1, 5), charge("b", 1, 3), charge("c", 7, None)]))
    assert not refused.admitted and refused.refused == (1,)
    assert (window(state, "a"), window(state, "b"), window(state, "c")) == (3, 3, 0), "a refusal adds nothing"


def test_an_unenforced_check_is_reported_and_still_admitted() -> None:
    state = MemoryLimitState(Clock(T0))
    audit = state.reserve_now(Batch.of([charge("a", 10, 5, enforce=False)]))
    assert audit.admitted and audit.refused == (0,)
    assert window(state, "a") == 10


def test_the_window_sums_its_span_and_counts_newer_buckets() -> None:
    state = MemoryLimitState(Clock(T0))
    state.reserve_now(Batch.of([charge("a", 2, None, bucket=100)]))
    state.reserve_now(Batch.of([charge("a", 5, None, bucket=103)]))
    assert window(state, "a", 103) == 7
    assert window(state, "a", 105) == 7 and window(state, "a", 106) == 5
    assert window(state, "a", 99) == 7, "a replica whose clock lags still sees newer buckets"


def test_frees_names_the_oldest_bucket_whose_expiry_makes_room() -> None:
    state = MemoryLimitState(Clock(T0))
    state.reserve_now(Batch.of([charge("a", 2, None, bucket=100)]))
    state.reserve_now(Batch.of([charge("a", 3, None, bucket=102)]))
    one = state.reserve_now(Batch.of([charge("a", 1, 5, bucket=103)]))
    assert one.refused == (0,) and one.frees == (100,)
    four = state.reserve_now(Batch.of([charge("a", 4, 5, bucket=103)]))
    assert four.frees == (102,)
    never = state.reserve_now(Batch.of([charge("a", 9, 5, bucket=103)]))
    assert never.frees == (None,), "a need larger than the limit never fits"


def test_oldest_reports_the_oldest_bucket_still_holding_something() -> None:
    state = MemoryLimitState(Clock(T0))
    state.reserve_now(Batch.of([charge("a", 2, None, bucket=100)]))
    admission = state.reserve_now(Batch.of([charge("a", 1, 10, bucket=104), charge("b", 1, 10, bucket=104)]))
    assert admission.oldest == (100, 104)


def test_adjust_corrects_a_bucket_never_below_zero_and_returns_the_totals() -> None:
    state = MemoryLimitState(Clock(T0))
    state.reserve_now(Batch.of([charge("a", 10, None)]))
    assert state.adjust_now(Settlement.of([Adjustment("a", 100, 6, -4)])) == (6,)
    assert state.adjust_now(Settlement.of([Adjustment("a", 100, 6, -100)])) == (0,)
    assert state.adjust_now(Settlement.of([Adjustment("gone", 100, 6, 5), Adjustment("a", 90, 6, 5)])) == (0, 0)


def test_counters_are_dropped_once_they_expire() -> None:
    clock = Clock(T0)
    state = MemoryLimitState(clock)
    for user in range(1000):
        state.reserve_now(Batch.of([charge(f"u{user}", 1, None, expires_at=T0 + 60)]))
    state.reserve_now(Batch.of([charge("kept", 1, None, expires_at=T0 + 60)]))
    state.reserve_now(Batch.of([charge("kept", 1, None, expires_at=T0 + 120)]))  # charged again later: lives longer
    state.reserve_now(Batch.of([charge("forever", 1, None, span=1, expires_at=math.inf)]))
    assert len(state) == 1002
    clock.now = T0 + 60
    assert window(state, "u1") == 0
    assert len(state) == 2
    changed, gone = state.take_dirty()
    assert {key for key, _, _ in changed} == {"kept", "forever"} and len(gone) == 1000


def test_hold_now_adds_as_reserve_now_does_and_answers_what_each_window_held() -> None:
    held, reserved = MemoryLimitState(Clock(T0)), MemoryLimitState(Clock(T0))
    batches = [
        [charge("a", 2, None, bucket=100), charge("b", 5, 10, bucket=100, span=1)],
        [charge("a", 3, 9, bucket=103), charge("b", 4, 10, bucket=100, span=1)],
        [charge("a", 1, 9, bucket=107), charge("b", 0, 10, bucket=100, span=1)],  # a's bucket 100 left the window
    ]
    for charges in batches:
        admission = reserved.reserve_now(Batch.of(charges))
        assert held.hold_now(Batch.of(charges)) == list(admission.used)
        for position, c in enumerate(charges):
            assert held.oldest_now(c.key, c.bucket, c.span) == admission.oldest[position]
            assert window(held, c.key, c.bucket, c.span) == window(reserved, c.key, c.bucket, c.span)
    assert [used for used in reserved.reserve_now(Batch.of(batches[-1])).used] == [4, 9]


def test_hold_now_checks_every_limited_counter_and_sums_no_window_it_never_checks() -> None:
    state = MemoryLimitState(Clock(T0))
    assert state.hold_now(Batch.of([charge("a", 3, None), charge("b", 2, 5)])) == [0, 0]
    assert state.hold_now(Batch.of([charge("a", 3, None), charge("b", 2, 5)])) == [0, 2], "a: counted, not read"
    assert state.hold_now(Batch.of([charge("a", 1, None), charge("c", 6, 5)])) is None, "c: 6 never fits in 5"
    assert state.hold_now(Batch.of([charge("a", 1, None), charge("b", 2, 5)])) is None, "b: 4 + 2 > 5"
    assert (window(state, "a"), window(state, "b"), window(state, "c")) == (6, 4, 0)


def test_hold_now_changes_nothing_when_any_check_fails_or_a_counter_comes_twice() -> None:
    state = MemoryLimitState(Clock(T0))
    assert state.hold_now(Batch.of([charge("a", 4, 5)])) == [0]
    assert state.hold_now(Batch.of([charge("b", 1, 5), charge("a", 2, 5, enforce=False)])) is None, (
        "audit: answered by reserve_now"
    )
    assert state.hold_now(Batch.of([charge("b", 1, 5), charge("b", 1, 5)])) is None, "one counter twice"
    assert state.hold_now(Batch.of([charge("b", 1, 5)])._replace(dry=True)) is None
    assert (window(state, "a"), window(state, "b"), len(state)) == (4, 0, 1)
    assert state.take_dirty() == ([("a", {100: 4}, T0 + 60)], [])
