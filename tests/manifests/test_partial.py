"""Schema errors and semantic findings in one validation pass."""

from __future__ import annotations

from tfy_gateway.manifests import Catalog, validate_manifest

CATALOG = Catalog.from_manifests(
    [
        {
            "name": "openai-main",
            "type": "provider-account/openai",
            "integrations": [{"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o"}],
        }
    ]
)


def rule(rule_id: str, models: list[str], targets: list[dict]) -> dict:
    return {"id": rule_id, "type": "weight-based-routing", "when": {"models": models}, "load_balance_targets": targets}


def codes(findings) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


def test_a_misspelt_key_does_not_hide_the_other_rules_semantic_errors():
    manifest = {
        "name": "r",
        "type": "gateway-load-balancing-config",
        "rules": [
            rule("a", ["x/y"], [{"target": "openai-main/gpt-4o", "weight": 100, "fallback_candiate": True}]),
            rule("b", ["x/z"], [{"target": "openai-main/gpt-4o", "weight": 60}, {"target": "nope/m", "weight": 30}]),
        ],
    }
    found = codes(validate_manifest(manifest, CATALOG))
    assert ("unknown-field", "rules[0].load_balance_targets[0].fallback_candiate") in found
    assert ("weights-sum", "rules[1].load_balance_targets") in found
    assert ("unknown-target", "rules[1].load_balance_targets[1].target") in found
    assert len(found) == 3  # nothing about rule 0 beyond its schema error: it was not linted as written


def test_a_rule_missing_a_required_field_is_set_aside_and_the_others_keep_their_index():
    manifest = {
        "name": "limits",
        "type": "gateway-rate-limiting-config",
        "rules": [
            {"id": "broken", "when": {}, "unit": "requests_per_minute"},  # no limit_to
            {"id": "zero", "when": {"models": ["openai-main/gpt-4o"]}, "limit_to": 0, "unit": "requests_per_minute"},
        ],
    }
    found = codes(validate_manifest(manifest, CATALOG))
    assert found == [
        ("missing-field", "rules[0].limit_to"),
        ("zero-limit", "rules[1].limit_to"),
        ("v1-rate-limits-deprecated", "type"),
    ]


def test_a_valid_manifest_is_linted_once():
    manifest = {"name": "r", "type": "gateway-load-balancing-config", "rules": [rule("a", ["x/y"], [])]}
    assert validate_manifest(manifest, CATALOG) == validate_manifest(manifest, CATALOG)


def test_every_finding_of_a_rule_with_a_misspelt_key_comes_in_one_pass():
    """Before: only the misspelt key, then each next class of error after each fix."""
    bad = rule("a", ["x/y"], [{"target": "openai-main/gpt-4o", "weight": 60, "fallback_candiate": True}])
    bad["load_balance_targets"].append({"target": "nope/m", "weight": 30})
    bad["when"]["subjects"] = ["bogus"]
    found = codes(validate_manifest({"name": "r", "type": "gateway-load-balancing-config", "rules": [bad]}, CATALOG))
    assert sorted(found) == [
        ("invalid-subject", "rules[0].when.subjects[0]"),
        ("unknown-field", "rules[0].load_balance_targets[0].fallback_candiate"),
        ("unknown-target", "rules[0].load_balance_targets[1].target"),
        ("weights-sum", "rules[0].load_balance_targets"),
    ]


def test_a_misspelt_limit_is_not_also_reported_as_no_limits():
    manifest = {
        "name": "l",
        "type": "tenant-rate-limit-config/model",
        "limits": {"request_per_minute": 5},
        "applies_to": {"type": "per-user"},
        "mode": "enforce",
    }
    assert [code for code, _ in codes(validate_manifest(manifest, CATALOG))] == ["unknown-field"]
