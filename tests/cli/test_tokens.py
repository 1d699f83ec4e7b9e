"""`tokens list`, `tokens revoke` and `tokens virtual-account` against a running gateway's data dir."""

from __future__ import annotations

import json

import httpx

from tests.gateway.conftest import add_user, run_cli
from tests.helpers import wait_for
from tfy_gateway.platform import ControlPlaneClient


def session_status(gateway, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{gateway.base_url}/api/svc/v1/session", headers=headers, timeout=10).status_code


def test_list_and_revoke_a_user_token(gateway):
    data_dir = str(gateway.data_dir)
    token = add_user(gateway, "alice@example.com")
    created = run_cli("tokens", "create", "--user", "alice@example.com", "--name", "ci-job", "--data-dir", data_dir)
    assert created.returncode == 0
    listed = run_cli("tokens", "list", "--user", "alice@example.com", "--format", "json", "--data-dir", data_dir)
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["default", "ci-job"] and rows[0]["owner"] == "user:alice@example.com"
    assert token not in listed.stdout and created.stdout.strip() not in listed.stdout
    wait_for(lambda: session_status(gateway, token) == 200, "the server knows alice")

    revoked = run_cli("tokens", "revoke", "--user", "alice@example.com", "--name", "default", "--data-dir", data_dir)
    assert revoked.returncode == 0 and "no longer authenticates" in revoked.stderr
    wait_for(lambda: session_status(gateway, token) == 401, "the revoked token is refused")
    assert session_status(gateway, created.stdout.strip()) == 200
    again = run_cli("tokens", "revoke", "--user", "alice@example.com", "--name", "default", "--data-dir", data_dir)
    assert again.returncode == 1 and "its tokens: 'ci-job'" in again.stderr


async def test_a_virtual_account_token_is_issued_once_and_replaces_the_old(gateway):
    data_dir = str(gateway.data_dir)
    missing = run_cli("tokens", "virtual-account", "ci-bot", "--data-dir", data_dir)
    assert missing.returncode == 1 and "apply its `virtual-account` manifest first" in missing.stderr
    async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as client:
        await client.apply({"name": "ci-bot", "type": "virtual-account", "permissions": []}, dry_run=False)
    first = run_cli("tokens", "virtual-account", "ci-bot", "--data-dir", data_dir).stdout.strip()
    second = run_cli("tokens", "virtual-account", "ci-bot", "--data-dir", data_dir)
    assert first.startswith("tfy_va_ci-bot_") and "the old one is revoked" in second.stderr
    wait_for(lambda: session_status(gateway, second.stdout.strip()) != 401, "the new token authenticates")
    wait_for(lambda: session_status(gateway, first) == 401, "the old token is refused")
    listed = run_cli("tokens", "list", "--virtual-account", "ci-bot", "--data-dir", data_dir)
    assert listed.stdout.count("virtualaccount:ci-bot") == 1
