"""The guardrail intent: the questions each ask needs, and the two manifests it renders."""

from __future__ import annotations

from typing import Any

import pytest

from tfy_gateway.intents import GuardrailIntent, check_intent, render, render_documents
from tfy_gateway.intents.base import IntentIncompleteError
from tfy_gateway.manifests import Catalog, validate_manifest


def intent(**fields: Any) -> GuardrailIntent:
    return GuardrailIntent.model_validate({"kind": "guardrail", **fields})


def questions(value: GuardrailIntent) -> list[str]:
    return [q.field for q in check_intent(value).questions]


def test_an_empty_ask_gets_one_question_per_choice_recommended_first() -> None:
    check = check_intent(intent())
    assert [q.field for q in check.questions] == ["check", "stage", "action", "subjects"]
    assert [q.recommended for q in check.questions[:3]] == ["pii", "input", "block"]


@pytest.mark.parametrize(
    ("fields", "asked"),
    [
        ({"check": "pii"}, ["pii_categories"]),
        ({"check": "pii", "pii_categories": ["Emial"]}, ["pii_categories[0]"]),
        ({"check": "regex"}, ["patterns"]),
        ({"check": "regex", "patterns": ["(unclosed"], "presets": ["ssn"]}, ["presets[0]", "patterns[0]"]),
        ({"check": "custom"}, ["url", "on_error"]),
        (
            {"check": "custom", "url": "https://g.example.com", "bearer_token": "raw", "on_error": "block"},
            ["bearer_token"],
        ),
        ({"check": "sql", "action": "redact"}, ["action"]),
    ],
)
def test_what_each_check_asks(fields: dict[str, Any], asked: list[str]) -> None:
    base = {"stage": "input", "action": "block", "subjects": ["*"], **fields}
    assert questions(intent(**base)) == asked


def test_a_misspelt_category_is_corrected() -> None:
    (question,) = check_intent(
        intent(check="pii", stage="input", action="block", subjects=["*"], pii_categories=["Emial"])
    ).questions
    assert question.recommended == "Email"


def test_block_pii_in_prompts_for_a_team_renders_a_group_and_a_rule_that_validate() -> None:
    ask = intent(check="pii", stage="input", action="block", subjects=["team:backend"], pii_categories=["Email"])
    group, rules = render_documents(ask)
    assert group["integrations"] == [
        {
            "name": "block-pii",
            "type": "integration/guardrail-config/tfy-pii",
            "operation": "validate",
            "enforcing_strategy": "enforce",
            "config": {"pii_categories": ["Email"]},
        }
    ]
    (rule,) = rules["rules"]
    assert rule["when"] == {"subjects": {"operator": "or", "conditions": {"in": ["team:backend"]}}}
    assert rule["llm_input_guardrails"] == ["guardrails/block-pii"] and rule["llm_output_guardrails"] == []
    catalog = Catalog.from_manifests([group], complete=True)
    assert validate_manifest(group, catalog) == [] and validate_manifest(rules, catalog) == []


def test_redact_in_answers_is_a_mutate_guardrail_on_the_output_merged_into_the_live_config() -> None:
    ask = intent(check="pii", stage="output", action="redact", subjects=["*"], pii_categories=["Email"], models=["a/b"])
    live_rule = {"id": "other", "when": {}, "llm_input_guardrails": ["x/y"], "llm_output_guardrails": []}
    live = {"name": "live", "type": "gateway-guardrails-config", "rules": [live_rule]}
    merged = render(ask, live)
    # Every matching guardrail rule applies, so the place the rule is merged at changes nothing.
    assert merged["name"] == "live" and {r["id"] for r in merged["rules"]} == {"other", "redact-pii-all-output"}
    new = next(r for r in merged["rules"] if r["id"] == "redact-pii-all-output")
    assert new["llm_output_guardrails"] == ["guardrails/redact-pii"]
    assert new["when"] == {
        "target": {"operator": "or", "conditions": {"model": {"condition": "in", "values": ["a/b"]}}}
    }
    group = render_documents(ask)[0]
    assert group["integrations"][0]["operation"] == "mutate" and group["integrations"][0]["priority"] == 1


def test_the_group_keeps_the_live_groups_other_integrations() -> None:
    ask = intent(check="secrets", stage="input", action="block", subjects=["*"], group="sec")
    live = {
        "name": "sec",
        "type": "provider-account/guardrail-config-group",
        "integrations": [{"name": "keep", "type": "x"}],
    }
    group = render_documents(ask, None, live)[0]
    assert [i["name"] for i in group["integrations"]] == ["keep", "block-secrets"]


def test_a_custom_service_with_a_secret_token() -> None:
    ask = intent(
        check="custom",
        stage="input",
        action="redact",
        subjects=["*"],
        url="https://guard.example.com/check",
        bearer_token="tfy-secret://t:g:TOKEN",
        on_error="allow",
    )
    item = render_documents(ask)[0]["integrations"][0]
    assert item["target"] == "request" and item["operation"] == "mutate"
    assert item["enforcing_strategy"] == "enforce_but_ignore_on_error"
    assert item["auth_data"] == {"type": "bearer-auth", "bearer_token": "tfy-secret://t:g:TOKEN"}


def test_an_incomplete_intent_is_not_rendered() -> None:
    with pytest.raises(IntentIncompleteError):
        render_documents(intent(check="pii"))
