"""V2 limit configs through a real gateway: apply, named listing at a type with a slash, CLI get, delete."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.gateway.conftest import Api, load_examples, run_cli
from tests.helpers import GatewayProcess

CONFIG = "/api/svc/v1/llm-gateway/config"


@pytest.fixture(scope="module")
def applied(shared_gateway: GatewayProcess) -> dict[str, list[dict[str, Any]]]:
    examples = {name: load_examples(name) for name in ("budgets-v2.yaml", "team-budget-v2.yaml", "rate-limits-v2.yaml")}
    with Api(shared_gateway.base_url, shared_gateway.admin_token) as admin:
        for manifests in examples.values():
            for manifest in manifests:
                response = admin.apply(manifest)
                assert response.status_code == 200, response.text
                assert response.json()["action"] == "CREATE"
    return examples


def test_named_configs_are_listed_by_type_even_with_a_slash(
    shared_gateway: GatewayProcess, applied: dict[str, list[dict[str, Any]]]
) -> None:
    with Api(shared_gateway.base_url, shared_gateway.admin_token) as admin:
        budgets = admin.get(f"{CONFIG}/tenant-budget-config").json()["data"]
        assert [b["manifest"]["name"] for b in budgets] == sorted(m["name"] for m in applied["budgets-v2.yaml"])
        assert all(b["type"] == "tenant-budget-config" and b["id"] and b["tenantName"] for b in budgets)
        limits = admin.get(f"{CONFIG}/tenant-rate-limit-config/model").json()["data"]
        assert [item["manifest"] for item in limits] == applied["rate-limits-v2.yaml"]
        one = admin.get(f"{CONFIG}/team-budget-config", name="backend-virtual-accounts-monthly").json()
        assert one["manifest"] == applied["team-budget-v2.yaml"][0]
        assert admin.get(f"{CONFIG}/tenant-rate-limit-config/mcp").json() == {"data": []}
        missing = admin.get(f"{CONFIG}/team-budget-config", name="nope")
        assert missing.status_code == 404 and "named 'nope'" in missing.json()["message"]
        encoded = admin.get(f"{CONFIG}/tenant-rate-limit-config%2Fmodel").json()["data"]
        assert encoded == limits
        unknown = admin.get(f"{CONFIG}/tenant-rate-limit-config/modle")
        assert unknown.status_code == 404 and "tenant-rate-limit-config/model" in unknown.json()["message"]
        # Only the slash families are routed here: config/budget/usage is answered by its own route.
        other = admin.get(f"{CONFIG}/budget/usage")
        assert other.status_code == 200, other.text


def test_reapply_updates_and_a_bad_manifest_is_refused_with_its_findings(
    shared_gateway: GatewayProcess, applied: dict[str, list[dict[str, Any]]]
) -> None:
    limit = {**applied["rate-limits-v2.yaml"][0], "mode": "audit"}
    with Api(shared_gateway.base_url, shared_gateway.admin_token) as admin:
        again = admin.apply(limit, dry_run=True).json()
        assert again["action"] == "UPDATE" and again["existingManifest"] == applied["rate-limits-v2.yaml"][0]
        assert [w["code"] for w in again["warnings"]] == ["audit-mode"]
        bad = admin.apply(
            {**limit, "limits": {"requests_per_minute": 1}, "when": {"models": {"in": ["a/b"], "not_in": ["a/b"]}}}
        )
        assert bad.status_code == 422
        assert "when.models.not_in: every value in 'in' is also in 'not_in'" in bad.json()["message"]


def test_mcp_limits_are_stored_and_said_not_to_be_enforced(shared_gateway: GatewayProcess) -> None:
    mcp = {
        "name": "per-project",
        "type": "tenant-rate-limit-config/mcp",
        "limits": {"tool_calls_per_minute": 10},
        "applies_to": {"type": "per-user"},
        "mode": "enforce",
    }
    with Api(shared_gateway.base_url, shared_gateway.admin_token) as admin:
        response = admin.apply(mcp)
        assert response.status_code == 200, response.text
        assert [w["code"] for w in response.json()["warnings"]] == ["not-enforced-locally"]
        assert admin.delete(mcp).status_code == 200
        assert admin.get(f"{CONFIG}/tenant-rate-limit-config/mcp").json() == {"data": []}


def test_cli_get_prints_every_named_config_ready_to_reapply(
    shared_gateway: GatewayProcess, applied: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in shared_gateway.env.items():
        monkeypatch.setenv(key, value)
    got = run_cli("get", "tenant-budget-config")
    assert got.returncode == 0, got.stderr
    printed = [doc for doc in yaml.safe_load_all(got.stdout) if doc]
    assert sorted(d["name"] for d in printed) == sorted(m["name"] for m in applied["budgets-v2.yaml"])
    empty = run_cli("get", "tenant-rate-limit-config/mcp")
    assert empty.returncode == 1 and "no tenant-rate-limit-config/mcp is applied" in empty.stderr
