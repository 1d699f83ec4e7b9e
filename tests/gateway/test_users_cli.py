"""`tfy-gateway users` / `tokens`: through a running gateway's API, or offline on a stopped one's store."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import holding_data_dir, run_cli
from tests.helpers import GatewayProcess


def session(gateway: GatewayProcess, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{gateway.base_url}/api/svc/v1/session", headers=headers, timeout=30)


def test_users_add_list_and_tokens_create_through_the_api(gateway: GatewayProcess) -> None:
    env = gateway.env
    added = run_cli("users", "add", "alice@example.com", "--team", "backend", "--team", "ml", env=env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("tfy_") and token not in added.stderr and "Model access:" in added.stderr
    reply = session(gateway, token)  # at once: the server made the user itself
    assert reply.status_code == 200 and reply.json()["user"]["teams"] == ["backend", "ml", "everyone"]
    again = run_cli("users", "add", "alice@example.com", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = run_cli("users", "add", "not-an-email", env=env)
    assert bad.returncode == 1 and "Invalid email" in bad.stderr

    created = run_cli("tokens", "create", "--user", "alice@example.com", "--name", "ci-token", env=env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("tfy_") and created.stdout.strip() != token
    nobody = run_cli("tokens", "create", "--user", "bob@example.com", "--name", "x-token", env=env)
    assert nobody.returncode == 1 and "No user" in nobody.stderr

    listed = run_cli("users", "list", "--json", env=env)
    rows = {row["email"]: row for row in json.loads(listed.stdout)}
    assert rows["admin@local"]["admin"] is True
    assert rows["alice@example.com"] == {
        "email": "alice@example.com",
        "admin": False,
        "teams": ["backend", "ml", "everyone"],
        "tokens": ["default", "ci-token"],
    }
    assert token not in listed.stdout


@pytest.mark.parametrize(("expires", "why"), [("2001-01-01T00:00:00Z", "in the past"), ("tomorrow", "not an ISO-8601")])
def test_a_token_expiry_in_the_past_or_unreadable_is_refused(
    shared_gateway: GatewayProcess, expires: str, why: str
) -> None:
    email = f"carol-{len(why)}@example.com"
    assert run_cli("users", "add", email, env=shared_gateway.env).returncode == 0
    result = run_cli("tokens", "create", "--user", email, "--expires", expires, env=shared_gateway.env)
    assert result.returncode != 0 and why in result.stderr and "tfy_" not in result.stdout


def test_offline_on_a_stopped_gateways_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    missing = run_cli("users", "list", "--data-dir", str(data_dir))
    assert missing.returncode == 1 and "No gateway database" in missing.stderr
    server = GatewayProcess(data_dir)
    server.start()
    server.stop()

    added = run_cli("users", "add", "alice@example.com", "--team", "backend", "--data-dir", str(data_dir))
    assert added.returncode == 0, added.stderr
    created = run_cli("tokens", "create", "--user", "alice@example.com", "--data-dir", str(data_dir))
    assert created.returncode == 0 and "'cli-1'" in created.stderr
    revoked = run_cli("tokens", "revoke", "--user", "alice@example.com", "--name", "cli-1", "--data-dir", str(data_dir))
    assert revoked.returncode == 0, revoked.stderr
    listed = run_cli("users", "list", "--json", "--data-dir", str(data_dir))
    rows = {row["email"]: row for row in json.loads(listed.stdout)}
    assert rows["alice@example.com"]["tokens"] == ["default"] and rows["alice@example.com"]["teams"][0] == "backend"

    server.start()
    try:
        reply = session(server, added.stdout.strip())  # read when the server started
        assert reply.status_code == 200 and reply.json()["user"]["teams"] == ["backend", "everyone"]
        assert session(server, created.stdout.strip()).status_code == 401
    finally:
        server.stop()


def test_a_running_server_refuses_the_offline_commands(gateway: GatewayProcess) -> None:
    refused = run_cli("users", "add", "bob@example.com", "--data-dir", str(gateway.data_dir))
    assert refused.returncode == 1, refused.stderr
    assert f"a gateway is serving {gateway.data_dir} (pid " in refused.stderr and "or stop it first" in refused.stderr
    through_api = run_cli("users", "add", "bob@example.com", env=gateway.env)
    assert through_api.returncode == 0, through_api.stderr


def test_the_refusal_says_how_to_reach_the_server_instead(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = GatewayProcess(data_dir)
    server.start()
    server.stop()
    with holding_data_dir(data_dir, "http://127.0.0.1:8787") as holder:
        for command in (("users", "list"), ("tokens", "create", "--user", "a@x"), ("tokens", "virtual-account", "v")):
            refused = run_cli(*command, "--data-dir", str(data_dir))
            assert refused.returncode == 1
            assert refused.stderr == (
                f"error: a gateway is serving {data_dir} (pid {holder.pid}): run the command against it with "
                f"TFY_HOST=http://127.0.0.1:8787 TFY_API_KEY=$(cat {data_dir / 'admin-token'}) (or another admin "
                "token) and without --data-dir, or stop it first\n"
            )


def test_with_neither_a_gateway_nor_a_data_dir_the_error_names_both() -> None:
    result = run_cli("users", "add", "dave@example.com")
    assert result.returncode == 2 and "TFY_HOST" in result.stderr and "--data-dir" in result.stderr
    assert "--database-url" in result.stderr
