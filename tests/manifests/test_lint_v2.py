"""Semantic findings for V2 budgets and rate limits: each names what will not behave as written."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tfy_gateway.manifests import load_text, validate_documents, validate_manifest

BUDGET: dict[str, Any] = {
    "name": "b",
    "type": "tenant-budget-config",
    "limits": {"cost_per_day": 10, "cost_per_month": 100},
    "applies_to": {"type": "per-user"},
    "mode": "enforce",
}
RATE: dict[str, Any] = {
    "name": "r",
    "type": "tenant-rate-limit-config/model",
    "limits": {"requests_per_minute": 10, "tokens_per_minute": 1000},
    "applies_to": {"type": "per-user"},
    "mode": "enforce",
}
OVERRIDE = {"users": ["lead@example.com"], "limits": {"cost_per_day": 20, "cost_per_month": 200}}


def _findings(base: dict[str, Any], **changes: Any) -> list[tuple[str, str, str]]:
    manifest = copy.deepcopy(base)
    manifest.update(changes)
    return [(f.severity, f.code, f.path) for f in validate_manifest(manifest)]


def test_clean_manifests_have_no_findings() -> None:
    assert _findings(BUDGET) == []
    assert _findings(RATE) == []
    assert _findings(BUDGET, applies_to={"type": "per-user", "overrides": [OVERRIDE]}) == []


CASES: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, str, str]]] = [
    ("no limits", BUDGET, {"limits": {}}, ("error", "no-limits", "limits")),
    (
        "lifetime with periods",
        BUDGET,
        {"limits": {"cost_per_day": 1, "cost_per_lifetime": 50}},
        ("warning", "lifetime-with-periods", "limits.cost_per_lifetime"),
    ),
    ("zero", BUDGET, {"limits": {"cost_per_day": 0}}, ("warning", "zero-limit", "limits.cost_per_day")),
    (
        "day above week",
        BUDGET,
        {"limits": {"cost_per_day": 100, "cost_per_week": 50}},
        ("warning", "window-never-binds", "limits.cost_per_day"),
    ),
    (
        "minute above hour",
        RATE,
        {"limits": {"tokens_per_minute": 5000, "tokens_per_hour": 1000}},
        ("warning", "window-never-binds", "limits.tokens_per_minute"),
    ),
    (
        "not_in equal to in",
        RATE,
        {"when": {"models": {"in": ["openai-main/gpt-4o"], "not_in": ["openai-main/gpt-4o"]}}},
        ("error", "filter-matches-nothing", "when.models.not_in"),
    ),
    (
        "partial overlap",
        RATE,
        {"when": {"provider_accounts": {"in": ["a", "b"], "not_in": ["b"]}}},
        ("warning", "filter-overlap", "when.provider_accounts.not_in"),
    ),
    (
        "empty in",
        RATE,
        {"when": {"metadata": {"env": {"in": []}}}},
        ("warning", "empty-filter-list", "when.metadata.env.in"),
    ),
    (
        "listed twice",
        RATE,
        {"when": {"provider_accounts": {"not_in": ["a", "a"]}}},
        ("warning", "duplicate-value", "when.provider_accounts.not_in[1]"),
    ),
    ("wildcard", RATE, {"when": {"models": {"in": ["*"]}}}, ("warning", "wildcard-filter", "when.models.in[0]")),
    (
        "v1 prefix",
        BUDGET,
        {"when": {"subjects": {"users": {"in": ["user:alice@example.com"]}}}},
        ("warning", "subject-prefix", "when.subjects.users.in[0]"),
    ),
    (
        "team under users",
        BUDGET,
        {"when": {"subjects": {"users": {"not_in": ["team:interns"]}}}},
        ("error", "subject-kind", "when.subjects.users.not_in[0]"),
    ),
    (
        "unknown prefix",
        BUDGET,
        {"when": {"subjects": {"teams": {"in": ["group:ml"]}}}},
        ("warning", "unknown-subject-prefix", "when.subjects.teams.in[0]"),
    ),
    ("model id", RATE, {"when": {"models": {"in": ["gpt-4o"]}}}, ("warning", "model-format", "when.models.in[0]")),
    (
        "override drops a period",
        BUDGET,
        {
            "applies_to": {
                "type": "per-user",
                "overrides": [{"users": ["x@example.com"], "limits": {"cost_per_day": 5}}],
            }
        },
        ("warning", "override-drops-limit", "applies_to.overrides[0].limits"),
    ),
    (
        "one entity, two overrides",
        BUDGET,
        {"applies_to": {"type": "per-user", "overrides": [OVERRIDE, OVERRIDE]}},
        ("error", "duplicate-override", "applies_to.overrides[1].users[0]"),
    ),
    (
        "override excluded by when",
        BUDGET,
        {
            "when": {"subjects": {"users": {"not_in": ["lead@example.com"]}}},
            "applies_to": {"type": "per-user", "overrides": [OVERRIDE]},
        },
        ("warning", "override-unreachable", "applies_to.overrides[0].users[0]"),
    ),
    (
        "override for a model the rule never sees",
        RATE,
        {
            "when": {"models": {"in": ["openai-main/gpt-4o"]}},
            "applies_to": {
                "type": "per-model",
                "overrides": [
                    {"models": ["openai-main/o3"], "limits": {"requests_per_minute": 5, "tokens_per_minute": 9}}
                ],
            },
        },
        ("warning", "override-unreachable", "applies_to.overrides[0].models[0]"),
    ),
    (
        "per-user on virtual accounts only",
        RATE,
        {"when": {"subjects": {"virtual_accounts": {"in": ["ci-bot"]}}}},
        ("warning", "applies-to-unreachable", "applies_to.type"),
    ),
    (
        "per-virtual-account on users only",
        BUDGET,
        {"when": {"subjects": {"users": {"in": ["a@example.com"]}}}, "applies_to": {"type": "per-virtual-account"}},
        ("warning", "applies-to-unreachable", "applies_to.type"),
    ),
    (
        "override for a bare model name",
        RATE,
        {
            "applies_to": {
                "type": "per-model",
                "overrides": [{"models": ["gpt-4o"], "limits": {"requests_per_minute": 5, "tokens_per_minute": 9}}],
            }
        },
        ("warning", "model-format", "applies_to.overrides[0].models[0]"),
    ),
    ("audit", RATE, {"mode": "audit"}, ("warning", "audit-mode", "mode")),
    (
        "threshold over 100",
        BUDGET,
        {
            "alerts": {
                "thresholds": [50, 150],
                "notification_target": [{"type": "pagerduty", "notification_channel": "p"}],
            }
        },
        ("error", "threshold-range", "alerts.thresholds[1]"),
    ),
    (
        "alerts to nobody",
        BUDGET,
        {"alerts": {"thresholds": [90]}},
        ("warning", "alerts-no-target", "alerts.notification_target"),
    ),
    (
        "mcp minute above hour",
        {**RATE, "type": "tenant-rate-limit-config/mcp", "limits": {"tool_calls_per_minute": 1}},
        {"limits": {"tool_calls_per_minute": 90, "tool_calls_per_hour": 60}},
        ("warning", "window-never-binds", "limits.tool_calls_per_minute"),
    ),
]


@pytest.mark.parametrize(("base", "change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_finding(base: dict[str, Any], change: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert _findings(base, **change) == [expected]


def test_a_duplicate_in_in_does_not_hide_that_the_filter_matches_nothing() -> None:
    found = _findings(RATE, when={"provider_accounts": {"in": ["a", "a"], "not_in": ["a"]}})
    assert found == [
        ("warning", "duplicate-value", "when.provider_accounts.in[1]"),
        ("error", "filter-matches-nothing", "when.provider_accounts.not_in"),
    ]


def test_messages_say_what_to_do() -> None:
    (binds,) = validate_manifest({**BUDGET, "limits": {"cost_per_day": 100, "cost_per_week": 50}})
    assert binds.message == (
        "cost_per_day 100 is above cost_per_week 50: the cost_per_week limit always blocks first, so the "
        "cost_per_day period never applies"
    )
    assert binds.hint == "lower cost_per_day below 50, or remove it"
    (kind,) = validate_manifest({**BUDGET, "when": {"subjects": {"users": {"in": ["virtualaccount:ci"]}}}})
    assert kind.message == "'virtualaccount:ci' is not one of the users; list 'ci' under subjects.virtual_accounts"
    (empty,) = validate_manifest({**RATE, "limits": {}})
    assert empty.hint is not None and "requests_per_minute" in empty.hint and "tokens_per_day" in empty.hint


def test_findings_point_at_the_line_and_column_written() -> None:
    text = """\
name: gpt-4o
type: tenant-rate-limit-config/model
when:
  models:
    in: [openai-main/gpt-4o]
    not_in: [openai-main/gpt-4o]
limits: {requests_per_minute: 10}
applies_to: {type: aggregate}
mode: enforce
"""
    (found,) = validate_documents(load_text(text, "limits.yaml"))
    assert found.format() == (
        "limits.yaml:6:13: error: every value in 'in' is also in 'not_in', so this filter matches no request "
        "(when.models.not_in) [hint: remove the values from not_in (or the whole filter)]"
    )
