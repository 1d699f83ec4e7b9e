"""The in-memory snapshot and the hub that compiles and installs configuration versions."""

from __future__ import annotations

from pathlib import Path

from tfy_gateway.gateway.accounting import PriceTable
from tfy_gateway.gateway.config import EMPTY_CONFIG, ConfigCompiler, ConfigHub
from tfy_gateway.gateway.snapshot import build_snapshot, parse_resource
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


async def test_the_hub_compiles_off_the_loop_and_installs_in_one_step(tmp_path: Path) -> None:
    hub = ConfigHub(ConfigCompiler(data_dir=tmp_path, prices=PriceTable.bundled()), tenant="local")
    assert hub.version == 0 and hub.current is EMPTY_CONFIG
    account = parse_resource(record("provider-account", "acct", ACCOUNT))
    first = await hub.prepare({account.key: account})
    assert first.version == 1 and hub.current is EMPTY_CONFIG  # prepared, not installed
    assert "acct/m" in first.catalog.entries and first.access is first.snapshot.access
    hub.install(first)
    assert hub.current is first and hub.snapshot.get(account.key) is account
    second = await hub.prepare({account.key: None})
    hub.install(second)
    assert second.version == 2 and second.snapshot.resources == {} and not second.catalog.entries
    assert first.snapshot.get(account.key) is account  # an older version stays whole for its readers
