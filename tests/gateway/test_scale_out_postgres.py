"""Two real gateway replicas on one real PostgreSQL: the control plane they share.

An apply through one replica is served by the other; a replica killed with SIGKILL in the middle of a
stream of applies leaves the other serving one whole configuration that was committed; tokens, users
and request logs written through one are seen through the other; both survive a PostgreSQL restart.
The replicas run without the version poll (`--watch-interval-s 0`), so every change seen across
replicas here travelled by LISTEN/NOTIFY (and the catch-up after a reconnect). Deadlines are hang guards (generous, for a loaded machine), not speed assertions: the measured
figures are in references/scale-out.md.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.gateway.conftest import run_cli
from tests.helpers import GatewayProcess, wait_for
from tests.postgres import PostgresServer
from tfy_gateway.fakeprovider import running

PROVIDER_KEY = "sk-fakeprovider-" + "s3cr" * 8
DEADLINE_S = 60.0


def account(name: str, provider: str, models: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "provider-account/openai",
        "base_url": f"{provider}/v1",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            {"type": "integration/model/openai", "name": m, "model_id": "gpt-4o", "model_types": ["chat"]}
            for m in models
        ],
    }


@dataclass
class Replicas:
    a: GatewayProcess
    b: GatewayProcess
    provider: str
    url: str

    def client(self, replica: GatewayProcess, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or replica.admin_token}"}
        return httpx.Client(base_url=replica.base_url, headers=headers, timeout=30)


def apply(replica: GatewayProcess, manifest: dict[str, Any]) -> httpx.Response:
    return httpx.put(
        replica.base_url + "/api/svc/v1/apply",
        json={"manifest": manifest, "dryRun": False},
        headers={"Authorization": f"Bearer {replica.admin_token}"},
        timeout=30,
    )


def models(replica: GatewayProcess, prefix: str) -> list[str]:
    """The models `replica` serves right now whose id starts with `prefix` (its compiled catalog)."""
    response = httpx.get(
        replica.base_url + "/api/llm/models", headers={"Authorization": f"Bearer {replica.admin_token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return sorted(m["id"] for m in response.json()["data"] if m["id"].startswith(prefix))


def stored_manifest(url: str, kind: str, name: str) -> dict[str, Any] | None:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT manifest FROM resources WHERE kind = %s AND name = %s", (kind, name)
        ).fetchone()
    return json.loads(row[0]) if row else None


def replica(data_dir: Path, url: str, admin_token: str | None = None) -> GatewayProcess:
    # No poll: changes reach a replica through PostgreSQL notifications alone, so these tests prove them.
    process = GatewayProcess(data_dir, extra_args=("--database-url", url, "--watch-interval-s", "0"))
    if admin_token is not None:
        process.admin_token = admin_token  # one admin token for the shared control plane
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "secrets.json").write_text(json.dumps({"fake-group": {"API_KEY": PROVIDER_KEY}}))
    return process


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    with running(api_key=PROVIDER_KEY) as provider:
        a = replica(root / "a", postgres_url)
        b = replica(root / "b", postgres_url, a.admin_token)
        try:
            a.start()
            b.start()
            yield Replicas(a, b, provider, postgres_url)
        finally:
            a.stop()
            b.stop()


def test_an_apply_through_one_replica_is_served_by_the_other(replicas: Replicas) -> None:
    a, b = replicas.a, replicas.b
    for version in range(1, 6):
        wanted = [f"live/v{version}-m{i}" for i in range(3)]
        response = apply(a, account("live", replicas.provider, [m.split("/")[1] for m in wanted]))
        assert response.status_code == 200, response.text
        assert models(a, "live/") == wanted  # the replica that applied serves it at once
        wait_for(lambda w=wanted: models(b, "live/") == w, f"replica B serving version {version}", timeout=DEADLINE_S)
    assert stored_manifest(replicas.url, "provider-account", "live") is not None


def test_concurrent_applies_on_both_replicas_lose_nothing(replicas: Replicas) -> None:
    """Applies racing on both replicas are serialised: every one lands, and both converge."""
    errors: list[str] = []

    def apply_many(replica: GatewayProcess, side: str) -> None:
        for i in range(8):
            team = {"type": "team", "name": f"race-{side}-{i}", "members": [f"{side}{i}@example.com"]}
            response = apply(replica, team)
            if response.status_code != 200:
                errors.append(response.text)
            # The same manifest from both sides: last writer wins, but whole, and both agree on it.
            shared = {"type": "team", "name": "race-shared", "members": [f"{side}{i}@example.com"]}
            response = apply(replica, shared)
            if response.status_code != 200:
                errors.append(response.text)

    threads = [
        threading.Thread(target=apply_many, args=(r, side)) for r, side in ((replicas.a, "a"), (replicas.b, "b"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = {f"race-{side}-{i}" for side in "ab" for i in range(8)} | {"race-shared"}
    stored = stored_manifest(replicas.url, "team", "race-shared")
    assert stored is not None

    def view(replica: GatewayProcess) -> tuple[set[str], list[str]]:
        with replicas.client(replica) as client:
            teams = client.get("/api/svc/v1/teams").json()["data"]
        names = {t["manifest"]["name"] for t in teams if t["manifest"]["name"].startswith("race-")}
        shared = next((t["manifest"]["members"] for t in teams if t["manifest"]["name"] == "race-shared"), [])
        return names, shared

    for r in (replicas.a, replicas.b):
        wait_for(lambda r=r: view(r) == (expected, stored["members"]), "both replicas converging", timeout=DEADLINE_S)


def test_budget_puts_and_applies_racing_on_two_replicas_all_succeed(replicas: Replicas) -> None:
    """The budgets API writes through the same writer as apply: a concurrent commit on the other
    replica makes it plan again, never a 409 the user did not cause."""
    failures: list[str] = []

    def put_budgets(replica: GatewayProcess) -> None:
        with replicas.client(replica) as client:
            for i in range(8):
                budget = {"name": f"race-budget-{i}", "type": "tenant-budget-config", "limits": {"cost_per_day": 10 + i},
                          "applies_to": {"type": "aggregate"}, "mode": "enforce"}  # fmt: skip
                response = client.put("/api/svc/v1/llm-gateway/budgets", json={"manifest": budget, "dryRun": False})
                if response.status_code != 200:
                    failures.append(f"budget PUT: {response.status_code} {response.text}")

    def apply_teams(replica: GatewayProcess) -> None:
        for i in range(8):
            response = apply(replica, {"type": "team", "name": f"budget-race-{i}", "members": [f"t{i}@example.com"]})
            if response.status_code != 200:
                failures.append(f"apply: {response.status_code} {response.text}")

    threads = [
        threading.Thread(target=put_budgets, args=(replicas.a,)),
        threading.Thread(target=apply_teams, args=(replicas.b,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with replicas.client(replicas.b) as client:
        wait_for(
            lambda: (
                {b["name"] for b in client.get("/api/svc/v1/llm-gateway/budgets").json()["data"]}
                >= {f"race-budget-{i}" for i in range(8)}
            ),
            "replica B listing every budget put through A",
            timeout=DEADLINE_S,
        )


def test_tokens_and_users_made_on_one_replica_authenticate_on_the_other(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = replicas.a, replicas.b
    with replicas.client(a) as client:
        created = client.post("/api/svc/v1/personal-access-tokens", json={"name": "laptop"})
    assert created.status_code == 200, created.text
    token = created.json()["token"]

    def session_status(replica: GatewayProcess, token: str) -> int:
        response = httpx.get(
            replica.base_url + "/api/svc/v1/session", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        return response.status_code

    wait_for(lambda: session_status(b, token) == 200, "the token made on A working on B", timeout=DEADLINE_S)
    with replicas.client(b) as client:
        deleted = client.delete(f"/api/svc/v1/personal-access-tokens/{created.json()['id']}")
    assert deleted.status_code == 200, deleted.text
    wait_for(lambda: session_status(a, token) == 401, "the token deleted on B refused on A", timeout=DEADLINE_S)

    # The offline CLI writes to the same database given its URL, like `serve` (no dir lock: replicas hear
    # of the write through LISTEN/NOTIFY); without TFY_HOST it also reads TFY_GATEWAY_DATABASE_URL.
    flagged = run_cli("users", "add", "carol@example.com", "--database-url", replicas.url)
    monkeypatch.setenv("TFY_GATEWAY_DATABASE_URL", replicas.url)
    from_env = run_cli("users", "add", "dave@example.com")
    for result in (flagged, from_env):
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip()
        for r in (a, b):
            wait_for(
                lambda r=r, token=token: session_status(r, token) == 200,
                "a user added offline working on both",
                timeout=DEADLINE_S,
            )


def test_request_logs_written_through_one_replica_are_read_through_the_other(replicas: Replicas) -> None:
    a, b = replicas.a, replicas.b
    assert apply(a, account("logged", replicas.provider, ["gpt-4o"])).status_code == 200
    wait_for(lambda: models(a, "logged/") == ["logged/gpt-4o"], "replica A serving the account")
    with replicas.client(a) as client:
        reply = client.post(
            "/api/llm/chat/completions",
            json={"model": "logged/gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-tfy-metadata": json.dumps({"project": "scale-out"})},
        )
    assert reply.status_code == 200, reply.text
    request_id = reply.headers["x-tfy-request-id"]

    def record_on_b() -> dict[str, Any] | None:
        with replicas.client(b) as client:
            page = client.get("/api/svc/v1/llm-gateway/logs", params={"model": "logged/gpt-4o", "limit": 50})
        assert page.status_code == 200, page.text
        return next((r for r in page.json()["data"] if r["id"] == request_id), None)

    found = wait_for(record_on_b, "replica B reading the record written by A", timeout=DEADLINE_S)
    assert found["status"] == 200 and found["metadata"] == {"project": "scale-out"}
    assert found["usage_estimated"] is False and isinstance(found["limits"], dict)
    assert found["prompt_tokens"] > 0 and found["subject"].startswith("user:")
    with replicas.client(b) as client:
        summary = client.get("/api/svc/v1/llm-gateway/usage/summary", params={"model": "logged/gpt-4o"}).json()
    assert summary["total"]["requests"] >= 1 and summary["by_model"][0]["model"] == "logged/gpt-4o"


def test_kill_9_during_applies_leaves_the_other_replica_serving_a_whole_config(replicas: Replicas) -> None:
    a, b = replicas.a, replicas.b
    acknowledged: list[int] = []
    stop = threading.Event()

    def names(version: int) -> list[str]:
        return [f"k{version}-m{i}" for i in range(10)]

    def stream() -> None:
        version = 0
        while not stop.is_set():
            version += 1
            try:
                response = apply(a, account("stream", replicas.provider, names(version)))
            except httpx.HTTPError:
                return  # the replica died under us
            if response.status_code != 200:
                return
            acknowledged.append(version)

    thread = threading.Thread(target=stream)
    thread.start()
    try:
        wait_for(lambda: len(acknowledged) >= 5, "a few applies acknowledged by A", timeout=DEADLINE_S)
        a.kill()
    finally:
        stop.set()
        thread.join()
    last_acknowledged = acknowledged[-1]
    stored = stored_manifest(replicas.url, "provider-account", "stream")
    assert stored is not None
    committed = int(stored["integrations"][0]["name"].split("-")[0][1:])
    # A may have committed the apply it was killed in without answering it; nothing after that.
    assert committed in (last_acknowledged, last_acknowledged + 1)
    expected = sorted(f"stream/{n}" for n in names(committed))

    def served() -> list[str]:
        current = models(b, "stream/")
        versions = {m.split("/")[1].split("-")[0] for m in current}
        assert len(versions) == 1 and len(current) == 10, f"B serves a mix: {current}"  # never half of one
        return current

    wait_for(lambda: served() == expected, "B serving the last committed version", timeout=DEADLINE_S)
    a.start()  # a replica that starts loads the current version first
    assert models(a, "stream/") == expected


def test_replicas_reconnect_after_postgresql_restarts(replicas: Replicas, postgres_server: PostgresServer) -> None:
    a, b = replicas.a, replicas.b
    assert apply(a, account("logged", replicas.provider, ["gpt-4o"])).status_code == 200
    wait_for(lambda: models(b, "logged/") == ["logged/gpt-4o"], "replica B serving the account", timeout=DEADLINE_S)
    postgres_server.stop()
    try:
        refused = apply(a, account("after-restart", replicas.provider, ["m"]))
        assert refused.status_code == 503, refused.text
        assert "unreachable" in refused.json()["message"] and "postgres@127.0.0.1" in refused.json()["message"]
        assert models(b, "logged/") == ["logged/gpt-4o"]  # the data plane keeps serving from memory meanwhile
        with replicas.client(b) as client:
            reply = client.post(
                "/api/llm/chat/completions",
                json={"model": "logged/gpt-4o", "messages": [{"role": "user", "content": "during the outage"}]},
            )
        assert reply.status_code == 200, reply.text
    finally:
        postgres_server.start()
    request_id = reply.headers["x-tfy-request-id"]

    def logged_through_a() -> bool:
        with replicas.client(a) as client:
            page = client.get("/api/svc/v1/llm-gateway/logs", params={"model": "logged/gpt-4o", "limit": 200})
        return page.status_code == 200 and any(r["id"] == request_id for r in page.json()["data"])

    wait_for(logged_through_a, "the request log B kept through the outage, read through A", timeout=DEADLINE_S)

    def applied() -> bool:
        return apply(a, account("after-restart", replicas.provider, ["m"])).status_code == 200

    wait_for(applied, "an apply through A once PostgreSQL is back", timeout=DEADLINE_S)
    wait_for(lambda: models(b, "after-restart/") == ["after-restart/m"], "B serving it", timeout=DEADLINE_S)
    # B has no poll (--watch-interval-s 0): its listener reconnected, caught up, and hears the next one.
    assert apply(a, account("after-restart", replicas.provider, ["m", "n"])).status_code == 200
    wait_for(lambda: models(b, "after-restart/") == ["after-restart/m", "after-restart/n"], "B", timeout=DEADLINE_S)
