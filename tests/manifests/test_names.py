"""Names that become model ids, paths and headers: a bounded, safe alphabet, checked everywhere."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import GatewayProcess
from tfy_gateway.manifests import load_text, validate_documents

BAD_ACCOUNT_NAMES = [
    "../../etc/passwd",
    "a/b",
    "nul\x00byte",
    "esc\x1b[31m",
    "two\r\nlines",
    "x" * 5000,
    "Upper",
    "-lead",
]
BAD_MODEL_NAMES = ["open/m", "m\r\nX-Injected: yes", "..", "a..b", "trail-", "m" * 65]


def account(name: str, integration: str = "gpt-4o") -> dict[str, object]:
    return {
        "name": name,
        "type": "provider-account/openai",
        "integrations": [
            {"type": "integration/model/openai", "name": integration, "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def findings(manifest: dict[str, object]) -> list[tuple[str, str, str]]:
    import json

    docs = load_text(json.dumps(manifest), "m.yaml")
    return [(f.severity, f.path, f.message) for f in validate_documents(docs)]


@pytest.mark.parametrize("name", BAD_ACCOUNT_NAMES)
def test_bad_account_and_team_names_are_errors_at_their_path(name: str) -> None:
    for manifest in (account(name), {"name": name, "type": "team", "members": []}):
        errors = [f for f in findings(manifest) if f[0] == "error"]
        assert [path for _, path, _ in errors] == ["name"], errors
        message = errors[0][2]
        assert "lowercase letters, digits" in message or "at most 64" in message
        assert "\r" not in message and "\x00" not in message and "\x1b" not in message and len(message) < 400


@pytest.mark.parametrize("name", BAD_MODEL_NAMES)
def test_bad_model_names_are_errors_at_their_path(name: str) -> None:
    errors = [f for f in findings(account("coll", name)) if f[0] == "error"]
    assert [path for _, path, _ in errors] == ["integrations[0].name"], errors


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4.1", "llama_3-8b", "a", "claude-3-5-sonnet-20241022"])
def test_ordinary_model_names_stay_valid(name: str) -> None:
    assert [f for f in findings(account("openai-main", name)) if f[0] == "error"] == []


def test_apply_refuses_a_bad_name_and_stores_nothing(gateway: GatewayProcess) -> None:
    headers = {"Authorization": f"Bearer {gateway.admin_token}"}
    url = gateway.base_url + "/api/svc/v1/apply"
    for manifest in (account("../../etc/passwd"), account("coll", "m\r\nX-Injected: yes"), account("coll/open", "m")):
        response = httpx.put(url, json={"manifest": manifest}, headers=headers, timeout=30)
        assert response.status_code == 422, response.text
        assert "name" in response.json()["message"]
    listed = httpx.get(gateway.base_url + "/api/svc/v1/provider-accounts", headers=headers, timeout=30)
    assert listed.status_code == 200 and listed.json()["data"] == []


# Labels: rule ids, config and budget names, channel names, metadata keys. They reach the
# x-tfy-applied-configurations header, log lines, metric labels and Redis keys as written.
BAD_LABELS = ["r\x7fx", "tab\there", "two\nlines", "nul\x00", "zero\u200bwidth", " padded", "x" * 129]
GOOD_LABELS = ["daily-cost", "Route to GPT-4 (EU)", "Résumé budget ✓", "team:backend/limit #2"]
TARGET = [{"type": "slack-webhook", "notification_channel": "ops"}]


def label_manifests(label: str) -> list[tuple[dict[str, object], str]]:
    """(manifest, the path of `label` in it) for every kind of label a manifest carries."""
    rule = {"id": "r", "when": {}, "limit_to": 10, "unit": "cost_per_day"}
    budget = {"name": "b", "type": "gateway-budget-config", "rules": [rule]}
    v2 = {"name": "n", "type": "tenant-budget-config", "limits": {"cost_per_day": 1}, "mode": "enforce"}
    return [
        ({**budget, "rules": [{**rule, "id": label}]}, "rules[0].id"),
        ({**budget, "name": label}, "name"),
        ({**budget, "rules": [{**rule, "when": {"metadata": {label: "v"}}}]}, "rules[0].when.metadata"),
        (
            {**budget, "rules": [{**rule, "budget_applies_per": [f"metadata.{label}"]}]},
            "rules[0].budget_applies_per[0]",
        ),
        (
            {
                **budget,
                "rules": [
                    {
                        **rule,
                        "alerts": {
                            "thresholds": [50],
                            "notification_target": [{"type": "slack-webhook", "notification_channel": label}],
                        },
                    }
                ],
            },
            "rules[0].alerts.notification_target[0].notification_channel",
        ),
        ({**v2, "name": label, "applies_to": {"type": "aggregate"}}, "name"),
        ({**v2, "applies_to": {"type": "metadata", "metadata": label}}, "applies_to.metadata"),
        (
            {
                "name": label,
                "type": "gateway-rate-limiting-config",
                "rules": [{"id": "r", "when": {}, "limit_to": 1, "unit": "requests_per_minute"}],
            },
            "name",
        ),
        (
            {
                "name": "lb",
                "type": "gateway-load-balancing-config",
                "rules": [
                    {
                        "id": label,
                        "type": "weight-based-routing",
                        "when": {},
                        "load_balance_targets": [{"target": "openai-main/gpt-4o", "weight": 100}],
                    }
                ],
            },
            "rules[0].id",
        ),
    ]


@pytest.mark.parametrize("label", BAD_LABELS, ids=repr)
def test_a_label_with_a_control_character_or_unbounded_is_an_error_at_its_path(label: str) -> None:
    for manifest, path in label_manifests(label):
        errors = [f for f in findings(manifest) if f[0] == "error"]
        assert errors and all(p.startswith(path) for p, *_ in [(e[1],) for e in errors]), (path, errors)
        message = errors[0][2]
        assert "\x7f" not in message and "\n" not in message and "\t" not in message and len(message) < 500


@pytest.mark.parametrize("label", GOOD_LABELS)
def test_ordinary_labels_in_any_script_stay_valid(label: str) -> None:
    for manifest, path in label_manifests(label):
        assert [f for f in findings(manifest) if f[0] == "error" and f[1].startswith(path)] == [], path


def test_a_del_in_a_rule_id_names_the_character_and_its_position() -> None:
    manifest, _ = label_manifests("r\x7fx")[0]
    [(_, path, message)] = [f for f in findings(manifest) if f[0] == "error"]
    assert path == "rules[0].id"
    assert "U+007F" in message and "position 2" in message and "printable" in message
