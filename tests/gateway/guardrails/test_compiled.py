"""`CompiledGuardrails.select` remembers the selection of each request shape (model, subjects,
metadata) and answers for a remembered shape exactly as it selected it the first time."""

from __future__ import annotations

from typing import Any

from tfy_gateway.gateway.guardrails import compiled
from tfy_gateway.gateway.guardrails.compiled import CompiledGuardrails, compile_guardrails
from tfy_gateway.gateway.guardrails.header import RequestedGuardrails
from tfy_gateway.manifests import parse_manifest
from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup
from tfy_gateway.manifests.guardrails import GuardrailsConfig

SUBJECTS = ("user:a@example.com", "team:everyone")
GROUP = {
    "name": "g",
    "type": "provider-account/guardrail-config-group",
    "integrations": [
        {
            "name": name,
            "type": "integration/guardrail-config/regex",
            "operation": "validate",
            "enforcing_strategy": "enforce",
            "config": {"preset_patterns": {"presets": ["email"]}},
        }
        for name in ("everywhere", "production")
    ],
}


def rule(rule_id: str, when: dict[str, Any], guardrail: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "when": when,
        "llm_input_guardrails": [guardrail],
        "llm_output_guardrails": [],
        "mcp_tool_pre_invoke_guardrails": [],
        "mcp_tool_post_invoke_guardrails": [],
    }


def guardrails() -> CompiledGuardrails:
    config = parse_manifest(
        {
            "name": "rules",
            "type": "gateway-guardrails-config",
            "rules": [
                rule("all", {}, "g/everywhere"),
                rule("prod", {"metadata": {"environment": "production"}}, "g/production"),
            ],
        }
    )
    group = parse_manifest(GROUP)
    assert isinstance(config, GuardrailsConfig) and isinstance(group, GuardrailConfigGroup)
    return compile_guardrails(config, [group], None, lambda value: value)


def refs(selection: compiled.Selection | None) -> list[str]:
    assert selection is not None
    return [guardrail.spec.ref for guardrail in selection.input]


def test_a_shape_seen_before_gets_the_same_selection() -> None:
    rules = guardrails()
    first = rules.select("m/x", SUBJECTS, {"environment": "production"})
    assert refs(first) == ["g/everywhere", "g/production"]
    assert rules.select("m/x", SUBJECTS, {"environment": "production"}) is first
    assert refs(rules.select("m/x", SUBJECTS, {"environment": "dev"})) == ["g/everywhere"]
    assert refs(rules.select("m/x", SUBJECTS, {})) == ["g/everywhere"]
    assert refs(rules.select("m/x", SUBJECTS, {"environment": "production"})) == ["g/everywhere", "g/production"]


def test_the_header_is_never_answered_from_the_memo() -> None:
    rules = guardrails()
    plain = rules.select("m/x", SUBJECTS, {})
    asked = rules.select("m/x", SUBJECTS, {}, RequestedGuardrails(input=("g/production",)))
    assert refs(plain) == ["g/everywhere"]
    assert refs(asked) == ["g/everywhere", "g/production"]


def test_the_memo_starts_again_past_its_size(monkeypatch: Any) -> None:
    monkeypatch.setattr(compiled, "MAX_REMEMBERED_SHAPES", 2)
    rules = guardrails()
    first = rules.select("m/x", SUBJECTS, {"n": "1"})
    rules.select("m/x", SUBJECTS, {"n": "2"})
    rules.select("m/x", SUBJECTS, {"n": "3"})  # the memo was full: it starts again with this shape
    again = rules.select("m/x", SUBJECTS, {"n": "1"})
    assert again is not first and refs(again) == refs(first)


def test_a_selection_knows_once_how_each_stage_runs() -> None:
    rules = guardrails()
    selection = rules.select("m/x", SUBJECTS, {"environment": "production"})
    assert selection is not None
    plan = selection.input_plan
    assert [g.spec.ref for g in plan.local] == ["g/everywhere", "g/production"]
    assert plan.remote == () and plan.mutators == ()
    assert selection.output_plan == compiled.StagePlan((), (), ())
    assert selection.without_output().input_plan == plan
