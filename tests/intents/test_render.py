"""render: complete intents become manifests the validator accepts, merged into the live config."""

from __future__ import annotations

import pytest
import yaml

from tfy_gateway.intents import (
    BudgetAlerts,
    BudgetIntent,
    IntentIncompleteError,
    ProviderAccountIntent,
    ProviderModel,
    RateLimitIntent,
    RetryOptions,
    RouteIntent,
    RouteTarget,
    StickyOptions,
    VirtualAccountIntent,
    render,
    to_yaml,
)
from tfy_gateway.manifests import (
    Catalog,
    has_errors,
    load_file,
    load_text,
    validate_documents,
    validate_manifest,
)

ACCOUNTS = [
    {
        "name": "openai-main",
        "type": "provider-account/openai",
        "integrations": [
            {
                "type": "integration/model/openai",
                "name": "gpt-4o",
                "model_id": "gpt-4o",
                "model_types": ["chat"],
            }
        ],
    },
    {
        "name": "azure-backup",
        "type": "provider-account/azure-openai",
        "azure_endpoint": "https://x.openai.azure.com",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://t:azure:KEY"},
        "integrations": [
            {
                "type": "integration/model/azure-openai",
                "name": "gpt-4o",
                "model_id": "dep",
                "api_version": "2024-10-21",
                "model_types": ["chat"],
            }
        ],
    },
]
CATALOG = Catalog.from_manifests(ACCOUNTS)

COMPLETE_INTENTS = [
    RouteIntent(
        model="openai/gpt-4o",
        targets=[
            RouteTarget(target="openai-main/gpt-4o", weight=70),
            RouteTarget(target="azure-backup/gpt-4o", weight=30),
        ],
        sticky=StickyOptions(key="x-user-id"),
        retries=RetryOptions(attempts=1),
        metadata={"env": "prod"},
    ),
    RouteIntent(model="fast", strategy="latency", targets=[RouteTarget(target="openai-main/gpt-4o")]),
    RouteIntent(
        model="safe",
        strategy="priority",
        targets=[RouteTarget(target="openai-main/gpt-4o"), RouteTarget(target="azure-backup/gpt-4o")],
        fallback_status_codes=["429", "503"],
    ),
    RateLimitIntent(
        subjects=["team:backend"],
        models=["openai-main/gpt-4o"],
        limit=20000,
        unit="tokens_per_minute",
        applies_per=[],
    ),
    RateLimitIntent(
        subjects=["*"], limit=100, unit="requests_per_minute", applies_per=["user", "metadata.project"], version="v1"
    ),
    BudgetIntent(
        subjects=["*"],
        applies_per=["user"],
        limit=100,
        unit="cost_per_day",
        alerts=BudgetAlerts(to_emails=["ops@example.com"], notification_channel="ops-email"),
    ),
    BudgetIntent(subjects=["team:ml"], applies_per=[], limit=12.5, unit="cost_per_month", audit_mode=True),
    ProviderAccountIntent(
        provider="openai",
        name="openai-new",
        secret="tfy-secret://t:openai:KEY",
        models=[ProviderModel(name="gpt-4o-mini", input_cost_per_1k=0.00015, output_cost_per_1k=0.0006)],
    ),
    ProviderAccountIntent(
        provider="azure-openai",
        name="azure-two",
        secret="tfy-secret://t:azure:KEY",
        azure_endpoint="https://two.openai.azure.com",
        models=[ProviderModel(name="gpt-4o", model_id="dep", api_version="2024-10-21")],
    ),
    ProviderAccountIntent(
        provider="self-hosted-model",
        name="vllm-local",
        models=[ProviderModel(name="llama", model_id="meta/llama-3", url="http://127.0.0.1:8000/v1")],
    ),
    VirtualAccountIntent(name="ci-bot", models=["openai-main/gpt-4o"]),
]


@pytest.mark.parametrize("intent", COMPLETE_INTENTS, ids=lambda i: i.kind)
def test_rendered_manifest_validates_cleanly(intent):
    manifest = render(intent)
    findings = validate_manifest(manifest, CATALOG)
    if getattr(intent, "audit_mode", False):  # what it asked for, said as a warning
        findings = [f for f in findings if f.code != "audit-mode"]
    if getattr(intent, "version", None) == "v1" and intent.kind == "rate_limit":  # asked for, and said to retire
        assert [f.code for f in findings] == ["v1-rate-limits-deprecated"]
        findings = []
    assert findings == [], [f.format() for f in findings]
    # The YAML shown to users round-trips and validates as a file too.
    documents = load_text(to_yaml(manifest))
    assert documents[0].data == manifest
    assert not has_errors(validate_documents(documents, CATALOG))


def test_route_manifest_content():
    manifest = render(COMPLETE_INTENTS[0])
    rule = manifest["rules"][0]
    assert manifest["type"] == "gateway-load-balancing-config" and manifest["name"] == "routing"
    assert rule["type"] == "weight-based-routing"
    assert rule["when"] == {"subjects": ["*"], "models": ["openai/gpt-4o"], "metadata": {"env": "prod"}}
    assert [t["weight"] for t in rule["load_balance_targets"]] == [70, 30]
    assert rule["sticky_routing"]["session_identifiers"] == [{"source": "headers", "key": "x-user-id"}]
    assert rule["load_balance_targets"][0]["retry_config"] == {
        "attempts": 1,
        "delay": 100,
        "on_status_codes": ["429", "500", "502", "503"],
    }


def test_priority_follows_list_order():
    targets = render(COMPLETE_INTENTS[2])["rules"][0]["load_balance_targets"]
    assert [(t["target"], t["priority"]) for t in targets] == [
        ("openai-main/gpt-4o", 0),
        ("azure-backup/gpt-4o", 1),
    ]


def test_strings_cannot_break_the_yaml_structure():
    intent = RateLimitIntent(
        subjects=["team:a"],
        metadata={"k": "v\nrules: []"},
        limit=1,
        unit="requests_per_day",
        rule_id='x"\n  - id: injected',
        applies_per=[],
        version="v1",
    )
    manifest = render(intent)
    assert len(manifest["rules"]) == 1
    assert manifest["rules"][0]["id"] == 'x"\n  - id: injected'
    assert manifest["rules"][0]["when"]["metadata"] == {"k": "v\nrules: []"}


def test_incomplete_intent_is_refused_with_the_question():
    with pytest.raises(IntentIncompleteError) as caught:
        render(RateLimitIntent(subjects=["team:a"], limit=5))
    assert caught.value.check.questions[0].field == "unit"
    assert "Per what" in str(caught.value)


def test_new_rule_merges_into_live_config_keeping_others(examples_dir):
    live = load_file(examples_dir / "rate-limits.yaml")[0].data
    intent = RateLimitIntent(
        subjects=["team:backend"],
        models=["openai-main/gpt-4o"],
        limit=20000,
        unit="tokens_per_minute",
        applies_per=[],
        version="v1",
    )
    merged = render(intent, live)
    ids = [r["id"] for r in merged["rules"]]
    assert merged["name"] == "rate-limits"
    assert set(ids) == {r["id"] for r in live["rules"]} | {"limit-team-backend-gpt-4o-tokens-minute"}
    # The new, specific rule goes before the catch-all rules so it can match at all.
    assert ids.index("limit-team-backend-gpt-4o-tokens-minute") < ids.index("per-project-hourly")
    assert merged["rules"][ids.index("team-rpm-limit")] == live["rules"][0]
    assert live["rules"] == load_file(examples_dir / "rate-limits.yaml")[0].data["rules"], "input mutated"


def test_same_rule_id_replaces_in_place(examples_dir):
    live = load_file(examples_dir / "routing-weighted.yaml")[0].data
    intent = RouteIntent(
        rule_id="weighted-chat",
        model="openai/gpt-4o",
        targets=[
            RouteTarget(target="openai-main/gpt-4o", weight=80),
            RouteTarget(target="azure-backup/gpt-4o", weight=20),
        ],
    )
    merged = render(intent, live)
    assert merged["name"] == "chat-routing" and len(merged["rules"]) == 1
    assert [t["weight"] for t in merged["rules"][0]["load_balance_targets"]] == [80, 20]


def test_provider_account_merge_keeps_other_models(examples_dir):
    live = load_file(examples_dir / "provider-accounts.yaml")[0].data
    intent = ProviderAccountIntent(
        provider="openai",
        name="openai-main",
        secret="tfy-secret://local:openai:API_KEY",
        models=[ProviderModel(name="o3")],
    )
    merged = render(intent, live)
    names = [i["name"] for i in merged["integrations"]]
    assert names == ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "o3"]
    assert validate_manifest(merged) == []


def test_virtual_account_merge_adds_grants_once():
    live = render(VirtualAccountIntent(name="ci-bot", models=["openai-main/gpt-4o"]))
    merged = render(VirtualAccountIntent(name="ci-bot", models=["openai-main/gpt-4o", "azure-backup/gpt-4o"]), live)
    assert [p["resource_fqn"] for p in merged["permissions"]] == ["openai-main/gpt-4o", "azure-backup/gpt-4o"]


def test_to_yaml_keeps_manifest_order():
    text = to_yaml(render(COMPLETE_INTENTS[3]))
    assert text.splitlines()[:2] == [
        "name: limit-team-backend-gpt-4o-tokens-minute",
        "type: tenant-rate-limit-config/model",
    ]
    assert yaml.safe_load(text)["limits"] == {"tokens_per_minute": 20000}


def test_small_prices_render_as_numbers_the_platform_reads_back() -> None:
    intent = ProviderAccountIntent(
        provider="openai",
        name="cheap",
        secret="tfy-secret://local:openai:API_KEY",
        models=[ProviderModel(name="mini", input_cost_per_1k=0.00002, output_cost_per_1k=1e-7)],
    )
    manifest = render(intent, None)
    text = to_yaml(manifest)
    (document,) = load_text(text)  # the YAML 1.1 reading the tfy CLI does
    prices = document.data["integrations"][0]["cost"]["value"]
    assert prices == {"input": 0.00002, "output": 1e-7}
    assert not has_errors(validate_documents([document]))
