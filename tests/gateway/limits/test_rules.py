"""Compiling `gateway-rate-limiting-config` into first-match rules."""

from __future__ import annotations

import pytest

from tests.gateway.limits.conftest import caller, rule, rules
from tests.gateway.routing.conftest import snapshot_of
from tfy_gateway.gateway.limits import Unit, compile_limits
from tfy_gateway.gateway.limits.window import DAY, MINUTE


def test_units_parse_into_kind_and_period() -> None:
    assert Unit.parse("tokens_per_minute") == Unit("tokens_per_minute", "tokens", MINUTE)
    assert Unit.parse("requests_per_day").period is DAY
    with pytest.raises(ValueError, match="cost_per_day"):
        Unit.parse("cost_per_day")


def test_no_config_compiles_to_no_rules() -> None:
    assert compile_limits(snapshot_of([])).rules == ()


def test_rules_keep_their_order_and_fields() -> None:
    compiled = rules(
        rule("a", 5, "tokens_per_hour", when={"subjects": ["team:t"]}, rate_limit_applies_per=["metadata.p", "user"]),
        rule("b", 1),
    )
    first, second = compiled.rules
    assert (first.id, first.limit, first.unit.name, first.config_name) == ("a", 5, "tokens_per_hour", "limits")
    assert first.applies_per == ("metadata.p", "user") and first.required_metadata == ("p",)
    assert second.id == "b" and second.when.subjects is None


def test_first_match_follows_subjects_models_and_metadata() -> None:
    compiled = rules(
        rule("team", 1, when={"subjects": ["team:t"], "models": ["m1"]}),
        rule("meta", 1, when={"metadata": {"env": "prod"}}),
        rule("star", 1, when={"models": ["*"], "subjects": ["*"]}),
    )
    match = compiled.first_match
    assert match(caller(teams=("t",), model="m1")).id == "team"  # type: ignore[union-attr]
    assert match(caller(teams=("t",), model="m2")).id == "star"  # type: ignore[union-attr]
    assert match(caller(model="m2", metadata={"env": "prod"})).id == "meta"  # type: ignore[union-attr]
    assert match(caller(model="m1", metadata={"env": "dev"})).id == "star"  # type: ignore[union-attr]


def test_rule_order_wins_over_the_subject_index() -> None:
    compiled = rules(
        rule("team-a", 1, when={"subjects": ["team:a"], "models": ["m1"]}),
        rule("anyone-on-m1", 1, when={"models": ["m1"]}),
        rule("team-b", 1, when={"subjects": ["team:b", "user:z@x"]}),
        *(rule(f"team-{i}", 1, when={"subjects": [f"team:t{i}"]}) for i in range(200)),
    )
    match = compiled.first_match
    assert match(caller(teams=("b",), model="m1")).id == "anyone-on-m1"  # type: ignore[union-attr]
    assert match(caller(teams=("b", "a"), model="m1")).id == "team-a"  # type: ignore[union-attr]
    assert match(caller(teams=("b",), model="m2")).id == "team-b"  # type: ignore[union-attr]
    assert match(caller("z@x", model="m2")).id == "team-b"  # type: ignore[union-attr]
    assert match(caller(teams=("t150",), model="m2")).id == "team-150"  # type: ignore[union-attr]
    assert match(caller(teams=("nope",), model="m2")) is None
