"""A guardrail rule's `when`: target model (with globs), subjects (and/or, in/not_in), metadata."""

from __future__ import annotations

from typing import Any

import pytest

from tfy_gateway.gateway.guardrails.matching import RuleMatcher
from tfy_gateway.manifests.guardrails import GuardrailsWhen

ALICE = ("user:alice@example.com", "team:backend", "team:everyone")
BOB = ("user:bob@example.com", "team:everyone")


def matcher(when: dict[str, Any]) -> RuleMatcher:
    return RuleMatcher.of(GuardrailsWhen.model_validate(when))


def model(condition: str, *values: str) -> dict[str, Any]:
    return {"target": {"operator": "or", "conditions": {"model": {"condition": condition, "values": list(values)}}}}


def test_an_empty_when_matches_everything() -> None:
    assert matcher({}).matches("openai-main/gpt-4o", BOB, {})


@pytest.mark.parametrize(
    ("when", "requested", "matches"),
    [
        (model("in", "openai-main/gpt-4o"), "openai-main/gpt-4o", True),
        (model("in", "openai-main/gpt-4o"), "openai-main/gpt-4o-mini", False),
        (model("in", "openai-main/gpt-4*"), "openai-main/gpt-4o-mini", True),
        (model("in", "*/gpt-4o"), "azure/gpt-4o", True),
        (model("in", "*"), "anything/at-all", True),
        (model("not_in", "openai-main/*"), "openai-main/gpt-4o", False),
        (model("not_in", "openai-main/*"), "anthropic/claude", True),
    ],
)
def test_target_model_conditions(when: dict[str, Any], requested: str, matches: bool) -> None:
    assert matcher(when).matches(requested, BOB, {}) is matches


def test_a_target_naming_only_mcp_servers_never_matches_a_model_call() -> None:
    when = {"target": {"operator": "or", "conditions": {"mcpServers": {"condition": "in", "values": ["github"]}}}}
    assert (
        matcher(when).mismatch("openai-main/gpt-4o", BOB, {}) == "target: only MCP servers or tools (not model calls)"
    )


def test_subject_conditions_with_and_or() -> None:
    both = {"subjects": {"operator": "and", "conditions": {"in": ["team:everyone"], "not_in": ["team:backend"]}}}
    either = {"subjects": {"operator": "or", "conditions": {"in": ["team:backend"], "not_in": ["team:everyone"]}}}
    assert not matcher(both).matches("m/x", ALICE, {}) and matcher(both).matches("m/x", BOB, {})
    assert matcher(either).matches("m/x", ALICE, {}) and not matcher(either).matches("m/x", BOB, {})
    star = {"subjects": {"operator": "and", "conditions": {"in": ["*"]}}}
    assert matcher(star).matches("m/x", BOB, {})


def test_metadata_must_all_be_present() -> None:
    rule = matcher({"metadata": {"env": "prod"}})
    assert rule.matches("m/x", BOB, {"env": "prod", "x": "y"})
    assert rule.mismatch("m/x", BOB, {"env": "dev"}) == "metadata: 'env' is 'dev', wanted 'prod'"
