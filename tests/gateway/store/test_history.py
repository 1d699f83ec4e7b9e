"""Resource version history, on SQLite and PostgreSQL alike: every write through `Change.write` appends
the resource's new version in the same transaction, a delete is a version without a manifest, an
unchanged re-apply adds nothing, and only the newest `HISTORY_KEEP` versions of a resource are kept."""

from __future__ import annotations

import pytest

from tests.gateway.store.conftest import OpenStore
from tfy_gateway.gateway.snapshot import Change, parse_resource
from tfy_gateway.gateway.store import HISTORY_KEEP, ResourceRecord, Store, utc_now
from tfy_gateway.gateway.store.migrations import MIGRATIONS, migrate


def team(name: str, *members: str) -> ResourceRecord:
    now = utc_now()
    manifest = {"name": name, "type": "team", "members": list(members)}
    return ResourceRecord(f"id-{name}", "team", name, "team", manifest, {"subjectId": "u"}, now, now)


def write(store: Store, record: ResourceRecord | None, *, name: str = "a", author: str | None = "user:admin@x") -> int:
    key = ("team", record.name if record else name)
    change = Change(resources={key: parse_resource(record) if record else None}, author=author)
    with store.transaction() as tx:
        change.write(tx)
    return tx.version


def test_every_write_appends_a_version_with_who_and_a_delete_has_no_manifest(store: Store) -> None:
    first = write(store, team("a"))
    second = write(store, team("a", "m@x.y"), author="user:bob@x")
    write(store, team("b"))
    deleted = write(store, None)
    history = store.resource_history("team", "a")
    assert [(h.version, h.changed_by) for h in history] == [
        (deleted, "user:admin@x"),
        (second, "user:bob@x"),
        (first, "user:admin@x"),
    ]
    assert history[0].manifest is None and history[0].type == "team"
    assert history[1].manifest == {"name": "a", "type": "team", "members": ["m@x.y"]}
    assert store.resources()[0].name == "b"  # the delete happened in the same transaction
    index = {(s.kind, s.name): s for s in store.history_index()}
    assert index[("team", "a")].deleted and index[("team", "a")].versions == 3
    assert not index[("team", "b")].deleted and index[("team", "b")].versions == 1


def test_an_unchanged_reapply_adds_no_version_and_a_rolled_back_write_leaves_none(store: Store) -> None:
    write(store, team("a", "m@x.y"))
    write(store, team("a", "m@x.y"))
    assert len(store.resource_history("team", "a")) == 1
    change = Change(resources={("team", "a"): parse_resource(team("a", "n@x.y"))})
    with pytest.raises(RuntimeError), store.transaction() as tx:
        change.write(tx)
        raise RuntimeError("crash after the write")
    assert len(store.resource_history("team", "a")) == 1
    assert write(store, None, name="never-applied") and store.resource_history("team", "never-applied") == []


def test_only_the_newest_versions_are_kept(store: Store) -> None:
    versions = [write(store, team("a", f"m{n}@x.y")) for n in range(HISTORY_KEEP + 3)]
    write(store, team("b"))
    history = store.resource_history("team", "a")
    assert [h.version for h in history] == versions[::-1][:HISTORY_KEEP]
    assert history[-1].manifest is not None and history[-1].manifest["members"] == ["m3@x.y"]
    assert len(store.resource_history("team", "b")) == 1  # pruning one resource leaves the others alone


def test_the_migration_records_resources_that_exist_before_it(open_store: OpenStore, engine: str) -> None:
    store = open_store()
    with store.transaction() as tx:
        tx.upsert_resource(team("old", "m@x.y"))
        tx._execute("DROP TABLE resource_history", ())
        history = next(m for m in MIGRATIONS if m.name == "resource version history")
        tx._execute("DELETE FROM schema_migrations WHERE version = ?", (history.version,))
    with store.transaction() as tx:
        migrate(tx._execute, "sqlite" if engine == "sqlite" else "postgres", where="test")
        version = tx.version  # the counter as this transaction bumped it
    (only,) = store.resource_history("team", "old")
    assert (only.version, only.changed_by, only.manifest) == (version, None, team("old", "m@x.y").manifest)
    write(store, team("old", "m@x.y"), name="old")  # the same manifest again: still one version
    assert len(store.resource_history("team", "old")) == 1
