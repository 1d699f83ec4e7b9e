"""`RedisLimitState` against a real redis-server, and the same semantic cases against
`MemoryLimitState`: the shared store must decide exactly what the in-process one decides."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from tests.helpers import NOT_BLOCKED_S
from tests.redis_server import RedisServer
from tfy_gateway.gateway.limits import MemoryLimitState
from tfy_gateway.gateway.limits.failover import FailoverLimitState, Policy, StateUnavailable
from tfy_gateway.gateway.limits.redis_state import RedisLimitState
from tfy_gateway.gateway.limits.state import (
    MAX_AMOUNT,
    Adjustment,
    Batch,
    Charge,
    Counters,
    LimitState,
    Probe,
    Settlement,
)
from tfy_gateway.gateway.shared.breaker import CircuitBreaker
from tfy_gateway.gateway.shared.redis import RedisLink, StateStoreDown

HOUR = 3600.0


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest, redis_server: RedisServer) -> AsyncIterator[LimitState]:
    if request.param == "memory":
        yield MemoryLimitState()
        return
    link = RedisLink(redis_server.url, timeout_s=5.0, breaker=CircuitBreaker(1000, 0.01))
    try:
        yield RedisLimitState(link, prefix="test-" + uuid.uuid4().hex)  # every test its own keys
    finally:
        await link.aclose()


def charge(key: str, amount: int, limit: int | None, *, bucket: int = 100, span: int = 6, **extra: object) -> Charge:
    fields: dict[str, object] = {"need": amount, "enforce": True, "expires_at": time.time() + HOUR, **extra}
    return Charge(key, bucket, span, amount, limit=limit, **fields)  # type: ignore[arg-type]


async def window(state: LimitState, key: str, bucket: int = 100, span: int = 6) -> int:
    return (await state.read([Probe(key, bucket, span)]))[0]


async def test_every_amount_is_added_only_when_every_enforced_check_passes(state: LimitState) -> None:
    first = await state.reserve(Batch.of([charge("a", 3, 5), charge("b", 3, 3)]))
    assert first.admitted and first.used == (0, 0) and first.refused == ()
    refused = await state.reserve(Batch.of([charge("a", 1, 5), charge("b", 1, 3), charge("c", 7, None)]))
    assert not refused.admitted and refused.refused == (1,) and refused.used == (3, 3, 0)
    assert (await window(state, "a"), await window(state, "b"), await window(state, "c")) == (3, 3, 0)


async def test_an_unenforced_check_is_reported_and_still_admitted(state: LimitState) -> None:
    audit = await state.reserve(Batch.of([charge("a", 10, 5, enforce=False)]))
    assert audit.admitted and audit.refused == (0,) and audit.frees == (None,)
    assert await window(state, "a") == 10


async def test_the_window_sums_its_span_and_counts_newer_buckets(state: LimitState) -> None:
    await state.reserve(Batch.of([charge("a", 2, None, bucket=100)]))
    await state.reserve(Batch.of([charge("a", 5, None, bucket=103)]))
    assert await window(state, "a", 103) == 7
    assert await window(state, "a", 105) == 7 and await window(state, "a", 106) == 5
    assert await window(state, "a", 99) == 7, "a replica whose clock lags still sees newer buckets"


async def test_buckets_that_left_the_window_are_dropped_when_a_new_bucket_is_added(state: LimitState) -> None:
    await state.reserve(Batch.of([charge("a", 2, None, bucket=100)]))
    await state.reserve(Batch.of([charge("a", 3, None, bucket=107)]))  # 100 <= 107 - 6: dropped
    assert await window(state, "a", 107, span=100) == 3


async def test_frees_names_the_oldest_bucket_whose_expiry_makes_room(state: LimitState) -> None:
    await state.reserve(Batch.of([charge("a", 2, None, bucket=100)]))
    await state.reserve(Batch.of([charge("a", 3, None, bucket=102)]))
    one = await state.reserve(Batch.of([charge("a", 1, 5, bucket=103)]))
    assert one.refused == (0,) and one.frees == (100,) and one.used == (5,)
    four = await state.reserve(Batch.of([charge("a", 4, 5, bucket=103)]))
    assert four.frees == (102,)
    never = await state.reserve(Batch.of([charge("a", 9, 5, bucket=103)]))
    assert never.frees == (None,), "a need larger than the limit never fits"
    empty = await state.reserve(Batch.of([charge("nothing", 9, 5)]))
    assert empty.refused == (0,) and empty.frees == (None,)


async def test_oldest_reports_the_oldest_bucket_still_holding_something(state: LimitState) -> None:
    await state.reserve(Batch.of([charge("a", 2, None, bucket=100)]))
    admission = await state.reserve(Batch.of([charge("a", 1, 10, bucket=104), charge("b", 1, 10, bucket=104)]))
    assert admission.oldest == (100, 104)
    refused = await state.reserve(Batch.of([charge("c", 1, 0)]))
    assert refused.oldest == (None,), "a refused request adds nothing, so an empty counter stays empty"


async def test_an_amount_of_zero_checks_and_adds_nothing(state: LimitState) -> None:
    dry = await state.reserve(Batch.of([charge("a", 0, 5, need=1)]))
    assert dry.admitted and dry.oldest == (None,)
    assert await window(state, "a") == 0
    assert await state.scan('["a', 100, 6) == [], "a zero amount creates no counter"


async def test_a_refusal_reports_every_failing_check_unenforced_ones_too(state: LimitState) -> None:
    await state.reserve(Batch.of([charge("a", 5, None), charge("b", 5, None)]))
    admission = await state.reserve(Batch.of([charge("a", 1, 5, enforce=False), charge("b", 1, 5), charge("c", 1, 5)]))
    assert not admission.admitted and admission.refused == (0, 1) and admission.frees == (100, 100)
    assert admission.used == (5, 5, 0)


async def test_large_cost_amounts_stay_exact(state: LimitState) -> None:
    nine_million_usd = 9_000_000 * 1_000_000_000 + 123_456_789
    admission = await state.reserve(Batch.of([charge("spend", nine_million_usd, nine_million_usd + 1, span=1, need=1)]))
    assert admission.admitted
    assert await window(state, "spend", span=1) == nine_million_usd
    assert await state.adjust(Settlement.of([Adjustment("spend", 100, 1, -123_456_788)])) == (
        nine_million_usd - 123_456_788,
    )


async def test_no_amount_takes_a_counter_out_of_its_range(state: LimitState) -> None:
    """A `max_tokens: 1e18` once wrapped a Redis budget counter past int64 (-$9.2e9 spent): whatever
    amounts a store is handed, every bucket and window stays within [0, MAX_AMOUNT]."""
    beyond_int64 = 10**19
    assert (await state.reserve(Batch.of([charge("huge", beyond_int64, None, span=1)]))).admitted
    assert await window(state, "huge", span=1) == MAX_AMOUNT
    again = await state.reserve(Batch.of([charge("huge", beyond_int64, None, span=1)]))
    assert again.used == (MAX_AMOUNT,) and await window(state, "huge", span=1) == MAX_AMOUNT
    assert await state.adjust(Settlement.of([Adjustment("huge", 100, 1, beyond_int64)])) == (MAX_AMOUNT,)
    assert await state.adjust(Settlement.of([Adjustment("huge", 100, 1, -3 * beyond_int64)])) == (0,)
    for bucket in range(100, 104):  # a window of full buckets sums to no more than the range either
        await state.reserve(Batch.of([charge("full", MAX_AMOUNT, None, bucket=bucket)]))
    assert await window(state, "full", 103) == MAX_AMOUNT
    refused = await state.reserve(Batch.of([charge("full", 1, MAX_AMOUNT, bucket=103)]))
    assert not refused.admitted and refused.used == (MAX_AMOUNT,)
    assert (await state.reserve(Batch.of([charge("negative", -5, None)]))).admitted
    assert await window(state, "negative") == 0


async def test_adjust_corrects_a_bucket_never_below_zero_and_returns_the_totals(state: LimitState) -> None:
    await state.reserve(Batch.of([charge("a", 10, None)]))
    assert await state.adjust(Settlement.of([Adjustment("a", 100, 6, -4)])) == (6,)
    assert await state.adjust(Settlement.of([Adjustment("a", 100, 6, -100)])) == (0,)
    assert await state.adjust(Settlement.of([Adjustment("gone", 100, 6, 5), Adjustment("a", 90, 6, 5)])) == (0, 0)
    assert await state.adjust(Settlement.of([Adjustment("a", 100, 6, 7), Adjustment("a", 100, 6, 0)])) == (7, 7)


def unwatched(adjustments: list[Adjustment]) -> Settlement:
    """A settlement that asks for no total: Redis adds without reading the counters."""
    return Settlement.of(adjustments)._replace(watched=())


async def test_a_settlement_that_wants_no_total_corrects_the_same_buckets(state: LimitState) -> None:
    """No total asked for: the same corrections as with one (held buckets only, within [0, MAX])."""
    await state.reserve(Batch.of([charge("a", 10, None, bucket=100), charge("b", 4, None, span=1)]))
    assert await state.adjust(unwatched([Adjustment("a", 100, 6, -4), Adjustment("b", 100, 1, 3)])) == ()
    assert (await window(state, "a"), await window(state, "b", span=1)) == (6, 7)
    assert await state.adjust(unwatched([Adjustment("a", 100, 6, -100), Adjustment("b", 100, 1, 10**19)])) == ()
    assert (await window(state, "a"), await window(state, "b", span=1)) == (0, MAX_AMOUNT)
    await state.adjust(
        unwatched([Adjustment("gone", 100, 6, 5), Adjustment("a", 90, 6, 5), Adjustment("a", 101, 6, 5)])
    )
    assert await window(state, "gone") == 0 and await window(state, "a", 101) == 0, "buckets not held stay alone"
    await state.adjust(unwatched([Adjustment("a", 100, 6, 7), Adjustment("a", 100, 6, 2)]))
    assert await window(state, "a") == 9
    await state.reserve(Batch.of([charge("c", 5, None), charge("d", 5, None)]))
    mixed = Settlement.of([Adjustment("c", 100, 6, 2), Adjustment("d", 100, 6, -1), Adjustment("c", 100, 6, 1)])
    assert await state.adjust(mixed._replace(watched=(2, 1))) == (8, 4), "totals in the order watched"
    assert await state.adjust(mixed._replace(watched=(1,))) == (3,)
    assert (await window(state, "c"), await window(state, "d")) == (11, 3)


async def test_scan_lists_the_live_counters_under_a_prefix_literally(state: LimitState) -> None:
    await state.reserve(Batch.of([charge('["rl","r1","u"]', 2, None), charge('["rl","r1","v"]', 3, None, bucket=99)]))
    await state.reserve(Batch.of([charge('["rl","r2","u"]', 4, None), charge('["rl","r*","u"]', 5, None)]))
    assert sorted(await state.scan('["rl","r1"', 100, 6)) == [('["rl","r1","u"]', 2), ('["rl","r1","v"]', 3)]
    assert await state.scan('["rl","r*"', 100, 6) == [('["rl","r*","u"]', 5)], "glob characters match literally"


async def test_counters_are_dropped_once_they_expire(state: LimitState) -> None:
    soon = time.time() + 0.3
    await state.reserve(Batch.of([charge("short", 1, None, expires_at=soon)]))
    await state.reserve(Batch.of([charge("kept", 1, None, expires_at=soon)]))
    await state.reserve(
        Batch.of([charge("kept", 1, None, expires_at=soon + HOUR)])
    )  # charged again later: lives longer
    await state.reserve(Batch.of([charge("forever", 1, None, span=1, expires_at=math.inf)]))
    await state.reserve(Batch.of([charge("forever", 1, None, span=1, expires_at=soon)]))  # never shortens "never"
    deadline = time.monotonic() + 30
    while await window(state, "short") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await window(state, "short") == 0
    assert await window(state, "kept") == 2 and await window(state, "forever", span=1) == 2
    assert sorted(key for key, _ in await state.scan("", 100, 6)) == ["forever", "kept"]


async def test_concurrent_reservations_never_admit_more_than_the_limit(state: LimitState) -> None:
    answers = await asyncio.gather(
        *(state.reserve(Batch.of([charge("burst", 1, 100), charge("other", 1, None)])) for _ in range(300))
    )
    assert sum(answer.admitted for answer in answers) == 100
    assert await window(state, "burst") == 100 and await window(state, "other") == 100


# --- Redis specifics ---------------------------------------------------------------------------


async def test_counters_carry_the_charge_expiry_and_one_hash_tag(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url, timeout_s=5.0)
    prefix = "expiry-" + uuid.uuid4().hex
    store = RedisLimitState(link, prefix=prefix)
    try:
        expires = time.time() + 120
        admission = await store.reserve(
            Batch.of([charge("a", 1, None, expires_at=expires), charge("b", 1, None, expires_at=math.inf)])
        )
        client = redis_server.client()
        keys = sorted(key.decode() for key in client.scan_iter(match=prefix + "*"))
        marker = f"{prefix}:{{limits}}#hold:{admission.ticket}"
        assert keys == [marker, f"{prefix}:{{limits}}:a", f"{prefix}:{{limits}}:b"]
        assert abs(client.pexpiretime(keys[1]) / 1000 - expires) < 1.0
        assert client.pexpiretime(keys[2]) == -1, "an unbounded period never expires"
        assert client.hgetall(keys[1]) == {b"100": b"1"}
        # The reservation's hold marker: same slot, a bounded life, gone once the reservation settles.
        assert client.get(marker) == b"held" and 0 < client.pttl(marker) <= 24 * 3600 * 1000
        assert await store.adjust(Settlement.of([]), ticket=admission.ticket) == ()
        assert client.exists(marker) == 0
    finally:
        await link.aclose()


async def test_a_script_flushed_from_redis_is_loaded_again(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url, timeout_s=5.0)
    store = RedisLimitState(link, prefix="flush-" + uuid.uuid4().hex)
    try:
        await store.reserve(Batch.of([charge("a", 1, 5)]))
        redis_server.client().script_flush()
        assert (await store.reserve(Batch.of([charge("a", 1, 5)]))).used == (1,)
    finally:
        await link.aclose()


async def test_concurrent_calls_share_a_pipeline_and_survive_a_script_flush(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url, timeout_s=5.0)
    store = RedisLimitState(link, prefix="batch-" + uuid.uuid4().hex)
    client = redis_server.client()
    try:
        await store.reserve(Batch.of([charge("warm", 1, None)]))
        client.script_flush()  # a restarted Redis: the next batch meets NOSCRIPT
        answers = await asyncio.gather(*(store.reserve(Batch.of([charge("many", 1, 30)])) for _ in range(60)))
        assert sum(answer.admitted for answer in answers) == 30
        totals = await asyncio.gather(
            *(store.adjust(Settlement.of([Adjustment("many", 100, 6, -1)])) for _ in range(10))
        )
        assert sorted(total[0] for total in totals) == list(range(20, 30))
        # 1 + 70 calls in far fewer round trips: batches of EVALSHA.
        assert store._batcher.round_trips < 30, store._batcher.round_trips
    finally:
        await link.aclose()


async def test_reservations_sharing_a_pipeline_decide_in_order_and_fail_alone(redis_server: RedisServer) -> None:
    """Reservations and settlements sent together run as one call of the batch script: each sees the
    amounts of those before it, and one whose counter cannot be read (not a hash) fails alone."""
    link = RedisLink(redis_server.url, timeout_s=5.0)
    prefix = "together-" + uuid.uuid4().hex
    store = RedisLimitState(link, prefix=prefix)
    client = redis_server.client()
    try:
        held = await store.reserve(Batch.of([charge("shared", 2, 10)]))
        client.set(f"{prefix}:{{limits}}:broken", "not a hash")
        trips = store._batcher.round_trips
        answers = await asyncio.gather(
            store.adjust(Settlement.of([Adjustment("shared", 100, 6, 1)]), ticket=held.ticket),
            *(store.reserve(Batch.of([charge("shared", 3, 10)])) for _ in range(3)),
            store.reserve(Batch.of([charge("broken", 1, 10)])),
            store.reserve(Batch.of([charge("shared", 1, 10)])),
            return_exceptions=True,
        )
        assert store._batcher.round_trips - trips == 1, "one pipeline"
        settled, first, second, third, broken, last = answers
        assert settled == (3,)
        assert [(a.admitted, a.used) for a in (first, second, third)] == [(True, (3,)), (True, (6,)), (False, (9,))]  # type: ignore[union-attr]
        assert isinstance(broken, Exception) and "WRONGTYPE" in str(broken)
        assert (last.admitted, last.used) == (True, (9,))  # type: ignore[union-attr]
        assert await window(store, "shared") == 10
    finally:
        await link.aclose()


async def test_reservations_of_one_plan_in_a_pipeline_send_its_counters_once(redis_server: RedisServer) -> None:
    """Requests of one plan share its `Counters` and buckets (as the limiter's do): in one pipeline the
    counters' keys and arguments go once, and each reservation still decides on its own amounts."""
    link = RedisLink(redis_server.url, timeout_s=5.0)
    store = RedisLimitState(link, prefix="plan-" + uuid.uuid4().hex)
    counters = Counters(["tokens", "requests"], [6, 6], [10, None], [True, True], fixed_expiry=True)
    buckets, expiries = (100, 100), (time.time() + HOUR,) * 2

    def batch(amount: int, *, dry: bool = False) -> Batch:
        return Batch(counters, buckets, expiries, [amount, 1], [amount, 1], dry)

    await store.reserve(Batch.of([charge("warm", 1, None)]))  # scripts loaded: no NOSCRIPT sends again
    await store.read([Probe("warm", 100, 6)])
    sent: list[tuple[object, ...]] = []
    exchange = link.channel.exchange

    async def recorded(commands: list[tuple[object, ...]]) -> list[object]:
        sent.extend(commands)
        return await exchange(commands)

    link.channel.exchange = recorded  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(
            store.reserve(batch(3)), store.reserve(batch(4)), store.reserve(batch(2, dry=True)),
            store.reserve(batch(5)), store.reserve(batch(3)),
        )  # fmt: skip
        assert [(a.admitted, a.used) for a in answers] == [
            (True, (0, 0)), (True, (3, 1)), (True, (7, 2)), (False, (7, 2)), (True, (7, 2))
        ]  # fmt: skip
        assert answers[3].refused == (0,) and answers[2].ticket is None
        assert await store.read([Probe("tokens", 100, 6), Probe("requests", 100, 6)]) == (10, 3)
        counter_keys = [arg for command in sent for arg in command if str(arg).endswith(":tokens")]
        # once for the plan's reservations, once for the dry run's own arguments (enforce '0'), once read
        assert len(counter_keys) == 3, sent
    finally:
        await link.aclose()


async def test_merge_adds_counts_kept_elsewhere(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url, timeout_s=5.0)
    store = RedisLimitState(link, prefix="merge-" + uuid.uuid4().hex)
    try:
        await store.reserve(Batch.of([charge("a", 2, None)]))
        assert await store.merge([("a", {100: 3, 101: 1}, time.time() + HOUR), ("b", {100: 4}, math.inf)]) == 2
        assert await store.read([Probe("a", 101, 6), Probe("b", 100, 6)]) == (6, 4)
    finally:
        await link.aclose()


async def test_a_counter_poisoned_before_the_bounds_reads_within_range_and_heals(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url, timeout_s=5.0)
    prefix = "poisoned-" + uuid.uuid4().hex
    store = RedisLimitState(link, prefix=prefix)
    client = redis_server.client()
    try:
        wrapped = f"{prefix}:{{limits}}:wrapped"
        client.hset(wrapped, mapping={"100": str(-(2**63)), "99": "5"})  # what an overflow left behind
        assert await store.read([Probe("wrapped", 100, 6)]) == (5,)
        assert (await store.reserve(Batch.of([charge("wrapped", 3, 10)]))).used == (5,)
        assert client.hget(wrapped, "100") == b"3", "the bucket is written back within range"
        assert await store.merge([("wrapped", {100: 2**62, 101: 2**62}, time.time() + HOUR)]) == 1
        assert await store.read([Probe("wrapped", 101, 6)]) == (MAX_AMOUNT,)
        assert all(0 <= int(value) <= MAX_AMOUNT for value in client.hvals(wrapped))
        for stored, delta, healed in ((-(2**63), 5, 5), (2**63 - 1, -5, MAX_AMOUNT - 5), (2**62, 1, MAX_AMOUNT)):
            client.hset(wrapped, "100", str(stored))  # replaced, never added to, even when nothing is read
            assert await store.adjust(unwatched([Adjustment("wrapped", 100, 6, delta)])) == ()
            assert client.hget(wrapped, "100") == str(healed).encode(), stored
        client.hset(wrapped, "100", "1.5e3")  # no integer: HINCRBY refuses it, the bucket is read instead
        await store.adjust(unwatched([Adjustment("wrapped", 100, 6, 1)]))
        assert client.hget(wrapped, "100") == b"1501"
    finally:
        await link.aclose()


# --- failure policy: a Redis that goes away ------------------------------------------------------


class Seen:
    """The link's observer: what /metrics would show."""

    def __init__(self) -> None:
        self.states: list[bool] = []
        self.failures: list[str] = []

    def state_changed(self, up: bool) -> None:
        self.states.append(up)

    def call_failed(self, operation: str) -> None:
        self.failures.append(operation)


def failover(
    server: RedisServer,
    policy: Policy,
    seen: Seen | None = None,
    clock: Callable[[], float] = time.monotonic,
    timeout_s: float = 0.05,
) -> FailoverLimitState:
    link = RedisLink(server.url, timeout_s=timeout_s, breaker=CircuitBreaker(2, 0.2, clock), observer=seen)
    return FailoverLimitState(RedisLimitState(link, prefix="fo-" + uuid.uuid4().hex), policy)


async def test_fail_open_counts_locally_while_redis_is_away_and_hands_the_counts_over(lone_redis: RedisServer) -> None:
    seen = Seen()
    store = failover(lone_redis, "fail-open", seen)
    try:
        assert (await store.reserve(Batch.of([charge("a", 1, 5)]))).admitted
        lone_redis.stop()
        for _ in range(3):
            assert (await store.reserve(Batch.of([charge("a", 1, 5)]))).admitted
        assert seen.states == [True, False] and len(seen.failures) == 2, "the breaker opened after 2 failures"
        assert await store.read([Probe("a", 100, 6)]) == (3,), "counted locally, from 0: Redis's 1 is out of reach"
        assert len(store.local) == 1
        lone_redis.start()
        deadline = time.monotonic() + 30
        # A restarted Redis without persistence starts empty: it holds what was counted meanwhile.
        while store.local.read_now([Probe("a", 100, 6)]) != (0,) or (await window(store, "a")) != 3:
            assert time.monotonic() < deadline, "the local counts never reached Redis"
            await store.reserve(Batch.of([charge("probe", 1, None)]))  # the first call after the cool-down probes
            await asyncio.sleep(0.05)
        assert seen.states == [True, False, True], "down and back up, each once"
    finally:
        if lone_redis.process is None:
            lone_redis.start()
        await store.stop()
        await store.shared.link.aclose()


async def test_the_outage_counts_reach_redis_without_more_limit_traffic(lone_redis: RedisServer) -> None:
    """Redis answering any call of the link again (here a ping, as routing's health poll would)
    starts the merge: a replica that sees no more requests does not keep its outage counts."""
    store = failover(lone_redis, "fail-open")
    link = store.shared.link
    try:
        lone_redis.stop()
        for _ in range(3):
            assert (await store.reserve(Batch.of([charge("a", 1, 5)]))).admitted  # counted locally
        lone_redis.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                await link.call("ping", link.client.ping)
                break
            except StateStoreDown:
                assert time.monotonic() < deadline, "Redis never answered again"
                await asyncio.sleep(0.05)
        while (await window(store, "a")) != 3:
            assert time.monotonic() < deadline, "the local counts never reached Redis"
            await asyncio.sleep(0.05)
        assert len(store.local) == 0
    finally:
        if lone_redis.process is None:
            lone_redis.start()
        await store.stop()
        await link.aclose()


async def test_fail_closed_refuses_with_a_503_while_redis_is_away(lone_redis: RedisServer) -> None:
    store = failover(lone_redis, "fail-closed")
    try:
        lone_redis.stop()
        for _ in range(3):
            with pytest.raises(StateUnavailable) as refused:
                await store.reserve(Batch.of([charge("a", 1, 5)]))
            assert refused.value.status == 503 and refused.value.origin == "gateway"
            assert "shared limit store (Redis) is unreachable" in refused.value.message
        assert await store.adjust(Settlement.of([Adjustment("a", 100, 6, -1)])) == (0,), (
            "a settlement never fails the request"
        )
        lone_redis.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert (await store.reserve(Batch.of([charge("a", 1, 5)]))).admitted
                break
            except StateUnavailable:
                assert time.monotonic() < deadline, "Redis came back but the store did not"
                await asyncio.sleep(0.05)
    finally:
        await store.shared.link.aclose()


async def test_a_frozen_redis_costs_a_call_its_timeout_then_nothing(lone_redis: RedisServer) -> None:
    seen = Seen()
    # the breaker's cool-down never ends here: on a loaded machine five calls may outlast 0.2 s
    store = failover(lone_redis, "fail-open", seen, clock=lambda: 0.0)
    try:
        await store.reserve(Batch.of([charge("a", 1, 5)]))  # connected
        lone_redis.pause()
        for _ in range(5):
            assert (await asyncio.wait_for(store.reserve(Batch.of([charge("a", 1, 5)])), NOT_BLOCKED_S)).admitted
        assert seen.failures == ["reserve", "reserve"], "once open, the breaker answers without calling Redis"
    finally:
        lone_redis.resume()
        await store.shared.link.aclose()


async def test_many_counters_kept_locally_are_handed_over_in_batches(lone_redis: RedisServer) -> None:
    # Redis stays up here: a call timing out would only be load (it failed once at 50 ms on a loaded machine)
    store = failover(lone_redis, "fail-open", timeout_s=5.0)
    try:
        for user in range(450):  # as if admitted locally during an outage
            store.local.reserve_now(Batch.of([charge(f"u{user}", user + 1, None)]))
        await store.reserve(Batch.of([charge("trigger", 1, None)]))  # Redis answers: the hand-over starts
        await store.stop()
        totals = await store.shared.read([Probe(f"u{user}", 100, 6) for user in range(450)])
        assert totals == tuple(range(1, 451)) and len(store.local) == 0
    finally:
        await store.shared.link.aclose()


async def test_a_redis_restarted_between_calls_answers_the_next_call(lone_redis: RedisServer) -> None:
    seen = Seen()
    link = RedisLink(lone_redis.url, timeout_s=5.0, observer=seen)
    store = RedisLimitState(link, prefix="restart-" + uuid.uuid4().hex)
    try:
        await store.reserve(Batch.of([charge("a", 1, 5)]))
        await store.adjust(Settlement.of([Adjustment("a", 100, 6, 1)]))
        lone_redis.stop()
        lone_redis.start()  # the connection the calls used is closed: the next call connects again
        for _ in range(10):  # a few turns of the event loop, as between requests: it sees the close
            await asyncio.sleep(0)
        assert (await store.reserve(Batch.of([charge("a", 1, 5)]))).used == (0,), (
            "a restart without persistence forgets"
        )
        assert seen.failures == []
    finally:
        await link.aclose()


async def test_a_plan_counter_expiry_follows_its_newest_bucket(redis_server: RedisServer) -> None:
    """The limiter's expiries are their buckets' (`Counters.fixed_expiry`): a bucket already held
    keeps the expiry set when it started, a new bucket moves it on."""
    link = RedisLink(redis_server.url, timeout_s=5.0)
    prefix = "fixed-" + uuid.uuid4().hex
    store = RedisLimitState(link, prefix=prefix)
    counters = Counters(["a"], [6], [None], [True], fixed_expiry=True)
    first, later = time.time() + 120, time.time() + 240
    try:
        await store.reserve(Batch(counters, [100], [first], [1], [1]))
        await store.reserve(Batch(counters, [100], [first], [1], [1]))
        client = redis_server.client()
        key = f"{prefix}:{{limits}}:a"
        assert abs(client.pexpiretime(key) / 1000 - first) < 1.0 and client.hget(key, "100") == b"2"
        await store.reserve(Batch(counters, [101], [later], [1], [1]))
        assert abs(client.pexpiretime(key) / 1000 - later) < 1.0, "a new bucket carries the counter on"
        assert await window(store, "a", 101) == 3
    finally:
        await link.aclose()
