"""The in-memory snapshot and the changes that make the next one."""

from __future__ import annotations

from tfy_gateway.gateway.snapshot import Change, build_snapshot, parse_resource
from tfy_gateway.gateway.store import ResourceRecord, TokenRecord, UserRecord

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


def test_a_change_makes_the_next_snapshot_and_leaves_the_old_one_whole() -> None:
    account = parse_resource(record("provider-account", "acct", ACCOUNT))
    first = build_snapshot([], version=1, tenant="local").with_change(
        Change(resources={account.key: account}), version=2
    )
    assert first.version == 2 and first.get(account.key) is account and list(first.access.models) == ["acct/m"]
    user = UserRecord("user-1", "a@x.io", False, "t")
    token = TokenRecord("pat-1", "hash", "default", "user", "a@x.io", "t")
    second = first.with_change(Change(users={user.email: user}, tokens={token.id: token}), version=3)
    # Identities only: the resources and the access built from them are shared, not rebuilt.
    assert second.resources is first.resources and second.access is first.access
    assert second.tokens_of("user", "a@x.io") == [token] and first.tokens == {}
    third = second.with_change(Change(resources={account.key: None}, tokens={token.id: None}), version=4)
    assert third.resources == {} and third.tokens == {} and list(third.access.models) == []
    assert second.get(account.key) is account  # an older version stays whole for its readers
