from __future__ import annotations

from truefoundry.deploy.lib.dao.apply import BASE_MANIFEST_TYPE_ORDER

from tfy_gateway.platform import (
    BASE_TYPE_ORDER,
    integration_references,
    sort_for_apply,
    sort_for_delete,
    type_priority,
)


def test_type_order_is_the_tfy_clis() -> None:
    assert list(BASE_TYPE_ORDER) == [t.value for t in BASE_MANIFEST_TYPE_ORDER]


def test_sort_is_by_base_type_and_stable() -> None:
    docs = [
        {"type": "gateway-load-balancing-config", "name": "lb"},
        {"type": "gateway-rate-limiting-config", "name": "rl"},
        {"type": "provider-account/openai", "name": "p1"},
        {"type": "something-unknown", "name": "u"},
        {"type": "virtual-account", "name": "va"},
        {"type": "provider-account/anthropic", "name": "p2"},
    ]
    order = [d["name"] for d in sort_for_apply(docs, lambda d: d)]
    assert order == ["p1", "p2", "va", "rl", "lb", "u"]
    assert [d["name"] for d in sort_for_delete(docs, lambda d: d)] == list(reversed(order))
    assert type_priority(None) == len(BASE_TYPE_ORDER)


def test_v2_limit_configs_come_after_the_identities_they_name() -> None:
    docs = [
        {"type": "tenant-rate-limit-config/model", "name": "rl"},
        {"type": "team-budget-config", "name": "tb"},
        {"type": "team", "name": "backend"},
        {"type": "tenant-budget-config", "name": "b"},
        {"type": "virtual-account", "name": "va"},
        {"type": "gateway-budget-config", "name": "v1"},
    ]
    assert [d["name"] for d in sort_for_apply(docs, lambda d: d)] == ["backend", "va", "v1", "rl", "tb", "b"]


def test_integration_references_finds_models_of_accounts_in_the_batch() -> None:
    manifest = {
        "name": "routing",
        "type": "gateway-load-balancing-config",
        "rules": [
            {
                "id": "r",
                "when": {"models": ["openai-main/gpt-4o"]},
                "load_balance_targets": [{"target": "openai-main/gpt-4o"}, {"target": "other/x"}],
            }
        ],
    }
    assert integration_references(manifest, ["openai-main"]) == ["openai-main/gpt-4o"]
    assert integration_references(manifest, []) == []
    virtual = {
        "name": "vm",
        "type": "provider-account/virtual-model",
        "integrations": [{"name": "m", "routing_config": {"load_balance_targets": [{"target": "vm/own"}]}}],
    }
    assert integration_references(virtual, ["vm"]) == []
