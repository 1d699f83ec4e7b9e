"""The in-memory snapshot: atomic swaps, versions, subscribers."""

from __future__ import annotations

from tfy_gateway.gateway.snapshot import ConfigSnapshot, SnapshotHub, build_snapshot, parse_resource
from tfy_gateway.gateway.store import ResourceRecord

ROUTING = {
    "name": "r",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "a",
            "type": "weight-based-routing",
            "when": {"models": ["x"]},
            "load_balance_targets": [{"target": "acct/m", "weight": 100}],
        }
    ],
}
ACCOUNT = {"name": "acct", "type": "provider-account/openai", "integrations": [
    {"name": "m", "type": "integration/model/openai", "model_id": "m", "model_types": ["chat"]}]}  # fmt: skip


def record(kind: str, name: str, manifest: dict) -> ResourceRecord:
    return ResourceRecord(f"id-{name}", kind, name, str(manifest["type"]), manifest, {}, "t", "t")


def test_snapshot_parses_models_and_compiles_access() -> None:
    snapshot = build_snapshot(
        [record("provider-account", "acct", ACCOUNT), record(ROUTING["type"], ROUTING["type"], ROUTING)],
        version=1,
        tenant="local",
    )
    config = snapshot.gateway_config("gateway-load-balancing-config")
    assert config is not None and config.model is not None
    assert config.model.rules[0].load_balance_targets[0].target == "acct/m"
    assert [r.name for r in snapshot.provider_accounts()] == ["acct"]
    assert list(snapshot.access.models) == ["acct/m"]
    broken = parse_resource(record("team", "t", {"type": "team", "name": "t", "members": "not-a-list"}))
    assert broken.model is None


def test_subscribers_see_every_new_version_and_failures_are_contained() -> None:
    hub = SnapshotHub()
    seen: list[int] = []

    def broken(snapshot: ConfigSnapshot) -> None:
        raise RuntimeError("subscriber bug")

    hub.subscribe(broken)
    unsubscribe = hub.subscribe(lambda snapshot: seen.append(snapshot.version))
    assert seen == [0]  # replayed the current snapshot on subscribe
    account = parse_resource(record("provider-account", "acct", ACCOUNT))
    first = hub.replace({account.key: account}, tenant="local")
    assert hub.current is first and first.version == 1 and seen == [0, 1]
    second = hub.replace({account.key: None}, tenant="local")
    assert second.version == 2 and second.resources == {} and first.get(account.key) is account
    unsubscribe()
    hub.replace({}, tenant="local")
    assert seen == [0, 1, 2]
