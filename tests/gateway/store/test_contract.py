"""The store contract, run against SQLite and PostgreSQL alike (see conftest.py).

What callers rely on: manifests come back exactly, a transaction is all or nothing, concurrent writers
(other processes, other replicas) never interleave, the change counter moves on every commit whoever
made it, a stale plan is refused, migrations run once and a newer schema is refused.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.gateway.store.conftest import OpenStore
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import create_user, create_user_token, hash_token
from tfy_gateway.gateway.store import ResourceRecord, Store, StoreConflict, StoreError, TokenRecord, utc_now
from tfy_gateway.gateway.store.migrations import LATEST, MIGRATIONS


def record(name: str, manifest: dict[str, Any], kind: str = "team") -> ResourceRecord:
    now = utc_now()
    return ResourceRecord(f"id-{name}", kind, name, kind, manifest, {"subjectId": "u"}, now, now)


def team(name: str, *members: str) -> ResourceRecord:
    return record(name, {"name": name, "type": "team", "members": list(members)})


def test_manifest_round_trips_exactly_through_another_connection(open_store: OpenStore) -> None:
    writer = open_store()
    manifest = {
        "name": "t",
        "type": "team",
        "members": ["ä@example.com"],
        "tags": {"z": 0.1 + 0.2, "a": [1, None, True], "big": 2**53 + 1, "empty": {}, "q": "what? 100%"},
    }
    with writer.transaction() as tx:
        tx.upsert_resource(record("t", manifest))
    (stored,) = open_store().resources()
    assert stored.manifest == manifest
    assert list(stored.manifest["tags"]) == ["z", "a", "big", "empty", "q"]
    assert stored.manifest["tags"]["z"] == 0.1 + 0.2


def test_a_failing_transaction_leaves_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.upsert_resource(team("a"))
    version = store.data_version()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.upsert_resource(team("a", "x@y.z"))
        tx.upsert_resource(team("b"))
        raise RuntimeError("crash in the middle")
    assert [(r.name, r.manifest["members"]) for r in store.resources()] == [("a", [])]
    assert store.data_version() == version  # a rolled-back transaction is no change


def test_upsert_keeps_identity_creation_time_and_order(store: Store) -> None:
    first = team("a")
    with store.transaction() as tx:
        tx.upsert_resource(first)
        tx.upsert_resource(team("b"))
    second = ResourceRecord("other-id", "team", "a", "team", {"name": "a", "type": "team", "members": ["m@x.y"]},
                            {"subjectId": "v"}, "2099-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z")  # fmt: skip
    with store.transaction() as tx:
        tx.upsert_resource(second)
        assert tx.resource("team", "a") == ResourceRecord(
            first.id, "team", "a", "team", second.manifest, first.created_by, first.created_at, second.updated_at
        )
    stored = store.resources()
    assert [r.name for r in stored] == ["a", "b"]  # the order they were first applied in
    assert stored[0].manifest["members"] == ["m@x.y"]
    with store.transaction() as tx:
        assert tx.delete_resource("team", "a") is True
        assert tx.delete_resource("team", "a") is False
        assert tx.resource("team", "a") is None


def test_users_and_tokens(store: Store) -> None:
    user, issued = create_user(store, "Alice@Example.com", teams=["backend"])
    extra = create_user_token(store, "alice@example.com", "laptop")
    assert [u.email for u in store.users()] == ["alice@example.com"] and store.users()[0].is_admin is False
    with store.transaction() as tx:
        assert tx.user("alice@example.com") == user
        assert sorted(t.name for t in tx.tokens_of("user", "alice@example.com")) == ["default", "laptop"]
        assert tx.token_by_hash(hash_token(extra.token)) == extra.record
        tx.expire_token(extra.record.id, "2000-01-01T00:00:00.000Z")
        assert tx.token(extra.record.id) == TokenRecord(
            **{**extra.record.__dict__, "expires_at": "2000-01-01T00:00:00.000Z"}
        )
        assert tx.delete_tokens("user", "alice@example.com", "laptop") == 1
        assert tx.delete_token(issued.record.id) is True and tx.delete_token(issued.record.id) is False
    assert store.tokens() == []
    (backend,) = store.resources()
    assert backend.manifest["members"] == ["alice@example.com"]


def test_tokens_are_stored_as_hashes_only(store: Store) -> None:
    _, issued = create_user(store, "alice@example.com")
    with store.reading() as execute:
        dumped = repr([execute(f"SELECT * FROM {table}", ()).fetchall() for table in ("users", "tokens", "resources")])
    assert issued.token.startswith("tfy_") and issued.token not in dumped
    assert hash_token(issued.token) in dumped


def test_the_version_moves_on_every_commit_whoever_made_it(open_store: OpenStore) -> None:
    mine, other = open_store(), open_store()
    seen: list[tuple[int, int]] = []
    mine.observe(lambda before, after: seen.append((before, after)))
    start = mine.data_version()
    with mine.transaction() as tx:
        tx.upsert_resource(team("a"))
    assert seen == [(start, start + 1)] and mine.data_version() == start + 1
    with other.transaction() as tx:  # another process or replica: mine is not told, but sees the counter move
        tx.upsert_resource(team("b"))
    assert seen == [(start, start + 1)] and mine.data_version() == start + 2
    mine.resources(), mine.users()
    assert mine.data_version() == start + 2  # reads change nothing
    contents = mine.contents()
    assert contents.version == start + 2 and [r.name for r in contents.resources] == ["a", "b"]


def test_a_change_planned_on_a_stale_version_is_refused(open_store: OpenStore) -> None:
    mine, other = open_store(), open_store()
    planned_at = mine.data_version()
    with other.transaction() as tx:
        tx.upsert_resource(team("theirs"))
    with pytest.raises(StoreConflict) as conflict, mine.transaction(expect_version=planned_at) as tx:
        tx.upsert_resource(team("mine"))
    assert (conflict.value.expected, conflict.value.found) == (planned_at, planned_at + 1)
    assert [r.name for r in mine.resources()] == ["theirs"]
    with mine.transaction(expect_version=planned_at + 1) as tx:
        tx.upsert_resource(team("mine"))
    assert [r.name for r in mine.resources()] == ["theirs", "mine"]


def test_concurrent_writers_never_interleave(open_store: OpenStore) -> None:
    """Read-modify-write of one manifest from two connections at once loses no increment."""
    stores = [open_store(), open_store()]
    with stores[0].transaction() as tx:
        tx.upsert_resource(record("counter", {"name": "counter", "type": "team", "n": 0}))
    rounds = 40
    errors: list[BaseException] = []

    def bump(store: Store) -> None:
        try:
            for _ in range(rounds):
                with store.transaction() as tx:
                    current = tx.resource("team", "counter")
                    assert current is not None
                    n = current.manifest["n"]
                    tx.upsert_resource(record("counter", {"name": "counter", "type": "team", "n": n + 1}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (counter,) = stores[0].resources()
    assert counter.manifest["n"] == 2 * rounds


def test_migrations_run_once_and_a_newer_schema_is_refused(open_store: OpenStore) -> None:
    store = open_store()
    with store.reading() as execute:
        applied = [tuple(row) for row in execute("SELECT version, name FROM schema_migrations ORDER BY version", ())]
    assert applied == [(m.version, m.name) for m in MIGRATIONS] and applied[-1][0] == LATEST
    open_store()  # reopening applies nothing twice (the primary key would refuse it)
    with store.transaction() as tx:
        tx._execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", (99, "x", "now"))
    with pytest.raises(StoreError, match=r"newer tfy-gateway \(schema 99 > "):
        open_store()


def test_a_write_lease_holds_off_every_other_process_commit(open_store: OpenStore) -> None:
    holder, other = open_store(), open_store()
    other.lease_wait_s = 0.2
    with holder.write_lease():
        with pytest.raises(ApiError) as refused, other.transaction() as tx:
            tx.upsert_resource(team("theirs"))
        assert refused.value.status == 503 and "write lease" in refused.value.message
        with holder.transaction() as tx:  # the holder's own commits go ahead
            tx.upsert_resource(team("mine"))
        with pytest.raises(ApiError), other.write_lease():
            pass  # one holder at a time
    assert [r.name for r in other.resources()] == ["mine"]
    with other.transaction() as tx:  # released: the others commit again
        tx.upsert_resource(team("theirs"))
    assert [r.name for r in holder.resources()] == ["mine", "theirs"]


def test_a_commit_waits_for_the_lease_and_lands_after_the_holders(open_store: OpenStore) -> None:
    holder, other = open_store(), open_store()
    started, versions = threading.Event(), []
    with holder.write_lease():
        before = holder.data_version()

        def commit() -> None:
            started.set()
            with other.transaction() as tx:
                tx.upsert_resource(team("theirs"))
            versions.append(tx.previous_version)

        waiting = threading.Thread(target=commit)
        waiting.start()
        assert started.wait(10)
        with holder.transaction() as tx:
            tx.upsert_resource(team("mine"))
    waiting.join(30)
    assert not waiting.is_alive() and versions == [before + 1]  # it waited for the holder's commit
