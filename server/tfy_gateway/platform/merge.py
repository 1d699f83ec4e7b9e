"""Add, replace or remove one rule in a singleton gateway config.

Gateway configs (`gateway-load-balancing-config`, `gateway-rate-limiting-config`, ...) are one per
tenant: applying a manifest replaces the whole config. To change one rule without dropping the
others, fetch the current manifest, merge, and apply the result (its dry-run diff then shows only
that rule).

Placement of a new rule: rules are evaluated first-match-wins (routing, rate limits, and the
allow/block decision of budgets), so a rule appended after a catch-all rule (empty `when`, or one
whose conditions are all `*`/empty) would never be reached. A new rule therefore goes at the end,
but before the first catch-all rule. A new rule that is itself a catch-all goes at the very end:
putting it earlier would change which rule existing traffic hits. Replacing a rule (same `id`)
keeps its position. Inputs are never mutated.
"""

from __future__ import annotations

import copy
from typing import Any


class RuleNotFoundError(LookupError):
    """No rule with the requested id; the message lists the ids that exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "rule not found"


def _is_wildcard_condition(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(item == "*" for item in value)
    if isinstance(value, dict):
        return not value
    return isinstance(value, str) and value == "*"


def is_catch_all(rule: dict[str, Any]) -> bool:
    """True when the rule matches every request: no `when`, or only empty/`*` conditions.

    Nested conditions (e.g. guardrails' `when.target.conditions`) count as restricting, so a rule
    is only treated as a catch-all when that is certain.
    """
    when = rule.get("when")
    if when is None:
        return True
    if not isinstance(when, dict):
        return False
    return all(_is_wildcard_condition(value) for value in when.values())


def _rules_of(config: dict[str, Any]) -> list[Any]:
    rules = config.get("rules")
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise ValueError(f"`rules` of the current {config.get('type')} is not a list: {type(rules).__name__}")
    return rules


def _rule_id(rule: dict[str, Any]) -> str:
    rule_id = rule.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise ValueError("the rule needs a non-empty string `id` (rules are matched and replaced by id)")
    return rule_id


def merge_rule(
    current: dict[str, Any] | None,
    rule: dict[str, Any],
    *,
    config_type: str,
    name: str,
    before: str | None = None,
) -> dict[str, Any]:
    """A new config with `rule` added (see module docstring for where) or replacing the same `id`.

    `name` is used only when there is no current config; an existing config keeps its name, so the
    diff shows the rule change and nothing else. `before` names a live rule a new rule must precede
    (one that would otherwise take its requests first); an unknown id raises RuleNotFoundError.
    """
    if not isinstance(rule, dict):
        raise ValueError(f"a rule must be a mapping, got {type(rule).__name__}")
    rule_id = _rule_id(rule)
    if current is None:
        return {"name": name, "type": config_type, "rules": [copy.deepcopy(rule)]}
    if current.get("type") != config_type:
        raise ValueError(
            f"the current config has type {current.get('type')!r}, not {config_type!r}: "
            "fetch the config of the type you are changing"
        )
    merged = copy.deepcopy(current)
    rules = [copy.deepcopy(r) for r in _rules_of(current)]
    new_rule = copy.deepcopy(rule)
    for index, existing in enumerate(rules):
        if isinstance(existing, dict) and existing.get("id") == rule_id:
            rules[index] = new_rule
            break
    else:
        position = len(rules)
        if before is not None:
            found = [i for i, r in enumerate(rules) if isinstance(r, dict) and r.get("id") == before]
            if not found:
                known = ", ".join(repr(r.get("id")) for r in rules if isinstance(r, dict)) or "none"
                raise RuleNotFoundError(
                    f"no rule with id {before!r} to place the new rule before; existing ids: {known}"
                )
            position = found[0]
        elif not is_catch_all(new_rule):
            for index, existing in enumerate(rules):
                if isinstance(existing, dict) and is_catch_all(existing):
                    position = index
                    break
        rules.insert(position, new_rule)
    merged["rules"] = rules
    return merged


def remove_rule(current: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """A new config without the rule `rule_id`; raises RuleNotFoundError if there is none."""
    rules = _rules_of(current)
    ids = [r.get("id") for r in rules if isinstance(r, dict)]
    if rule_id not in ids:
        known = ", ".join(repr(i) for i in ids) or "none"
        raise RuleNotFoundError(f"no rule with id {rule_id!r} in {current.get('type')}; existing ids: {known}")
    merged = copy.deepcopy(current)
    merged["rules"] = [copy.deepcopy(r) for r in rules if not (isinstance(r, dict) and r.get("id") == rule_id)]
    return merged
