"""V2 budgets (`tenant-budget-config`, `team-budget-config`): models, identity, and clear errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tfy_gateway.manifests import (
    InNotInFilter,
    TeamBudgetConfig,
    TenantBudgetConfig,
    load_text,
    manifest_key,
    parse_manifest,
    validate_documents,
    validate_manifest,
)
from tfy_gateway.manifests.budgets_v2 import BudgetV2AppliesToPerUser, BudgetV2Limits

TENANT: dict[str, Any] = {
    "name": "per-user-daily",
    "type": "tenant-budget-config",
    "when": {"subjects": {"teams": {"in": ["backend"]}}, "models": {"in": ["openai-main/gpt-4o"]}},
    "limits": {"cost_per_day": 10, "cost_per_month": 100},
    "applies_to": {"type": "per-user", "overrides": [{"users": ["lead@example.com"], "limits": {"cost_per_day": 50}}]},
    "mode": "enforce",
}
TEAM: dict[str, Any] = {
    "name": "backend-monthly",
    "type": "team-budget-config",
    "team_name": "backend",
    "limits": {"cost_per_month": 500},
    "applies_to": {"type": "aggregate"},
    "mode": "audit",
}


def _errors(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f.code, f.path, f.message) for f in validate_manifest(manifest) if f.severity == "error"]


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(base)
    manifest.update(changes)
    return manifest


def test_tenant_budget_parses_into_the_models_the_enforcer_reads() -> None:
    model = parse_manifest(TENANT)
    assert isinstance(model, TenantBudgetConfig)
    assert model.limits.periods() == {"cost_per_day": 10.0, "cost_per_month": 100.0}
    assert isinstance(model.applies_to, BudgetV2AppliesToPerUser)
    override = (model.applies_to.overrides or [])[0]
    assert (override.users, override.limits.periods()) == (["lead@example.com"], {"cost_per_day": 50.0})
    assert model.when is not None and model.when.models is not None
    assert model.when.models.in_ == ["openai-main/gpt-4o"]


def test_team_budget_needs_its_team_and_has_no_teams_filter() -> None:
    assert isinstance(parse_manifest(TEAM), TeamBudgetConfig)
    missing = {k: v for k, v in TEAM.items() if k != "team_name"}
    assert _errors(missing) == [("missing-field", "team_name", "missing required field 'team_name'")]
    wrong = _with(TEAM, when={"subjects": {"teams": {"in": ["x"]}}})
    (found,) = [f for f in validate_manifest(wrong) if f.severity == "error"]
    assert (found.code, found.path) == ("unknown-field", "when.subjects.teams")
    assert found.hint == "allowed fields: users, virtual_accounts"


def test_periods_come_shortest_first_whatever_the_order_written() -> None:
    limits = BudgetV2Limits.model_validate({"cost_per_lifetime": 5, "cost_per_week": 2, "cost_per_day": 1})
    assert list(limits.periods()) == ["cost_per_day", "cost_per_week", "cost_per_lifetime"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"applies_to": {"type": "user"}},
            ("invalid-value", "applies_to.type", "unknown type 'user'; did you mean 'per-user'?"),
        ),
        ({"mode": "block"}, ("invalid-value", "mode", "invalid value 'block' for 'mode'")),
        ({"limits": {"cost_per_day": -1}}, ("invalid-value", "limits.cost_per_day", "'cost_per_day': input")),
        ({"limits": {"cost_per_days": 1}}, ("unknown-field", "limits.cost_per_days", "unknown field 'cost_per_days'")),
        ({"limits": {"cost_per_day": "10"}}, ("wrong-type", "limits.cost_per_day", "'cost_per_day' must be a number")),
        ({"team": "backend"}, ("unknown-field", "team", "unknown field 'team'")),
    ],
)
def test_bad_input_names_what_where_and_the_allowed_values(change: dict[str, Any], expected: tuple[str, ...]) -> None:
    found = _errors(_with(TENANT, **change))
    assert len(found) == 1, found
    code, path, message = found[0]
    assert (code, path) == expected[:2]
    assert message.startswith(expected[2])


def test_mode_error_lists_the_three_modes() -> None:
    (found,) = validate_manifest(_with(TENANT, mode="hard"))
    assert found.hint == "allowed values: enforce, audit, soft_enforce"


def test_override_listing_the_wrong_entities_is_one_clear_error() -> None:
    manifest = _with(
        TENANT, applies_to={"type": "per-model", "overrides": [{"users": ["a@example.com"], "limits": {}}]}
    )
    assert _errors(manifest) == [
        (
            "misplaced-field",
            "applies_to.overrides[0].users",
            "overrides of applies_to type per-model list 'models', not 'users' ('users' is for applies_to type "
            "per-user)",
        )
    ]


def test_top_level_overrides_and_aggregate_overrides_point_inside_applies_to() -> None:
    top = _errors(_with(TEAM, overrides=[]))
    inner = _errors(_with(TEAM, applies_to={"type": "aggregate", "overrides": []}))
    assert [(c, p) for c, p, _ in top] == [("misplaced-field", "overrides")]
    assert [(c, p) for c, p, _ in inner] == [("misplaced-field", "applies_to.overrides")]
    assert "overrides belong inside applies_to" in top[0][2]


def test_in_not_in_filter_semantics() -> None:
    everyone_but_bob = InNotInFilter.model_validate({"not_in": ["bob"]})
    assert everyone_but_bob.matches(["alice"]) and not everyone_but_bob.matches(["bob"])
    assert everyone_but_bob.matches([])  # a virtual-account request has no user: nothing excludes it
    only = InNotInFilter.model_validate({"in": ["backend", "ml"], "not_in": ["interns"]})
    assert only.matches(["ml", "other"])
    assert not only.matches(["ml", "interns"]) and not only.matches(["other"]) and not only.matches([])
    assert not InNotInFilter.model_validate({"in": ["*"]}).matches(["x"])  # no wildcard in V2


def test_budget_names_are_one_namespace_across_tenant_and_team_budgets() -> None:
    assert manifest_key(TENANT) == ("budget", "per-user-daily")
    assert manifest_key(_with(TEAM, name="per-user-daily")) == ("budget", "per-user-daily")
    text = "\n---\n".join(
        [
            "name: shared\ntype: tenant-budget-config\nlimits: {cost_per_day: 1}\napplies_to: {type: aggregate}\n"
            "mode: enforce",
            "name: shared\ntype: team-budget-config\nteam_name: backend\nlimits: {cost_per_day: 1}\n"
            "applies_to: {type: aggregate}\nmode: enforce",
            "name: shared\ntype: team-budget-config\nteam_name: ml\nlimits: {cost_per_day: 2}\n"
            "applies_to: {type: aggregate}\nmode: enforce",
        ]
    )
    findings = validate_documents(load_text(text, "budgets.yaml"))
    assert [(f.severity, f.code, f.document, f.line) for f in findings] == [
        ("error", "duplicate-budget-name", 2, 7),
        ("warning", "duplicate-resource", 3, 14),
    ]
    assert "unique per tenant across tenant and team budgets" in findings[0].message
    assert findings[0].format().startswith("budgets.yaml:7:7: error: this team-budget-config has the name")
