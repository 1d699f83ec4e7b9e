"""The SQLite store: exact manifests, all-or-nothing transactions, hashes only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tfy_gateway.gateway.identities import create_user, create_user_token
from tfy_gateway.gateway.store import ResourceRecord, StoreError, utc_now
from tfy_gateway.gateway.store import SqliteStore as Store


def record(name: str, manifest: dict) -> ResourceRecord:
    now = utc_now()
    return ResourceRecord(f"id-{name}", "team", name, "team", manifest, {"subjectId": "u"}, now, now)


def test_manifest_round_trips_exactly(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    manifest = {
        "name": "t",
        "type": "team",
        "members": ["ä@example.com"],
        "tags": {"z": 0.1 + 0.2, "a": [1, None, True], "big": 2**53 + 1, "empty": {}},
    }
    with store.transaction() as tx:
        tx.upsert_resource(record("t", manifest))
    store.close()
    reopened = Store(tmp_path / "db.sqlite3")
    (stored,) = reopened.resources()
    assert stored.manifest == manifest
    assert list(stored.manifest["tags"]) == ["z", "a", "big", "empty"]
    assert stored.manifest["tags"]["z"] == 0.1 + 0.2
    reopened.close()


def test_a_failing_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    with store.transaction() as tx:
        tx.upsert_resource(record("a", {"name": "a", "type": "team", "members": []}))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.upsert_resource(record("a", {"name": "a", "type": "team", "members": ["x@y.z"]}))
        tx.upsert_resource(record("b", {"name": "b", "type": "team", "members": []}))
        raise RuntimeError("crash in the middle")
    assert [(r.name, r.manifest["members"]) for r in store.resources()] == [("a", [])]
    store.close()


def test_upsert_keeps_identity_and_creation_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    first = record("a", {"name": "a", "type": "team", "members": []})
    with store.transaction() as tx:
        tx.upsert_resource(first)
    second = ResourceRecord("other-id", "team", "a", "team", {"name": "a", "type": "team", "members": ["m@x.y"]},
                            {"subjectId": "v"}, "2099-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z")  # fmt: skip
    with store.transaction() as tx:
        tx.upsert_resource(second)
    (stored,) = store.resources()
    assert (stored.id, stored.created_at, stored.created_by) == (first.id, first.created_at, first.created_by)
    assert stored.manifest["members"] == ["m@x.y"] and stored.updated_at == second.updated_at
    store.close()


def test_tokens_are_stored_as_hashes_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    _, issued = create_user(store, "Alice@Example.com", teams=["backend"])
    extra = create_user_token(store, "alice@example.com", "laptop")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for token in (issued.token, extra.token):
        assert token.startswith("tfy_") and token.encode() not in raw
    assert "token=" not in repr(issued)


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(StoreError, match="newer tfy-gateway"):
        Store(path)


def test_a_full_disk_is_a_507_naming_the_directory_and_saves_nothing(tmp_path: Path) -> None:
    from tfy_gateway.gateway.errors import ApiError

    store = Store(tmp_path / "gateway.sqlite3")
    used = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {used + 2}")  # SQLite's own "database or disk is full"
    big = {"type": "team", "name": "big", "description": "x" * 200_000}
    with pytest.raises(ApiError) as full, store.transaction() as tx:
        tx.upsert_resource(record("big", big))
    assert full.value.status == 507 and f"No space left on {tmp_path}" in full.value.message
    assert store.resources() == []
    store.close()


def test_a_database_from_before_versioned_migrations_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE resources (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
        " manifest TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
        " UNIQUE (kind, name));"
        "INSERT INTO resources VALUES ('id-t', 'team', 't', 'team', '{\"name\":\"t\"}', '{}', 'x', 'x');"
        "PRAGMA user_version = 1;"
    )
    old.close()
    store = Store(path)
    assert [(r.name, r.manifest) for r in store.resources()] == [("t", {"name": "t"})]
    assert store.data_version() == 0
    with store.transaction() as tx:
        tx.upsert_resource(record("u", {"name": "u", "type": "team"}))
    assert store.data_version() == 1
    store.close()
