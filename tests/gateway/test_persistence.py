"""Durability: restarts keep everything, kill -9 never tears a manifest, secrets stay secret."""

from __future__ import annotations

import random
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.conftest import Api, add_user, load_examples
from tests.helpers import GatewayProcess
from tfy_gateway.gateway.store import SqliteStore as Store

CONFIG = "/api/svc/v1/llm-gateway/config/gateway-load-balancing-config"
Connect = Callable[[str, str | None], Api]


def routing_with(weight: int) -> dict[str, Any]:
    routing = load_examples("routing-weighted.yaml")[0]
    routing["rules"][0]["load_balance_targets"][0]["weight"] = weight
    routing["rules"][0]["load_balance_targets"][1]["weight"] = 100 - weight
    return routing


def test_restart_keeps_config_users_and_tokens(gateway: GatewayProcess, connect: Connect) -> None:
    admin = connect(gateway.base_url, gateway.admin_token)
    for manifest in load_examples("provider-accounts.yaml"):
        assert admin.apply(manifest).status_code == 200
    assert admin.apply(routing_with(55)).status_code == 200
    account = {
        "name": "ci-bot",
        "type": "virtual-account",
        "permissions": [{"resource_fqn": "openai-main/gpt-4o", "resource_type": "model", "role_id": "x"}],
    }
    account_id = admin.apply(account).json()["data"]["id"]
    vat = admin.get(f"/api/svc/v1/virtual-accounts/{account_id}/token").json()["token"]
    bob = add_user(gateway, "bob@example.com", "--team", "backend")
    before = {path: admin.get(path).json() for path in (CONFIG, "/api/svc/v1/provider-accounts", "/api/svc/v1/teams")}

    gateway.restart()

    admin = connect(gateway.base_url, gateway.admin_token)  # a new pool: the old one's connections died
    after = {path: admin.get(path).json() for path in before}
    assert after == before
    assert after[CONFIG]["manifest"] == routing_with(55)
    assert connect(gateway.base_url, vat).models() == ["openai-main/gpt-4o"]
    session = connect(gateway.base_url, bob).get("/api/svc/v1/session").json()
    assert session["user"]["teams"] == ["backend", "everyone"]


def test_kill_9_during_a_burst_of_applies_never_tears_a_manifest(gateway: GatewayProcess, connect: Connect) -> None:
    admin = connect(gateway.base_url, gateway.admin_token)
    for manifest in load_examples("provider-accounts.yaml"):
        assert admin.apply(manifest).status_code == 200
    sent: list[dict[str, Any]] = [routing_with(50)]
    assert admin.apply(sent[0]).status_code == 200
    teams_sent: dict[str, list[dict[str, Any]]] = {}
    answered: list[int] = []  # statuses of the burst's applies (list.append is atomic across threads)
    stop = threading.Event()

    def burst(worker: int) -> None:
        rng = random.Random(worker)
        with Api(gateway.base_url, gateway.admin_token) as client:
            while not stop.is_set():
                if worker % 2:
                    manifest = routing_with(rng.randint(1, 99))
                    sent.append(manifest)
                else:
                    name = f"team-{worker}-{rng.randint(0, 3)}"
                    members = [f"u{n}@example.com" for n in range(rng.randint(0, 50))]
                    manifest = {"name": name, "type": "team", "members": members, "description": "d" * 2000}
                    teams_sent.setdefault(name, []).append(manifest)
                try:
                    answered.append(client.apply(manifest).status_code)
                except httpx.HTTPError:
                    break

    workers = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    # Kill once the burst is under way (however long that takes on a loaded machine), with the
    # workers still sending: some applies are in flight when the process dies.
    deadline = time.monotonic() + 120
    while len(answered) < 20 and time.monotonic() < deadline and all(w.is_alive() for w in workers):
        time.sleep(0.01)
    gateway.kill()
    stop.set()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers), "a burst worker hung after the kill"
    assert len(answered) >= 20, f"the burst did not get going before the kill ({len(answered)} applies answered)"
    assert set(answered) == {200}, sorted(set(answered))

    store = Store(gateway.data_dir / "gateway.sqlite3")
    try:
        assert store.integrity_check() == "ok"
        for record in store.resources():
            if record.type == "gateway-load-balancing-config":
                assert record.manifest in sent
            elif record.type == "team":
                assert record.manifest in teams_sent[record.name]
    finally:
        store.close()

    gateway.start()
    assert connect(gateway.base_url, gateway.admin_token).get(CONFIG).json()["manifest"] in sent


def test_admin_token_file_is_private_and_never_logged(tmp_path: Path, connect: Connect) -> None:
    server = GatewayProcess(
        tmp_path / "data", env={"TFY_GATEWAY_ADMIN_TOKEN": ""}, extra_args=("--log-level", "debug", "--access-log")
    )
    server.start()
    try:
        token_file = server.data_dir / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        admin_token = token_file.read_text().strip()
        assert admin_token.startswith("tfy_")
        admin = connect(server.base_url, admin_token)
        assert admin.get("/api/svc/v1/session").status_code == 200
        secrets = [admin_token]
        created = admin.http.post("/api/svc/v1/personal-access-tokens", json={"name": "laptop"}).json()
        secrets.append(created["token"])
        account_id = admin.apply({"name": "ci-bot", "type": "virtual-account"}).json()["data"]["id"]
        secrets.append(admin.get(f"/api/svc/v1/virtual-accounts/{account_id}/token").json()["token"])
        secrets.append(admin.http.post(f"/api/svc/v1/virtual-accounts/{account_id}/regenerate-token").json()["token"])
        secrets.append(add_user(server, "bob@example.com", admin_token=admin_token))
        for token in secrets:  # failed authentications are logged too, if at all, without the token
            connect(server.base_url, token + "x").get("/api/svc/v1/session")
        server.restart()  # the file's token still works after a restart, and is not replaced
        assert token_file.read_text().strip() == admin_token
        assert connect(server.base_url, admin_token).get("/api/svc/v1/session").status_code == 200
    finally:
        server.stop()
    log = server.server_log()
    # SIGTERM drains and runs the lifespan shutdown (uvicorn then re-raises the signal: exit -15).
    assert log.count("Application shutdown complete") == 2
    assert str(token_file) in log
    assert "GET /api/svc/v1/session" in log  # access log on: the check below is meaningful
    for token in secrets:
        assert token not in log
        assert token[4:20] not in log
    database = (server.data_dir / "gateway.sqlite3").read_bytes()
    database += (
        (server.data_dir / "gateway.sqlite3-wal").read_bytes()
        if (server.data_dir / "gateway.sqlite3-wal").exists()
        else b""
    )
    for token in secrets:
        assert token.encode() not in database
