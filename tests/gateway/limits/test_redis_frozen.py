"""A Redis that stops answering (SIGSTOP) and wakes up again (SIGCONT), against the limit store:
no caller waits past its timeout, and what callers gave up on leaves no hold behind once Redis
answers again (what ran late is undone, what was not applied is applied once)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.data_plane.conftest import data_plane
from tests.gateway.limits.test_end_to_end import ask, unique
from tests.helpers import eventually
from tests.redis_server import RedisServer
from tfy_gateway.gateway.limits.failover import FailoverLimitState, Policy, StateUnavailable
from tfy_gateway.gateway.limits.redis_state import RedisLimitState
from tfy_gateway.gateway.limits.state import Adjustment, Batch, Charge, Probe, Settlement
from tfy_gateway.gateway.shared.breaker import CircuitBreaker
from tfy_gateway.gateway.shared.redis import RedisLink, StateStoreDown

TIMEOUT_S = 0.5  # generous: the assertions are about order and state, never about durations


def charge(key: str, amount: int = 1, limit: int | None = None) -> Charge:
    return Charge(key, 100, 6, amount, 1, limit, True, time.time() + 3600)


@pytest.fixture
async def store(lone_redis: RedisServer) -> AsyncIterator[RedisLimitState]:
    # A breaker that never opens: every call meets the frozen Redis and waits its own timeout.
    link = RedisLink(lone_redis.url, timeout_s=TIMEOUT_S, breaker=CircuitBreaker(10_000, 0.05))
    try:
        yield RedisLimitState(link, prefix="frozen-" + uuid.uuid4().hex)
    finally:
        lone_redis.resume()
        await link.aclose()


async def test_a_call_queued_behind_a_frozen_pipeline_waits_no_longer_than_its_own_timeout(
    store: RedisLimitState, lone_redis: RedisServer
) -> None:
    """A frozen Redis made a call queued behind the pipeline in flight wait for that pipeline's
    timeout and then a whole timeout of its own (about 510 ms for a 250 ms bound). Now the pipeline
    carrying it must end by the queued caller's own deadline (its call time + the timeout): asserted
    on the loop's clock as computed deadlines, not as measured durations."""
    await store.reserve(Batch.of([charge("warm")]))  # connected, scripts loaded
    loop = asyncio.get_running_loop()
    ends: list[float] = []  # when each pipeline sent from here on must end, on the loop's clock
    call = store.link.call

    async def bounded(operation: str, work: Any, *, timeout_s: float | None = None) -> Any:
        ends.append(loop.time() + (store.link.timeout_s if timeout_s is None else timeout_s))
        return await call(operation, work, timeout_s=timeout_s)

    store.link.call = bounded  # type: ignore[method-assign]
    lone_redis.pause()
    first = asyncio.create_task(store.reserve(Batch.of([charge("a")])))
    await eventually(lambda: len(ends) == 1, "the first call's pipeline went out")
    # Queued half a timeout later: its own deadline then falls well after the first pipeline's end, so a
    # loaded machine waking the batcher late does not find it expired in the queue (failed unsent).
    half = store.link.timeout_s / 2
    await eventually(lambda: loop.time() >= ends[0] - half, "half the first pipeline's time passed")
    queued = asyncio.create_task(store.reserve(Batch.of([charge("a")])))
    await eventually(lambda: store._batcher._pending, "the second call queued behind the first pipeline")
    its_deadline = store._batcher._pending[-1].deadline
    with pytest.raises(StateStoreDown):
        await first
    with pytest.raises(StateStoreDown):
        await queued
    assert len(ends) == 2, "the queued call went out in a pipeline of its own"
    assert ends[1] == pytest.approx(its_deadline), "its pipeline ends by the queued caller's own deadline"
    assert ends[1] < ends[0] + store.link.timeout_s, "not a whole timeout after the pipeline ahead of it"


async def test_a_reservation_that_ran_after_its_caller_gave_up_is_undone(
    store: RedisLimitState, lone_redis: RedisServer
) -> None:
    await store.reserve(Batch.of([charge("spend", 7)]))
    lone_redis.pause()
    given_up = await asyncio.gather(
        *(store.reserve(Batch.of([charge("spend", 5)])) for _ in range(8)), return_exceptions=True
    )
    assert all(isinstance(answer, StateStoreDown) for answer in given_up)
    assert store.reconciler.pending == 8
    lone_redis.resume()  # Redis runs what waited in its socket: 8 holds of 5, for callers long gone

    async def reconciled() -> bool:
        return await store.read([Probe("spend", 100, 6)]) == (7,) and store.reconciler.pending == 0

    await eventually(reconciled, "the late reservations were given back")


async def test_a_reservation_whose_undo_arrived_first_holds_nothing_when_it_runs(store: RedisLimitState) -> None:
    """Its caller gave up, Redis answered again and took the undo before the reservation itself (no
    order between two connections is promised): a tombstone then makes the reservation hold nothing.
    The ticket the store will give its next reservation is fixed here to play that order."""
    from tfy_gateway.gateway.limits.reconcile import Unsettled

    store._run_id, store._tickets = "late", itertools.count(7)
    undo = Unsettled("cancel", "late.7", (Adjustment("order", 100, 6, -4),))
    assert await store._reconcile(undo) == 0, "nothing held yet: a tombstone"
    with pytest.raises(StateStoreDown):  # the late reservation (ticket late.7)
        await store.reserve(Batch.of([charge("order", 4)]))
    assert await store.read([Probe("order", 100, 6)]) == (0,)
    admitted = await store.reserve(Batch.of([charge("order", 4)]))  # the next one holds as usual
    assert admitted.ticket == "late.8" and await store.read([Probe("order", 100, 6)]) == (4,)


@pytest.mark.parametrize("policy", ["fail-closed", "fail-open"])
async def test_after_sigcont_the_shared_counters_hold_exactly_what_was_admitted(
    lone_redis: RedisServer, policy: Policy
) -> None:
    """Under fail-closed the requests refused with 503 hold nothing; under fail-open what was admitted
    locally is handed over once, and nothing more (a frozen Redis once left 8 holds behind for
    requests refused with 503)."""
    link = RedisLink(lone_redis.url, timeout_s=TIMEOUT_S, breaker=CircuitBreaker(3, 0.05))
    store = FailoverLimitState(RedisLimitState(link, prefix="sigcont-" + uuid.uuid4().hex), policy)
    try:
        assert (await store.reserve(Batch.of([charge("rl", 1, 100)]))).admitted
        lone_redis.pause()
        answers = await asyncio.gather(
            *(store.reserve(Batch.of([charge("rl", 1, 100)])) for _ in range(12)), return_exceptions=True
        )
        if policy == "fail-closed":
            assert all(isinstance(answer, StateUnavailable) for answer in answers), answers
            expected = 1
        else:
            assert all(not isinstance(answer, BaseException) and answer.admitted for answer in answers), answers
            expected = 1 + 12
        lone_redis.resume()

        async def settled() -> bool:
            counted = await store.read([Probe("rl", 100, 6)])  # a limit call: Redis answers it again
            return counted == (expected,) and store.shared.reconciler.pending == 0 and len(store.local) == 0

        await eventually(settled, f"the shared counter holding exactly {expected}")
        await store.stop()
        assert await store.shared.read([Probe("rl", 100, 6)]) == (expected,)
    finally:
        lone_redis.resume()
        await link.aclose()


async def test_a_settlement_redis_did_not_take_is_applied_once_when_it_answers(
    store: RedisLimitState, lone_redis: RedisServer
) -> None:
    admission = await store.reserve(Batch.of([charge("tokens", 500)]))
    assert admission.ticket is not None
    failover = FailoverLimitState(store, "fail-open")
    lone_redis.pause()
    # Settled while Redis is frozen: the real usage was 120 of the 500 held.
    assert await failover.adjust(Settlement.of([Adjustment("tokens", 100, 6, -380)]), ticket=admission.ticket) == (0,)
    assert store.reconciler.pending == 1
    lone_redis.resume()

    async def applied() -> bool:
        return await store.read([Probe("tokens", 100, 6)]) == (120,) and store.reconciler.pending == 0

    await eventually(applied, "the settlement applied")
    # Sent again (as after a lost answer), it changes nothing: the ticket was settled.
    assert await store.adjust(Settlement.of([Adjustment("tokens", 100, 6, -380)]), ticket=admission.ticket) == (120,)
    await failover.stop()


async def test_a_gateway_on_a_frozen_redis_refuses_with_503s_that_leave_no_hold_behind(
    tmp_path: Path, lone_redis: RedisServer
) -> None:
    """fail-closed, through a gateway: requests arriving while Redis is frozen get the policy's 503,
    and once it answers again the limit has exactly the room it had (8 holds were once left behind
    by such requests, refusing later ones)."""
    settings = {"redis_url": lone_redis.url, "on_state_error": "fail-closed", "state_timeout_ms": 500}
    async with data_plane(tmp_path / "data", **settings) as dp:
        marker = unique("frozen")
        rule = {"id": marker, "when": {"metadata": {"run": marker}}, "limit_to": 5, "unit": "requests_per_minute"}
        await dp.apply({"name": "limits", "type": "gateway-rate-limiting-config", "rules": [rule]})
        headers = {"x-tfy-metadata": json.dumps({"run": marker})}
        assert (await ask(dp, marker, headers=headers)).status_code == 200
        lone_redis.pause()
        during = await asyncio.gather(*(ask(dp, marker, headers=headers) for _ in range(10)))
        assert [answer.status_code for answer in during] == [503] * 10
        assert "shared limit store (Redis) is unreachable" in during[0].json()["message"]
        lone_redis.resume()

        async def one_counted() -> bool:
            response = await dp.http.get("/api/svc/v1/llm-gateway/config/rate-limit/usage", headers=dp.auth())
            if response.status_code != 200:
                return False  # the fail-closed read while the breaker still probes
            entries = [entry for entry in response.json()["matched"] if entry["name"] == marker]
            used = [p["used"] for entry in entries for e in entry["entities"] for p in e["periods"].values()]
            return used == [1]

        await eventually(one_counted, "the limit counting only the request admitted before the freeze")
        after = [(await ask(dp, marker, headers=headers)).status_code for _ in range(5)]
        assert after == [200, 200, 200, 200, 429]
