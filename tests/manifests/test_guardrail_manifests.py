"""Guardrail manifests are validated with file:line findings and did-you-mean: types, categories, rule
references (a missing integration is an error), the side a guardrail may run on, patterns that do
not compile."""

from __future__ import annotations

from tfy_gateway.manifests import has_errors, load_text, validate_documents

GROUP = """\
name: guards
type: provider-account/guardrail-config-group
integrations:
  - name: pii
    type: integration/guardrail-config/tfy-pii
    operation: validate
    enforcing_strategy: enforce
    config:
      pii_categories: [Email, CreditCardNumber]
  - name: svc
    type: integration/guardrail-config/custom
    operation: validate
    enforcing_strategy: enforce_but_ignore_on_error
    target: request
    config: {url: "https://guard.example.com/check"}
  - name: meta
    type: integration/guardrail-config/tfy-metadata
    enforcing_strategy: enforce
    config: {keys: {project: {required: true}}}
"""


def rules(inputs: str, outputs: str = "[]", extra: str = "") -> str:
    return f"""\
name: guardrails
type: gateway-guardrails-config
rules:
  - id: r1
    when: {{}}
    llm_input_guardrails: {inputs}
    llm_output_guardrails: {outputs}
    mcp_tool_pre_invoke_guardrails: []
    mcp_tool_post_invoke_guardrails: []
{extra}"""


def findings(text: str) -> list[tuple[str, str, int | None]]:
    return [(f.code, f.message, f.line) for f in validate_documents(load_text(text, "g.yaml"))]


def test_a_group_and_rules_that_fit_together_are_valid() -> None:
    found = validate_documents(load_text(GROUP + "---\n" + rules("[guards/pii, guards/svc, guards/meta]"), "g.yaml"))
    assert not has_errors(found), [f.format() for f in found]


def test_a_rule_naming_a_missing_integration_is_an_error_with_a_suggestion() -> None:
    ((code, message, line),) = findings(GROUP + "---\n" + rules("[guards/pi]"))
    assert code == "unknown-guardrail" and "did you mean 'guards/pii'?" in message and line == 26


def test_guardrails_on_the_wrong_side() -> None:
    found = findings(GROUP + "---\n" + rules("[]", "[guards/svc, guards/meta]"))
    assert [code for code, _, _ in found] == ["guardrail-side", "guardrail-side"]
    assert "target: request; it can only be listed in llm_input_guardrails" in found[0][1]
    assert "runs on the input only" in found[1][1]


def test_misspelt_types_categories_and_bad_patterns() -> None:
    text = """\
name: g
type: provider-account/guardrail-config-group
integrations:
  - name: a
    type: integration/guardrail/tfy-pii
    operation: validate
    enforcing_strategy: enforce
    config: {pii_categories: [Email]}
---
name: h
type: provider-account/guardrail-config-group
integrations:
  - name: b
    type: integration/guardrail-config/tfy-pii
    operation: validate
    enforcing_strategy: enforced
    config: {pii_categories: [Emial]}
  - name: c
    type: integration/guardrail-config/regex
    operation: mutate
    enforcing_strategy: enforce
    config: {custom_patterns: [{pattern: "(unclosed"}]}
  - name: d
    type: integration/guardrail-config/opa
    operation: mutate
    enforcing_strategy: enforce
    config: {opa_url: "http://opa:8181", policy_path: p}
"""
    found = {(code, line): message for code, message, line in findings(text)}
    assert "did you mean 'integration/guardrail-config/tfy-pii'?" in found[("invalid-value", 5)]
    assert "did you mean 'enforce'?" in found[("invalid-value", 16)]
    assert "unknown PII category 'Emial'; did you mean 'Email'?" in found[("invalid-value", 17)]
    assert "invalid value 'mutate' for 'operation'" in found[("invalid-value", 25)]  # OPA only validates


def test_a_pattern_that_does_not_compile_is_an_error() -> None:
    text = """\
name: g
type: provider-account/guardrail-config-group
integrations:
  - name: c
    type: integration/guardrail-config/regex
    operation: mutate
    enforcing_strategy: enforce
    config: {custom_patterns: [{pattern: "(unclosed"}]}
"""
    ((code, message, line),) = findings(text)
    assert code == "invalid-regex" and "does not compile" in message and line == 8


def test_rule_subjects_and_model_values_are_checked() -> None:
    extra = """\
  - id: r2
    when:
      subjects: {operator: and, conditions: {in: ["teem:x"]}}
      target: {operator: or, conditions: {model: {condition: in, values: [gpt-4o]}}}
    llm_input_guardrails: []
    llm_output_guardrails: []
    mcp_tool_pre_invoke_guardrails: []
    mcp_tool_post_invoke_guardrails: []
"""
    found = findings(rules("[]", extra=extra))
    assert [code for code, _, _ in found] == ["empty-rule", "empty-rule", "invalid-subject", "model-format"]
