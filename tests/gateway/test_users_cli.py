"""`tfy-gateway users` / `tokens`: offline identity management on the data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gateway.conftest import run_cli
from tfy_gateway.gateway.identities import bootstrap_admin
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.store import SqliteStore as Store


def test_users_add_list_and_tokens_create(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    missing = run_cli("users", "list", "--data-dir", str(data_dir))
    assert missing.returncode == 1 and "No gateway database" in missing.stderr

    settings = GatewaySettings(data_dir=data_dir)
    store = Store(settings.database_path)
    bootstrap_admin(store, settings)
    store.close()

    added = run_cli(
        "users", "add", "alice@example.com", "--team", "backend", "--team", "ml", "--data-dir", str(data_dir)
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("tfy_") and token not in added.stderr
    again = run_cli("users", "add", "alice@example.com", "--data-dir", str(data_dir))
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = run_cli("users", "add", "not-an-email", "--data-dir", str(data_dir))
    assert bad.returncode == 1 and "Invalid email" in bad.stderr

    created = run_cli(
        "tokens", "create", "--user", "alice@example.com", "--name", "ci-token", "--data-dir", str(data_dir)
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("tfy_") and created.stdout.strip() != token
    nobody = run_cli("tokens", "create", "--user", "bob@example.com", "--data-dir", str(data_dir))
    assert nobody.returncode == 1 and "No user" in nobody.stderr

    listed = run_cli("users", "list", "--json", "--data-dir", str(data_dir))
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
def test_a_token_expiry_in_the_past_or_unreadable_is_refused(tmp_path: Path, expires: str, why: str) -> None:
    data_dir = tmp_path / "data"
    settings = GatewaySettings(data_dir=data_dir)
    store = Store(settings.database_path)
    bootstrap_admin(store, settings)
    store.close()
    added = run_cli("users", "add", "carol@example.com", "--data-dir", str(data_dir))
    assert added.returncode == 0, added.stderr
    result = run_cli(
        "tokens", "create", "--user", "carol@example.com", "--expires", expires, "--data-dir", str(data_dir)
    )
    assert result.returncode != 0 and why in result.stderr and "tfy_" not in result.stdout
