"""One alert per (rule, entity, threshold, period), delivered once, whoever raised it: outboxes sharing
`alerts.db` (`serve --workers N`), sharing PostgreSQL, or sharing only Redis; every attempt under one
idempotency key; and a receiver that answers after the timeout gets one copy, not one per retry."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gateway.alerts.conftest import OutboxFactory, budget_alert
from tests.gateway.alerts.receivers import Answer, Receiver
from tests.redis_server import RedisServer
from tfy_gateway.gateway.alerts import AlertFilter, AlertOutbox, Endpoints, ManualClock, RetryPolicy
from tfy_gateway.gateway.alerts.claims import RedisAlertClaims
from tfy_gateway.gateway.shared.redis import RedisLink
from tfy_gateway.gateway.store.postgres import PostgresStore

SLACK = [{"type": "slack-webhook", "notification_channel": "ops-slack"}]
KEY = "Idempotency-Key"


def alerts(count: int) -> list[object]:
    return [budget_alert(SLACK, entity=f"user user:u{n}@example.com") for n in range(count)]


async def run_together(outboxes: list[AlertOutbox], count: int) -> None:
    """Every outbox raises the same `count` alerts (as replicas seeing one shared counter do)."""
    for outbox in outboxes:
        await outbox.start()
    for alert in alerts(count):
        for outbox in outboxes:
            outbox.submit(alert)  # type: ignore[arg-type]
    await asyncio.gather(*(outbox.settled() for outbox in outboxes))


def copies(receiver: Receiver) -> Counter[str]:
    return Counter(r.body["text"] for r in receiver.at("/slack/hook/"))


async def test_every_attempt_of_a_delivery_carries_one_idempotency_key(
    make_outbox: OutboxFactory, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.answers["/slack/hook/"] = Answer(503, b"busy")
    outbox = make_outbox()
    await outbox.start()
    outbox.submit(budget_alert(SLACK))
    outbox.submit(budget_alert(SLACK, threshold=90))
    outbox.submit(budget_alert([{"type": "pagerduty", "notification_channel": "ops-pd"}], threshold=95))
    await outbox.settled()
    receiver.answers["/slack/hook/"] = Answer(200)
    clock.advance(1.0)
    await outbox.settled()

    hooks = receiver.at("/slack/hook/")
    assert len(hooks) == 4
    by_alert: dict[str, set[str]] = {}
    for hook in hooks:
        by_alert.setdefault(hook.body["text"], set()).add(hook.headers[KEY])
    assert all(len(keys) == 1 for keys in by_alert.values()), by_alert  # a retry repeats its key
    assert len({key for keys in by_alert.values() for key in keys}) == 2  # another alert, another key
    [page] = receiver.at("/pd/")
    assert page.headers[KEY].startswith("tfy-alert-") and page.body["dedup_key"]


async def test_a_receiver_answering_after_the_timeout_gets_one_copy(
    make_outbox: OutboxFactory, receiver: Receiver, clock: ManualClock, tmp_path: Path
) -> None:
    # It takes 1 s to answer; the gateway waits 0.3 s, then keeps the request open until the retry
    # would be due (5 s): the late 200 marks the delivery delivered and nothing is sent again.
    receiver.answers["/slack/hook/"] = Answer(200, delay_s=1.0)
    outbox = make_outbox(endpoints=Endpoints(timeout_s=0.3), retry=RetryPolicy(base_s=5.0, max_s=40.0, max_attempts=4))
    await outbox.start()
    outbox.submit(budget_alert(SLACK))
    await outbox.settled()
    [item] = (await outbox.list(AlertFilter(), limit=10, offset=0))[0]
    [target] = item["targets"]
    assert (target["status"], target["attempts"], target["last_error"]) == ("delivered", 1, None)

    for _ in range(4):
        clock.advance(40.0)
        await outbox.settled()
    assert len(receiver.at("/slack/hook/")) == 1


async def test_workers_sharing_alerts_db_deliver_each_alert_once(
    make_outbox: OutboxFactory, receiver: Receiver
) -> None:
    receiver.answers["/slack/hook/"] = Answer(200, delay_s=0.2)  # both workers see the deliveries pending
    await run_together([make_outbox(), make_outbox()], 20)
    assert len(copies(receiver)) == 20 and set(copies(receiver).values()) == {1}


async def test_replicas_sharing_postgresql_deliver_each_alert_once_and_list_them_all(
    tmp_path: Path, environ: dict[str, str], receiver: Receiver, clock: ManualClock, postgres_url: str
) -> None:
    PostgresStore(postgres_url).close()  # the store's migrations create the alert tables
    receiver.answers["/slack/hook/"] = Answer(200, delay_s=0.2)
    replicas = [AlertOutbox(tmp_path / name, clock=clock, environ=environ, database_url=postgres_url) for name in "ab"]
    try:
        await run_together(replicas, 20)
        assert len(copies(receiver)) == 20 and set(copies(receiver).values()) == {1}
        for replica in replicas:
            items, total = await replica.list(AlertFilter(status="delivered"), limit=100, offset=0)
            assert total == 20 and len(items) == 20
        assert not (tmp_path / "a" / "alerts.db").exists()
    finally:
        for replica in replicas:
            await replica.stop()


@pytest.fixture
async def redis_links(redis_server: RedisServer) -> AsyncIterator[list[RedisLink]]:
    redis_server.client().flushall()
    links = [RedisLink(redis_server.url, timeout_s=5.0) for _ in range(2)]
    yield links
    for link in links:
        await link.aclose()


async def test_replicas_sharing_only_redis_deliver_each_alert_once(
    tmp_path: Path, environ: dict[str, str], receiver: Receiver, clock: ManualClock, redis_links: list[RedisLink]
) -> None:
    replicas = [
        AlertOutbox(tmp_path / name, clock=clock, environ=environ, claims=RedisAlertClaims(link, prefix="t:"))
        for name, link in zip("ab", redis_links, strict=True)
    ]
    try:
        await run_together(replicas, 20)
        assert len(copies(receiver)) == 20 and set(copies(receiver).values()) == {1}
        listed = [(await replica.list(AlertFilter(), limit=100, offset=0))[1] for replica in replicas]
        assert sum(listed) == 20  # each alert is kept by the replica that raised it first
    finally:
        for replica in replicas:
            await replica.stop()
