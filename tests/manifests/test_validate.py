"""Each check with a failing manifest: exact code, path and line."""

from __future__ import annotations

import textwrap

import pytest

from tfy_gateway.manifests import Catalog, load_text, validate_documents, validate_manifest

PROVIDERS = """
name: openai-main
type: provider-account/openai
integrations:
  - {type: integration/model/openai, name: gpt-4o, model_id: gpt-4o, model_types: [chat]}
---
name: vm
type: provider-account/virtual-model
integrations:
  - type: integration/model/virtual
    name: smart
    model_types: [chat]
    routing_config:
      type: weight-based-routing
      load_balance_targets: [{target: openai-main/gpt-4o, weight: 100}]
"""


def check(text: str, *, with_providers: bool = False) -> list[tuple[str, str, str, int | None]]:
    source = textwrap.dedent(text).lstrip("\n")
    docs = load_text(source, "m.yaml")
    if with_providers:
        docs = [*load_text(PROVIDERS, "p.yaml"), *docs]
    return [(f.severity, f.code, f.path, f.line) for f in validate_documents(docs) if f.file == "m.yaml"]


ROUTING_HEAD = """
name: r
type: gateway-load-balancing-config
rules:"""


def test_unknown_type_suggests_self_hosted_for_nvidia_nim() -> None:
    findings = validate_manifest({"name": "n", "type": "provider-account/nvidia-nim", "integrations": []})
    assert findings[0].code == "unknown-type"
    assert "did you mean 'provider-account/self-hosted-model'" in findings[0].message


def test_unknown_field_with_did_you_mean_and_line() -> None:
    found = check(
        ROUTING_HEAD
        + """
      - id: a
        type: weight-based-routing
        when: {}
        load_balance_targets:
          - target: x/y
            weight: 100
            fallback_candiate: false
    """
    )
    assert found == [("error", "unknown-field", "rules[0].load_balance_targets[0].fallback_candiate", 10)]


def test_literal_error_lists_allowed_values() -> None:
    findings = validate_manifest(
        {
            "name": "l",
            "type": "gateway-rate-limiting-config",
            "rules": [{"id": "a", "when": {}, "limit_to": 5, "unit": "requests_per_second"}],
        }
    )
    assert findings[0].path == "rules[0].unit"
    assert "requests_per_minute" in (findings[0].hint or "")


def test_weights_must_sum_to_100_and_stay_in_range() -> None:
    found = check(
        ROUTING_HEAD
        + """
      - id: a
        type: weight-based-routing
        when: {}
        load_balance_targets:
          - {target: x/y, weight: 120}
          - {target: x/z, weight: 10}
    """
    )
    assert ("error", "weight-range", "rules[0].load_balance_targets[0].weight", 8) in found
    assert ("error", "weights-sum", "rules[0].load_balance_targets", 8) in found


def test_rule_ids_must_be_unique() -> None:
    found = check(
        ROUTING_HEAD
        + """
      - {id: a, type: latency-based-routing, when: {models: [m1]}, load_balance_targets: [{target: x/y}]}
      - {id: a, type: latency-based-routing, when: {models: [m2]}, load_balance_targets: [{target: x/y}]}
    """
    )
    assert found == [("error", "duplicate-rule-id", "rules[1].id", 5)]


def test_status_codes_are_strings_of_http_codes() -> None:
    found = check(
        ROUTING_HEAD
        + """
      - id: a
        type: latency-based-routing
        when: {}
        load_balance_targets:
          - target: x/y
            fallback_status_codes: [429, "42"]
    """
    )
    assert found == [
        ("error", "status-code-type", "rules[0].load_balance_targets[0].fallback_status_codes[0]", 9),
        ("error", "invalid-value", "rules[0].load_balance_targets[0].fallback_status_codes[1]", 9),
    ]


def test_sticky_only_on_weight_based_and_sla_only_on_priority() -> None:
    found = check(
        ROUTING_HEAD
        + """
      - id: a
        type: latency-based-routing
        when: {}
        sticky_routing: {ttl_seconds: 60, session_identifiers: [{source: headers, key: x}]}
        load_balance_targets:
          - target: x/y
            sla_cutoff: {time_per_output_token_ms: 20}
    """
    )
    assert found == [
        ("error", "misplaced-field", "rules[0].sticky_routing", 7),
        ("error", "misplaced-field", "rules[0].load_balance_targets[0].sla_cutoff", 10),
    ]


@pytest.mark.parametrize(
    ("applies_per", "code", "path"),
    [
        ('["user", "model", "metadata.team"]', "applies-per-count", "rules[0].rate_limit_applies_per"),
        ('["users"]', "applies-per-value", "rules[0].rate_limit_applies_per[0]"),
        ('["metadata."]', "applies-per-value", "rules[0].rate_limit_applies_per[0]"),
        ('["user", "user"]', "applies-per-duplicate", "rules[0].rate_limit_applies_per[1]"),
    ],
)
def test_applies_per(applies_per: str, code: str, path: str) -> None:
    found = check(f"""
    name: l
    type: gateway-rate-limiting-config
    rules:
      - id: a
        when: {{}}
        limit_to: 10
        unit: requests_per_minute
        rate_limit_applies_per: {applies_per}
    """)
    assert ("error", code, path, 8) in found


def test_budget_thresholds_within_0_100() -> None:
    found = check("""
    name: b
    type: gateway-budget-config
    rules:
      - id: a
        when: {}
        limit_to: 10
        unit: cost_per_day
        alerts:
          thresholds: [50, 120]
          notification_target: [{type: slack-webhook, notification_channel: c}]
    """)
    assert found == [("error", "threshold-range", "rules[0].alerts.thresholds[1]", 9)]


def test_target_form_and_catalog() -> None:
    found = check(
        ROUTING_HEAD
        + """
      - id: a
        type: priority-based-routing
        when: {}
        load_balance_targets:
          - {target: gpt-4o}
          - {target: openai-main/gpt-4}
          - {target: vm/smart}
          - {target: openai-main/gpt-4o}
    """,
        with_providers=True,
    )
    assert found == [
        ("error", "target-format", "rules[0].load_balance_targets[0].target", 8),
        ("error", "unknown-target", "rules[0].load_balance_targets[1].target", 9),
        ("error", "virtual-target", "rules[0].load_balance_targets[2].target", 10),
    ]


def test_targets_checked_against_a_live_catalog() -> None:
    catalog = Catalog.from_manifests([{"type": "provider-account/groq", "name": "g", "integrations": [{"name": "l"}]}])
    manifest = {
        "name": "r",
        "type": "gateway-load-balancing-config",
        "rules": [
            {"id": "a", "type": "latency-based-routing", "when": {}, "load_balance_targets": [{"target": "g/x"}]}
        ],
    }
    assert [f.code for f in validate_manifest(manifest, catalog)] == ["unknown-target"]


def test_shadowed_rule_is_named_with_both_rules() -> None:
    found = validate_documents(
        load_text(
            textwrap.dedent(
                ROUTING_HEAD
                + """
      - {id: catch-all, type: latency-based-routing, when: {subjects: ["*"]}, load_balance_targets: [{target: x/y}]}
      - {id: backend, type: latency-based-routing, when: {subjects: [team:backend], models: [m]}, load_balance_targets: [{target: x/y}]}
    """
            ).lstrip("\n"),
            "m.yaml",
        )
    )
    assert [(f.code, f.path, f.line) for f in found] == [("shadowed-rule", "rules[1].when", 5)]
    assert "'backend'" in found[0].message and "'catch-all'" in found[0].message


def test_metadata_applies_per_narrows_a_rule_so_fallback_is_not_shadowed() -> None:
    found = check("""
    name: l
    type: gateway-rate-limiting-config
    rules:
      - {id: per-project, when: {}, limit_to: 5, unit: tokens_per_hour, rate_limit_applies_per: [metadata.project]}
      - {id: fallback, when: {}, limit_to: 5, unit: requests_per_minute}
      - {id: dead, when: {metadata: {project: a}}, limit_to: 5, unit: requests_per_minute}
    """)
    assert found == [
        ("warning", "v1-rate-limits-deprecated", "type", 2),
        ("warning", "shadowed-rule", "rules[2].when", 6),
    ]


def test_plaintext_credentials_warn_without_echoing_the_value() -> None:
    findings = validate_manifest(
        {
            "name": "o",
            "type": "provider-account/openai",
            "auth_data": {"type": "api-key", "api_key": "sk-live-SECRET"},
            "integrations": [],
        }
    )
    assert [(f.severity, f.code, f.path) for f in findings] == [("warning", "plaintext-secret", "auth_data.api_key")]
    assert "sk-live-SECRET" not in repr(findings)
    ok = {
        "name": "o",
        "type": "provider-account/openai",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://t:g:k"},
        "integrations": [],
    }
    assert validate_manifest(ok) == []


def test_invalid_subject_suggests_the_right_prefix() -> None:
    manifest = {
        "name": "r",
        "type": "gateway-rate-limiting-config",
        "rules": [{"id": "a", "when": {"subjects": ["virtual-account:ci"]}, "limit_to": 1, "unit": "requests_per_day"}],
    }
    found, retiring = validate_manifest(manifest)
    assert found.path == "rules[0].when.subjects[0]" and "virtualaccount:ci" in found.message
    assert retiring.code == "v1-rate-limits-deprecated"


def test_missing_and_wrong_top_level() -> None:
    assert [f.code for f in validate_manifest({"name": "x"})] == ["missing-field"]
    assert [f.code for f in validate_manifest(["a"])] == ["not-a-mapping"]
    assert [f.path for f in validate_manifest({"type": "team", "members": []})] == ["name"]


def test_duplicate_yaml_key_is_an_error_on_its_line() -> None:
    found = check("name: t\ntype: team\nmembers: []\nname: u\n")
    assert ("error", "duplicate-key", "name", 4) in found


def test_integration_names_must_be_unique_within_an_account() -> None:
    found = check("""
    name: o
    type: provider-account/openai
    integrations:
      - {type: integration/model/openai, name: gpt-4o, model_id: gpt-4o, model_types: [chat]}
      - {type: integration/model/openai, name: gpt-4o, model_id: gpt-4o-2024, model_types: [chat]}
    """)
    assert found == [("error", "duplicate-integration", "integrations[1].name", 5)]


def test_numbers_written_as_text_are_errors_not_silently_converted() -> None:
    found = check("""
    name: o
    type: provider-account/openai
    integrations:
      - type: integration/model/openai
        name: gpt-4o
        model_id: gpt-4o
        model_types: [chat]
        cost: {metric: per_1000_tokens, value: {input: 2e-05, output: "0.01"}}
    """)
    assert found == [
        ("error", "wrong-type", "integrations[0].cost.value.input", 8),
        ("error", "wrong-type", "integrations[0].cost.value.output", 8),
    ]


def test_bedrock_assumed_role_warns_that_the_local_gateway_cannot_call_it() -> None:
    found = check("""
    name: b
    type: provider-account/aws-bedrock
    region: us-east-1
    auth_data: {type: assumed-role-based, assumed_role_arn: "arn:aws:iam::123456789012:role/bedrock"}
    integrations:
      - {type: integration/model/bedrock, name: nova, model_id: amazon.nova-pro-v1:0, model_types: [chat]}
    """)
    assert found == [("warning", "assumed-role-local", "auth_data.type", 4)]
