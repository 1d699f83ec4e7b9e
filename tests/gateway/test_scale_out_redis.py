"""Two real gateway processes on one real redis-server: exact shared limits, shared sticky pins and
health marks, and the failure policy when Redis goes away mid-load and comes back.

The PostgreSQL control-plane store has not landed, so each replica keeps its own SQLite data dir and
the same manifests are applied to both (as a shared store would make them).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.data_plane.conftest import apply
from tests.helpers import NOT_BLOCKED_S, GatewayProcess, burst_client, wait_for
from tests.redis_server import RedisServer, running_redis
from tfy_gateway.fakeprovider import running

LIMITED = "counted/gpt-4o"
PRICEY = "pricey/gpt"


def account(name: str, base_url: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "provider-account/openai",
        "base_url": base_url,
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def pricey(base_url: str) -> dict[str, Any]:
    """One model at $0.001 a token that answers 20 tokens after a pause (so requests overlap)."""
    model = {
        "type": "integration/model/openai",
        "name": "gpt",
        "model_id": "gpt-4o@tokens=20,ttft_ms=200,tpot_ms=5",
        "model_types": ["chat"],
        "cost": {"metric": "per_1000_tokens", "value": {"input": 1.0, "output": 1.0}},
    }
    return {**account("pricey", f"{base_url}/v1"), "integrations": [model]}


def routing() -> dict[str, Any]:
    return {
        "name": "shared-routing",
        "type": "gateway-load-balancing-config",
        "rules": [
            {
                "id": "sticky",
                "type": "weight-based-routing",
                "when": {"models": ["sticky/chat"]},
                "sticky_routing": {
                    "ttl_seconds": 3600,
                    "session_identifiers": [{"key": "session", "source": "metadata"}],
                },
                "load_balance_targets": [{"target": f"pool-{i}/gpt-4o", "weight": 20} for i in range(5)],
            },
            {
                "id": "flaky-first",
                "type": "priority-based-routing",
                "when": {"models": ["flaky/gpt-4o"]},
                "load_balance_targets": [
                    {"target": "flaky/gpt-4o", "priority": 0, "retry_config": {"attempts": 1, "delay": 0}},
                    {"target": "steady/gpt-4o", "priority": 1},
                ],
            },
        ],
    }


def limits(rule_id: str, limit_to: int) -> dict[str, Any]:
    rule = {"id": rule_id, "when": {"models": [LIMITED]}, "limit_to": limit_to, "unit": "requests_per_minute"}
    return {"name": "limits", "type": "gateway-rate-limiting-config", "rules": [rule]}


@dataclass
class Replica:
    gateway: GatewayProcess

    @property
    def url(self) -> str:
        return self.gateway.base_url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.gateway.admin_token}", "x-tfy-request-timeout": "60000"}

    def chat(self, model: str, **headers: str) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 4}
        return httpx.post(
            self.url + "/api/llm/chat/completions", json=body, headers={**self.headers, **headers}, timeout=60
        )

    def explain(self, model: str, metadata: dict[str, str] | None = None) -> dict[str, Any]:
        body = {"subject": "user:admin@local", "model": model, "metadata": metadata or {}}
        response = httpx.post(self.url + "/api/svc/v1/llm-gateway/explain", json=body, headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def metric(self, name: str) -> float | None:
        text = httpx.get(self.url + "/metrics", timeout=30).text
        line = next(
            (line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")), None
        )
        return float(line.rsplit(" ", 1)[1]) if line is not None else None


def start_replicas(
    root: Path, redis_url: str, provider: str, manifests: list[dict[str, Any]], *envs: dict[str, str]
) -> list[Replica]:
    replicas = []
    try:
        for position, extra in enumerate(envs):
            env = {"TFY_GATEWAY_REDIS_URL": redis_url, "TFY_GATEWAY_UPSTREAM_TIMEOUT_S": "60", **extra}
            gateway = GatewayProcess(root / f"replica-{position}", env=env)
            gateway.start()
            replicas.append(Replica(gateway))
            for manifest in manifests:  # one SQLite control plane per replica: the same manifests on each
                apply(gateway, manifest)
    except BaseException:
        for replica in replicas:
            replica.gateway.stop()
        raise
    return replicas


def stop_all(replicas: list[Replica]) -> None:
    for replica in replicas:
        replica.gateway.stop()
        log = replica.gateway.server_log()
        assert "s3cret" not in log, "the Redis password was logged"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with running() as base_url:
        yield base_url


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis(password="s3cret") as server:  # the replicas' logs must never show it
        yield server


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, provider: str) -> Iterator[list[Replica]]:
    manifests = [
        *(account(f"pool-{i}", f"{provider}/v1") for i in range(5)),
        account("counted", f"{provider}/v1"),
        account("steady", f"{provider}/v1"),
        account("flaky", f"{provider}/knobs/status=503/v1"),
        pricey(provider),
        routing(),
    ]
    # A generous timeout: this module checks sharing, not the failure policy; a loaded test machine can
    # stall an event loop past the 50 ms default, which would (rightly) fall back to local counting.
    env = {"TFY_GATEWAY_STATE_TIMEOUT_MS": "2000"}
    root = tmp_path_factory.mktemp("scale-out")
    replicas = start_replicas(root, redis_server.url, provider, manifests, env, env)
    try:
        yield replicas
    finally:
        stop_all(replicas)


def limit_counters(server: RedisServer) -> int:
    """The sum of every limit counter in Redis."""
    client = server.client()
    return sum(int(amount) for key in client.scan_iter(match="tfy-gateway:{limits}:*") for amount in client.hvals(key))


async def burst(replicas: list[Replica], model: str, total: int) -> list[httpx.Response]:
    body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 20}
    clients = [burst_client(max_connections=100, headers=r.headers, timeout=120) for r in replicas]
    try:
        calls = [
            clients[n % len(replicas)].post(replicas[n % len(replicas)].url + "/api/llm/chat/completions", json=body)
            for n in range(total)
        ]
        return await asyncio.gather(*calls)
    finally:
        for client in clients:
            await client.aclose()


def test_500_concurrent_requests_over_two_replicas_admit_exactly_the_limit_of_100(
    pair: list[Replica], redis_server: RedisServer
) -> None:
    rule_id = "hundred-" + uuid.uuid4().hex[:8]
    for replica in pair:
        apply(replica.gateway, limits(rule_id, 100))
    answers = asyncio.run(burst(pair, LIMITED, 500))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 100 and statuses.count(429) == 400, sorted(set(statuses))
    # Alone, each replica would admit 100 of its 250: each refused more, so each counted the other's.
    admitted = [statuses[n::2].count(200) for n in range(2)]
    assert all(statuses[n::2].count(429) >= 150 for n in range(2)), admitted
    client = redis_server.client()
    keys = [key for key in client.scan_iter(match="tfy-gateway:{limits}:*") if rule_id.encode() in key]
    assert len(keys) == 1 and sum(int(v) for v in client.hvals(keys[0])) == 100
    assert all(replica.metric("tfy_gateway_state_store_errors_total") is None for replica in pair)


def test_a_one_dollar_budget_over_two_replicas_overspends_by_at_most_one_request(pair: list[Replica]) -> None:
    """50 concurrent requests at $0.001 a token, split between the replicas, against $1 a day."""
    rule_id = "dollar-" + uuid.uuid4().hex[:8]
    budget = {"id": rule_id, "when": {"models": [PRICEY]}, "limit_to": 1.0, "unit": "cost_per_day"}
    for replica in pair:
        apply(replica.gateway, {"name": "budgets", "type": "gateway-budget-config", "rules": [budget]})
    answers = asyncio.run(burst(pair, PRICEY, 50))
    assert {answer.status_code for answer in answers} <= {200, 429}
    served = [
        (usage["prompt_tokens"] + usage["completion_tokens"]) * 0.001
        for answer in answers
        if answer.status_code == 200 and (usage := answer.json()["usage"])
    ]
    assert served and len(served) < 50, "the budget let some requests through and refused the rest"
    most = max(served)
    assert sum(served) <= 1.0 + most, f"spent {sum(served)} against $1 (one request costs up to {most})"
    assert all(replica.chat(PRICEY).status_code == 429 for replica in pair), "both replicas see it spent"


def test_a_sticky_session_lands_on_the_same_target_through_either_replica(pair: list[Replica]) -> None:
    a, b = pair
    session = {"session": "s-" + uuid.uuid4().hex}
    first = a.chat("sticky/chat", **{"x-tfy-metadata": json.dumps(session)})
    assert first.status_code == 200, first.text
    pinned = first.headers["x-tfy-resolved-model"]
    wait_for(
        lambda: b.explain("sticky/chat", session)["sticky"]["pinned_target"] == pinned,
        "the pin reaching the other replica",
    )
    served = {
        replica.chat("sticky/chat", **{"x-tfy-metadata": json.dumps(session)}).headers["x-tfy-resolved-model"]
        for replica in [a, b] * 5
    }
    assert served == {pinned}


def test_a_target_marked_unhealthy_on_one_replica_is_avoided_by_the_other(pair: list[Replica]) -> None:
    a, b = pair
    for _ in range(3):  # failure_threshold failures bench the target on a
        answer = a.chat("flaky/gpt-4o")
        assert answer.status_code == 200 and answer.headers["x-tfy-resolved-model"] == "steady/gpt-4o"

    def benched_on_b() -> bool:
        flaky = next(c for c in b.explain("flaky/gpt-4o")["candidates"] if c["target"] == "flaky/gpt-4o")
        return flaky["healthy"] is False

    wait_for(benched_on_b, "the health mark reaching the other replica")
    assert b.explain("flaky/gpt-4o")["attempts"][0] == "steady/gpt-4o", "b plans the benched target last"
    answer = b.chat("flaky/gpt-4o")
    assert answer.status_code == 200 and answer.headers["x-tfy-resolved-model"] == "steady/gpt-4o"


@dataclass
class Answer:
    replica: int
    status: int
    seconds: float
    body: dict[str, Any]


async def load_until(replicas: list[Replica], enough: asyncio.Event, answers: list[Answer], workers: int = 4) -> None:
    """Requests to `LIMITED` from `workers` loops per replica, until `enough` is set."""
    body = {"model": LIMITED, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 4}

    async def worker(position: int, client: httpx.AsyncClient) -> None:
        while not enough.is_set():
            started = time.monotonic()
            response = await client.post(replicas[position].url + "/api/llm/chat/completions", json=body)
            answers.append(Answer(position, response.status_code, time.monotonic() - started, response.json()))

    clients = [httpx.AsyncClient(headers=r.headers, timeout=60) for r in replicas]
    try:
        await asyncio.gather(*(worker(p, clients[p]) for p in range(len(replicas)) for _ in range(workers)))
    finally:
        for client in clients:
            await client.aclose()


async def wait_answers(answers: list[Answer], count: int, *, since: int = 0, replica: int | None = None) -> None:
    """Until `count` answers arrived after the first `since` (of `replica` only, if given)."""
    deadline = time.monotonic() + 60

    def arrived() -> int:
        return sum(1 for answer in answers[since:] if replica is None or answer.replica == replica)

    while arrived() < count:
        assert time.monotonic() < deadline, f"only {arrived()} answers of {count}"
        await asyncio.sleep(0.01)


def test_redis_stopped_mid_load_then_restarted(tmp_path: Path, provider: str) -> None:
    """Replica 0 fails open, replica 1 fails closed; nobody waits on the dead Redis; both recover."""
    server = running_redis()
    manifests = [account("counted", f"{provider}/v1"), limits("big-" + uuid.uuid4().hex[:8], 1_000_000)]
    replicas = start_replicas(
        tmp_path,
        server.url,
        provider,
        manifests,
        {"TFY_GATEWAY_ON_STATE_ERROR": "fail-open"},
        {"TFY_GATEWAY_ON_STATE_ERROR": "fail-closed"},
    )
    opened, closed = replicas
    try:
        answers: list[Answer] = []

        async def outage() -> int:
            enough = asyncio.Event()
            load = asyncio.create_task(load_until(replicas, enough, answers))
            await wait_answers(answers, 40)
            before = len(answers)
            await asyncio.to_thread(server.stop)
            await wait_answers(answers, 80, since=before)
            # The fail-open replica can give all 80 while the other's calls still wait out Redis's timeout.
            await wait_answers(answers, 10, since=before, replica=1)
            enough.set()
            await load
            return before

        before_stop = asyncio.run(outage())
        # Each Redis call has 250 ms (state_timeout_ms) and the breaker then stops calling: a request
        # that waits seconds waited on the dead Redis. The bound is generous on purpose (a loaded
        # machine must not trip it); it is no speed figure.
        assert max(answer.seconds for answer in answers) < NOT_BLOCKED_S, "a request waited on the dead Redis"
        assert all(a.status == 200 for a in answers if a.replica == 0), "fail-open admits throughout"
        during = [a for a in answers[before_stop:] if a.replica == 1]
        refused = [a for a in during if a.status == 503]
        assert refused and all(a.status in (200, 503) for a in during)
        body = refused[-1].body
        assert body["error_origin_level"] == "gateway" and body["error"]["code"] == "service_unavailable"
        assert "shared limit store (Redis) is unreachable" in body["message"]
        assert closed.metric("tfy_gateway_state_store_up") == 0.0
        assert (closed.metric("tfy_gateway_state_store_errors_total") or 0) > 0
        assert "s3cret" not in json.dumps(body)

        server.start()  # empty: no persistence; the gateways are not restarted
        admitted_since = 0

        def closed_admits() -> bool:
            nonlocal admitted_since
            admitted = closed.chat(LIMITED).status_code == 200
            admitted_since += admitted
            return admitted

        wait_for(closed_admits, "the fail-closed replica admitting again")
        wait_for(lambda: closed.metric("tfy_gateway_state_store_up") == 1.0, "the up gauge back at 1")
        # The fail-open replica hands its outage counts over once Redis answers any call of its own
        # (its routing health poll runs 4 times a second): no request to it is needed. Redis then
        # holds more than the requests admitted since the restart.
        wait_for(lambda: limit_counters(server) > admitted_since, "the fail-open replica's outage counts merged")
        counted = limit_counters(server)
        assert all(closed.chat(LIMITED).status_code == 200 for _ in range(5))
        assert limit_counters(server) == counted + 5, "the fail-closed replica counts in Redis again"
        assert opened.chat(LIMITED).status_code == 200
        assert limit_counters(server) == counted + 6, "the fail-open replica counts in Redis again"
    finally:
        stop_all(replicas)
        server.close()
    for replica in replicas:
        log = replica.gateway.server_log()
        assert log.count("is unreachable (") == 1 and log.count("is reachable again") == 1, log[-3000:]
