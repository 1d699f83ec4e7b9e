"""The ConfigWriter: every write catches up, plans, compiles, commits and installs as one step."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from tfy_gateway.gateway.accounting import PriceTable
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config import ConfigCompiler, ConfigHub, ConfigWriter
from tfy_gateway.gateway.config.plans import plan_apply
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import plan_revoke, plan_user, plan_user_token
from tfy_gateway.gateway.snapshot import Change, ConfigSnapshot
from tfy_gateway.gateway.store import Store, open_store

ADMIN = Principal("user", "admin@x.io", "admin@x.io", (), True, ("user:admin@x.io",), "t", "pat-0")
ACCOUNT = {"name": "acct", "type": "provider-account/openai", "auth_data": {"type": "api-key", "api_key": "sk-test"},
           "integrations": [{"name": "m", "type": "integration/model/openai", "model_id": "m",
                             "model_types": ["chat"]}]}  # fmt: skip


def replica(store: Store, data_dir: Path) -> tuple[ConfigHub, ConfigWriter]:
    hub = ConfigHub()
    writer = ConfigWriter(store, hub, ConfigCompiler(data_dir=data_dir, prices=PriceTable.bundled()), tenant="t")
    return hub, writer


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = open_store(tmp_path / "gateway.db", None)
    yield opened
    opened.close()


async def test_a_new_token_authenticates_as_soon_as_the_write_returns(store: Store, tmp_path: Path) -> None:
    hub, writer = replica(store, tmp_path)
    await writer.load()
    added = await writer.write(lambda s: plan_user(s, "bob@x.io", teams=["backend"]), what="bob")
    principal = hub.current.identities.authenticate(added.issued.token)
    assert principal is not None and principal.subjects == ("user:bob@x.io", "team:backend", "team:everyone")
    before = hub.current
    issued = await writer.write(lambda s: plan_user_token(s, "bob@x.io", "second"), what="a token")
    assert hub.current.identities.authenticate(issued.token) is not None
    # A token write recompiles the identities only: routing, limits and catalog are the same objects.
    assert hub.current.routing is before.routing and hub.current.limits is before.limits
    assert hub.current.catalog is before.catalog and hub.current.version == before.version + 1
    await writer.write(lambda s: plan_revoke(s, issued.record.id, ADMIN), what="revoke")
    assert hub.current.identities.authenticate(issued.token) is None
    assert hub.current.identities.authenticate(added.issued.token) is not None
    assert {t.id for t in store.tokens()} == set(hub.current.snapshot.tokens)  # memory and store agree


async def test_a_change_from_another_replica_is_replanned_not_refused(store: Store, tmp_path: Path) -> None:
    """Replica B commits between A's catch-up and A's transaction: A plans again on B's version."""
    _, writer_b = replica(store, tmp_path)
    hub_a, writer_a = replica(store, tmp_path)
    await writer_a.load()
    await writer_b.load()
    planned_on: list[int] = []
    other = threading.Event()

    def add_carol(snapshot: ConfigSnapshot) -> tuple[Change, object]:
        planned_on.append(len(snapshot.users))
        if not other.is_set():
            other.set()  # the other replica's write lands now, after this plan was made
            from tfy_gateway.gateway.identities import create_user

            create_user(store, "dave@x.io")
        return plan_user(snapshot, "carol@x.io")

    await writer_a.write(add_carol, what="carol")
    assert planned_on == [0, 1]  # planned twice: the second time with dave's write loaded
    assert set(hub_a.current.snapshot.users) == {"carol@x.io", "dave@x.io"}
    assert writer_b.loaded_version < writer_a.loaded_version
    assert await writer_b.catch_up() and writer_b.loaded_version == writer_a.loaded_version


async def test_a_refused_or_dry_run_change_writes_and_installs_nothing(store: Store, tmp_path: Path) -> None:
    hub, writer = replica(store, tmp_path)
    await writer.load()
    start, version = hub.current, writer.loaded_version
    plan = await writer.plan(lambda s: plan_apply(s, dict(ACCOUNT), ADMIN))
    assert plan.action == "CREATE" and hub.current is start and writer.loaded_version == version
    with pytest.raises(ApiError) as refused:
        await writer.write(lambda s: plan_user_token(s, "nobody@x.io", "ci-token"), what="a token")
    assert refused.value.status == 404 and hub.current is start and store.data_version() == version
    applied = await writer.write(lambda s: plan_apply(s, dict(ACCOUNT), ADMIN), what="acct")
    assert applied.action == "CREATE" and "acct/m" in hub.current.catalog.entries


async def test_planning_and_compiling_run_off_the_loop_with_the_collector_paused(store: Store, tmp_path: Path) -> None:
    _, writer = replica(store, tmp_path)
    await writer.load()
    seen: list[tuple[bool, bool]] = []

    def operation(snapshot: ConfigSnapshot) -> tuple[Change, None]:
        seen.append((threading.current_thread() is threading.main_thread(), gc.isenabled()))
        return Change(), None

    assert gc.isenabled()
    await writer.write(operation, what="nothing")
    assert seen == [(False, False)] and gc.isenabled()


async def test_a_writer_that_keeps_losing_the_race_wins_under_the_write_lease(store: Store, tmp_path: Path) -> None:
    """Another process commits during every plan: after two lost races the writer plans under the
    store's write lease, which holds the other process's next commit off, so the write lands."""
    hub, writer = replica(store, tmp_path)
    await writer.load()
    other = open_store(tmp_path / "gateway.db", None)  # another replica's connection
    other.lease_wait_s = 0.2
    outcomes: list[str] = []

    def add_carol(snapshot: ConfigSnapshot) -> tuple[Change, object]:
        try:
            with other.transaction():
                pass  # an empty commit still moves the version on
            outcomes.append("committed")
        except ApiError as exc:
            outcomes.append(str(exc.status))
        return plan_user(snapshot, "carol@x.io")

    try:
        await writer.write(add_carol, what="carol")
    finally:
        other.close()
    assert outcomes == ["committed", "committed", "503"]
    assert "carol@x.io" in hub.current.snapshot.users and store.data_version() == writer.loaded_version
