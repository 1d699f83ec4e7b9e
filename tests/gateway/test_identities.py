"""The admin token from TFY_GATEWAY_ADMIN_TOKEN across starts."""

from __future__ import annotations

from pathlib import Path

from tfy_gateway.gateway.auth import hash_token
from tfy_gateway.gateway.identities import bootstrap_admin
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.store import SqliteStore


def test_the_same_environment_token_keeps_its_id_and_a_new_one_replaces_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.sqlite3")
    try:
        first = GatewaySettings(data_dir=tmp_path, admin_token="tfy_env_token_one")
        bootstrap_admin(store, first)
        [issued] = store.tokens()
        bootstrap_admin(store, first)  # a restart: what runs as this token (a batch) finds it by its id
        assert [t.id for t in store.tokens()] == [issued.id]
        bootstrap_admin(store, GatewaySettings(data_dir=tmp_path, admin_token="tfy_env_token_two"))
        [replaced] = store.tokens()
        assert replaced.id != issued.id and replaced.token_hash == hash_token("tfy_env_token_two")
    finally:
        store.close()
