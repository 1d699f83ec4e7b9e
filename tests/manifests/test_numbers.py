"""Manifest numbers are finite and within the ranges the gateway's counters carry: `validate` names the
field (YAML `.inf`, `1e300`, an integer past 1e12); the server's side: tests/gateway/control_plane."""

from __future__ import annotations

from typing import Any

import pytest

from tfy_gateway.manifests import load_text, validate_documents, validate_manifest

RULE = {"id": "r", "when": {}, "limit_to": 10, "unit": "cost_per_day"}
BUDGET = {"name": "b", "type": "gateway-budget-config", "rules": [RULE]}
V2 = {
    "name": "n",
    "type": "tenant-budget-config",
    "limits": {"cost_per_day": 1},
    "applies_to": {"type": "aggregate"},
    "mode": "enforce",
}
LIMITS = {
    "name": "l",
    "type": "gateway-rate-limiting-config",
    "rules": [{"id": "r", "when": {}, "limit_to": 10, "unit": "tokens_per_minute"}],
}

BAD: list[tuple[dict[str, Any], str]] = [
    ({**BUDGET, "rules": [{**RULE, "limit_to": 1e300}]}, "rules[0].limit_to"),
    ({**BUDGET, "rules": [{**RULE, "limit_to": 2e9}]}, "rules[0]"),  # a cost above 1e9 USD
    ({**BUDGET, "rules": [{**RULE, "unit": "tokens_per_day", "limit_to": 1e13}]}, "rules[0].limit_to"),
    (
        {**BUDGET, "rules": [{**RULE, "alerts": {"thresholds": [1e300], "notification_target": []}}]},
        "rules[0].alerts.thresholds[0]",
    ),
    ({**V2, "limits": {"cost_per_day": 1e300}}, "limits.cost_per_day"),
    ({**V2, "limits": {"cost_per_lifetime": 1e10}}, "limits.cost_per_lifetime"),
    ({**LIMITS, "rules": [{**LIMITS["rules"][0], "limit_to": 10**30}]}, "rules[0].limit_to"),  # type: ignore[index]
    (
        {
            "name": "m",
            "type": "tenant-rate-limit-config/model",
            "limits": {"tokens_per_minute": 10**19},
            "applies_to": {"type": "aggregate"},
            "mode": "enforce",
        },
        "limits.tokens_per_minute",
    ),
]


def errors(manifest: dict[str, Any], text: str | None = None) -> list[tuple[str, str]]:
    """Errors of `manifest` as the server and the MCP tools see it, or of YAML `text` as `validate` reads it."""
    found = validate_documents(load_text(text, "m.yaml")) if text is not None else validate_manifest(manifest)
    return [(f.path, f.message) for f in found if f.severity == "error"]


@pytest.mark.parametrize(("manifest", "path"), BAD, ids=[p for _, p in BAD])
def test_an_out_of_range_number_is_an_error_at_its_field(manifest: dict[str, Any], path: str) -> None:
    found = errors(manifest)
    assert any(p == path for p, _ in found), found


def test_yaml_infinity_and_nan_are_errors() -> None:
    for value in (".inf", "-.inf", ".nan"):
        text = f"name: b\ntype: gateway-budget-config\nrules:\n  - id: r\n    when: {{}}\n    limit_to: {value}\n    unit: cost_per_day\n"
        found = errors({}, text)
        assert found and found[0][0] == "rules[0].limit_to" and "finite" in found[0][1], (value, found)


def test_large_real_configurations_stay_valid() -> None:
    for manifest in (
        {**BUDGET, "rules": [{**RULE, "limit_to": 1e9}]},
        {**V2, "limits": {"cost_per_month": 250_000.5}},
        {**LIMITS, "rules": [{**LIMITS["rules"][0], "limit_to": 10**12}]},  # type: ignore[index]
    ):
        assert errors(manifest) == [], manifest
