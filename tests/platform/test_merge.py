from __future__ import annotations

import copy
from typing import Any

import pytest

from tfy_gateway.platform import RuleNotFoundError, is_catch_all, merge_rule, remove_rule

LB = "gateway-load-balancing-config"


def rule(rule_id: str, when: Any = None, weight: int = 100) -> dict[str, Any]:
    r: dict[str, Any] = {"id": rule_id, "type": "weight-based-routing"}
    if when is not None:
        r["when"] = when
    r["load_balance_targets"] = [{"target": "openai-main/gpt-4o", "weight": weight}]
    return r


def config(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "routing", "type": LB, "rules": list(rules)}


def ids(cfg: dict[str, Any]) -> list[str]:
    return [r["id"] for r in cfg["rules"]]


A = rule("a", {"models": ["gpt-4o"]})
B = rule("b", {"subjects": ["team:backend"], "models": ["*"]})
MODEL_IN = {"model": {"condition": "in", "values": ["m"]}}
GUARDRAILS_WHEN = {"target": {"operator": "or", "conditions": MODEL_IN}}
CATCH = rule("fallback", {"subjects": ["*"], "models": ["*"]})


def test_no_current_config_creates_one_with_the_given_name() -> None:
    merged = merge_rule(None, A, config_type=LB, name="chat-routing")
    assert merged == {"name": "chat-routing", "type": LB, "rules": [A]}
    assert merged["rules"][0] is not A


def test_new_rule_is_appended_keeping_order() -> None:
    merged = merge_rule(config(A), B, config_type=LB, name="ignored")
    assert ids(merged) == ["a", "b"]
    assert merged["name"] == "routing"  # an existing config keeps its name


def test_new_rule_goes_before_the_first_catch_all() -> None:
    merged = merge_rule(config(A, CATCH), B, config_type=LB, name="routing")
    assert ids(merged) == ["a", "b", "fallback"]


def test_new_catch_all_goes_at_the_very_end() -> None:
    other_catch = rule("everyone", {})
    merged = merge_rule(config(A, CATCH), other_catch, config_type=LB, name="routing")
    assert ids(merged) == ["a", "fallback", "everyone"]


def test_replace_by_id_keeps_position_and_other_rules() -> None:
    current = config(A, B, CATCH)
    new_b = rule("b", {"subjects": ["team:frontend"]}, weight=50)
    merged = merge_rule(current, new_b, config_type=LB, name="routing")
    assert ids(merged) == ["a", "b", "fallback"]
    assert merged["rules"][1] == new_b
    assert merged["rules"][0] == A and merged["rules"][2] == CATCH


def test_inputs_are_never_mutated() -> None:
    current = config(A, CATCH)
    before_current = copy.deepcopy(current)
    new = rule("c", {"models": ["x"]})
    before_new = copy.deepcopy(new)
    merged = merge_rule(current, new, config_type=LB, name="routing")
    merged["rules"][0]["load_balance_targets"][0]["weight"] = 1
    merged["rules"][1]["id"] = "changed"
    assert current == before_current
    assert new == before_new
    removed = remove_rule(current, "a")
    removed["rules"][0]["id"] = "changed"
    assert current == before_current


def test_other_top_level_fields_are_kept() -> None:
    current = {**config(A), "description": "prod"}
    assert merge_rule(current, B, config_type=LB, name="routing")["description"] == "prod"


def test_type_mismatch_and_missing_id_are_errors() -> None:
    with pytest.raises(ValueError, match="gateway-rate-limiting-config"):
        merge_rule(config(A), B, config_type="gateway-rate-limiting-config", name="rl")
    with pytest.raises(ValueError, match="`id`"):
        merge_rule(config(A), {"when": {}}, config_type=LB, name="routing")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (None, True),
        ({}, True),
        ({"subjects": ["*"], "models": ["*"]}, True),
        ({"subjects": [], "metadata": {}}, True),
        ({"models": ["gpt-4o"]}, False),
        ({"subjects": ["*", "team:x"]}, False),
        ({"metadata": {"env": "prod"}}, False),
        (GUARDRAILS_WHEN, False),
    ],
)
def test_catch_all_detection(when: Any, expected: bool) -> None:
    assert is_catch_all(rule("r", when)) is expected


def test_remove_rule() -> None:
    current = config(A, B, CATCH)
    assert ids(remove_rule(current, "b")) == ["a", "fallback"]
    assert ids(remove_rule(config(A), "a")) == []


def test_remove_unknown_rule_lists_existing_ids() -> None:
    with pytest.raises(RuleNotFoundError) as info:
        remove_rule(config(A, B), "zzz")
    assert "'zzz'" in str(info.value) and "'a', 'b'" in str(info.value)
