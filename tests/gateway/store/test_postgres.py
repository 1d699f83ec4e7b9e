"""What only the PostgreSQL engine has to get right: reconnecting, clear errors, no password anywhere."""

from __future__ import annotations

import pytest

from tests.helpers import free_port
from tests.postgres import PostgresServer
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.settings import SettingsError, load_settings
from tfy_gateway.gateway.store import StoreError, utc_now
from tfy_gateway.gateway.store.base import ResourceRecord
from tfy_gateway.gateway.store.postgres import PostgresStore, redact_url


def team(name: str) -> ResourceRecord:
    now = utc_now()
    return ResourceRecord(f"id-{name}", "team", name, "team", {"name": name, "type": "team"}, {}, now, now)


def test_the_store_reconnects_after_postgresql_restarts(postgres_server: PostgresServer) -> None:
    store = PostgresStore(postgres_server.create_database("store_restart"))
    try:
        with store.transaction() as tx:
            tx.upsert_resource(team("before"))
        postgres_server.stop()
        with pytest.raises(ApiError) as down, store.transaction() as tx:
            tx.upsert_resource(team("while-down"))
        assert down.value.status == 503 and "unreachable" in down.value.message
        assert "nothing was changed" in down.value.message
        postgres_server.start()
        assert [r.name for r in store.resources()] == ["before"]  # a read reconnects
        with store.transaction() as tx:  # and so does a write
            tx.upsert_resource(team("after"))
        assert [r.name for r in store.resources()] == ["before", "after"]
    finally:
        store.close()


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = f"postgresql://gateway:hunter2@127.0.0.1:{free_port()}/gateway"
    with pytest.raises(StoreError) as refused:
        PostgresStore(url)
    message = str(refused.value)
    assert "cannot connect to the database postgresql://gateway:***@127.0.0.1:" in message
    assert "hunter2" not in message


def test_redact_url() -> None:
    assert (
        redact_url("postgresql://u:p%40ss@db:5432/x?sslmode=require") == "postgresql://u:***@db:5432/x?sslmode=require"
    )
    assert redact_url("postgresql://u@db/x") == "postgresql://u@db/x"


def test_database_url_setting_is_validated_and_never_echoed() -> None:
    admin = {"TFY_GATEWAY_ADMIN_TOKEN": "tfy_shared_admin_token"}
    url = "postgresql://u:secret@db/x"
    assert load_settings({"database_url": url}, admin).database_url == url
    assert "secret" not in repr(load_settings({"database_url": url}, admin))
    with pytest.raises(SettingsError) as bad:
        load_settings(environ={**admin, "TFY_GATEWAY_DATABASE_URL": "mysql://u:secret@db/x"})
    message = str(bad.value)
    assert message.startswith("TFY_GATEWAY_DATABASE_URL=<hidden>:") and "postgresql:// URL" in message
    assert "secret" not in message


def test_replicas_sharing_a_database_must_share_the_admin_token() -> None:
    """A generated admin token would be replaced by every replica that starts: refused up front."""
    with pytest.raises(SettingsError) as refused:
        load_settings({"database_url": "postgresql://u:secret@db/x"})
    message = str(refused.value)
    assert message.startswith("--database-url=<hidden>:") and "TFY_GATEWAY_ADMIN_TOKEN" in message
    assert "secret" not in message


def test_request_logs_from_before_trace_ids_get_the_column(postgres_server: PostgresServer) -> None:
    """A database whose request_logs table migration 3 made without trace_id is upgraded in place."""
    import psycopg

    url = postgres_server.create_database("logs_upgrade")
    PostgresStore(url).close()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ALTER TABLE request_logs DROP COLUMN trace_id")
        connection.execute("DELETE FROM schema_migrations WHERE version = 4")
    PostgresStore(url).close()
    with psycopg.connect(url) as connection:
        columns = {
            row[0]
            for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'request_logs'"
            )
        }
    assert "trace_id" in columns
