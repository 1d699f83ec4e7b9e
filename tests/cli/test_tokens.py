"""`tokens create|list|revoke|virtual-account` against a running gateway, through its API (TFY_HOST).

The server makes each change itself, so a token printed by `tokens create` works on the very next
request, and a revoked one is refused on it: no waiting, no retry.
"""

from __future__ import annotations

import json

import httpx

from tests.gateway.conftest import Api, add_user, run_cli
from tests.helpers import GatewayProcess


def status(gateway: GatewayProcess, path: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{gateway.base_url}{path}", headers=headers, timeout=30).status_code


def test_a_created_token_works_on_the_data_plane_at_once_every_time(gateway: GatewayProcess) -> None:
    add_user(gateway, "alice@example.com")
    statuses = []
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        for n in range(20):
            created = run_cli(
                "tokens", "create", "--user", "alice@example.com", "--name", f"burst-{n}", env=gateway.env
            )
            assert created.returncode == 0, created.stderr
            token = created.stdout.strip()
            statuses.append(http.get("/api/llm/models", headers={"Authorization": f"Bearer {token}"}).status_code)
    assert statuses == [200] * 20


def test_list_and_revoke_a_user_token(gateway: GatewayProcess) -> None:
    env = gateway.env
    token = add_user(gateway, "alice@example.com")
    created = run_cli("tokens", "create", "--user", "alice@example.com", "--name", "ci-job", env=env)
    assert created.returncode == 0, created.stderr
    listed = run_cli("tokens", "list", "--user", "alice@example.com", "--format", "json", env=env)
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["default", "ci-job"] and rows[0]["owner"] == "user:alice@example.com"
    assert set(rows[0]) == {"owner", "name", "created_at", "expires_at"}
    assert token not in listed.stdout and created.stdout.strip() not in listed.stdout

    revoked = run_cli("tokens", "revoke", "--user", "alice@example.com", "--name", "default", env=env)
    assert revoked.returncode == 0 and "no longer authenticates" in revoked.stderr
    assert status(gateway, "/api/svc/v1/session", token) == 401
    assert status(gateway, "/api/svc/v1/session", created.stdout.strip()) == 200
    again = run_cli("tokens", "revoke", "--user", "alice@example.com", "--name", "default", env=env)
    assert again.returncode == 1 and "its tokens: 'ci-job'" in again.stderr


def test_unnamed_tokens_take_the_first_free_cli_name(gateway: GatewayProcess) -> None:
    add_user(gateway, "bob@example.com")
    names = []
    for _ in range(2):
        created = run_cli("tokens", "create", "--user", "bob@example.com", env=gateway.env)
        assert created.returncode == 0, created.stderr
        names.append(created.stderr.split("'")[1])
    assert names == ["cli-1", "cli-2"]


def test_a_virtual_account_token_is_issued_once_and_replaces_the_old(gateway: GatewayProcess) -> None:
    env = gateway.env
    missing = run_cli("tokens", "virtual-account", "ci-bot", env=env)
    assert missing.returncode == 1 and "apply its `virtual-account` manifest first" in missing.stderr
    with Api(gateway.base_url, gateway.admin_token) as admin:
        assert admin.apply({"name": "ci-bot", "type": "virtual-account", "permissions": []}).status_code == 200
    first = run_cli("tokens", "virtual-account", "ci-bot", env=env).stdout.strip()
    second = run_cli("tokens", "virtual-account", "ci-bot", env=env)
    assert first.startswith("tfy_va_ci-bot_") and "the old one is revoked" in second.stderr
    assert status(gateway, "/api/svc/v1/session", second.stdout.strip()) != 401
    assert status(gateway, "/api/svc/v1/session", first) == 401
    kept = run_cli("tokens", "virtual-account", "ci-bot", "--grace-minutes", "5", env=env)
    assert "the old one works for 5 more minute(s)" in kept.stderr
    assert status(gateway, "/api/svc/v1/session", second.stdout.strip()) != 401
    listed = run_cli("tokens", "list", "--virtual-account", "ci-bot", env=env)
    assert listed.returncode == 0 and "virtualaccount:ci-bot" in listed.stdout
    assert "user:" not in listed.stdout


def test_without_a_gateway_or_an_admin_key_the_error_says_what_to_do(gateway: GatewayProcess) -> None:
    nowhere = run_cli("tokens", "list")
    assert nowhere.returncode == 2 and "TFY_HOST" in nowhere.stderr and "--data-dir" in nowhere.stderr
    no_key = run_cli("tokens", "list", env={"TFY_HOST": gateway.base_url})
    assert no_key.returncode == 2 and "TFY_API_KEY" in no_key.stderr
    member = add_user(gateway, "carol@example.com")
    refused = run_cli("tokens", "list", env={**gateway.env, "TFY_API_KEY": member})
    assert refused.returncode == 1 and "(403)" in refused.stderr and member not in refused.stderr
