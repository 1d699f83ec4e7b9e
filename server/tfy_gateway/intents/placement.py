"""Where a route intent's rule goes in the live routing config, and which model names clients send.

Routing is first-match-wins. A new rule for `openai/gpt-4o` appended after a live rule that already
routes `openai/gpt-4o` would never be reached: the intent would silently do nothing. So:
- a live rule with exactly the intent's matcher (same model, subjects and metadata) is *changed*:
  the intent renders under that rule's id and replaces it in place;
- a live rule that matches more (other models too, everyone, no metadata condition...) keeps its
  meaning for the rest of its traffic: the new rule is placed *before* it, and the check says so;
- otherwise the rule is added (after specific rules, before catch-alls: see platform.merge).
These functions read plain manifest dicts (the live config as the control plane returns it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["add", "replace", "before"]


@dataclass(frozen=True)
class Placement:
    """What rendering a route intent does to the live routing config."""

    action: Action
    rule_id: str
    existing: Mapping[str, Any] | None = None  # the live rule that already matches the intent's requests

    @property
    def before(self) -> str | None:
        return str(self.existing.get("id")) if self.action == "before" and self.existing else None

    def note(self, model: str) -> str:
        if self.existing is None:
            return "derived from the model name (no live rule routes this model yet)"
        existing_id = self.existing.get("id")
        targets = ", ".join(f"{t['target']} {t.get('weight', '')}".strip() for t in rule_targets(self.existing))
        if self.action == "replace":
            return (
                f"changes the live rule '{existing_id}', which already routes '{model}' (to {targets}): "
                "its targets and settings are replaced by this intent's"
            )
        return (
            f"placed before the live rule '{existing_id}', which also matches these requests (to {targets}) "
            "and would otherwise take them first; its other traffic is unchanged"
        )


def _rules(config: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    rules = config.get("rules") if config else None
    return [r for r in rules if isinstance(r, Mapping)] if isinstance(rules, list) else []


def _when(rule: Mapping[str, Any]) -> Mapping[str, Any]:
    when = rule.get("when")
    return when if isinstance(when, Mapping) else {}


def _values(when: Mapping[str, Any], key: str) -> list[str] | None:
    """The list under `key`; None means "matches everything" (missing, empty, or containing '*')."""
    values = when.get(key)
    if not isinstance(values, list) or not values or "*" in values:
        return None
    return [str(v) for v in values]


def _covers(earlier: list[str] | None, later: list[str] | None) -> bool:
    if earlier is None:
        return True
    return later is not None and set(later) <= set(earlier)


def _metadata(when: Mapping[str, Any]) -> dict[str, str]:
    metadata = when.get("metadata")
    return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, Mapping) else {}


def rule_targets(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`[{target, weight?, priority?}]` of a live routing rule."""
    targets = rule.get("load_balance_targets")
    found: list[dict[str, Any]] = []
    for item in targets if isinstance(targets, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("target"), str):
            entry: dict[str, Any] = {"target": item["target"]}
            for key in ("weight", "priority"):
                if isinstance(item.get(key), int):
                    entry[key] = item[key]
            found.append(entry)
    return found


def matching_rule(
    routing: Mapping[str, Any] | None,
    model: str,
    subjects: Sequence[str] | None,
    metadata: Mapping[str, str] | None,
) -> Mapping[str, Any] | None:
    """The first live rule that takes every request the intent describes (it would shadow a new rule)."""
    wanted_subjects = None if not subjects or "*" in subjects else list(subjects)
    wanted_metadata = dict(metadata or {})
    for rule in _rules(routing):
        when = _when(rule)
        if not _covers(_values(when, "models"), [model]):
            continue
        if not _covers(_values(when, "subjects"), wanted_subjects):
            continue
        if all(wanted_metadata.get(k) == v for k, v in _metadata(when).items()):
            return rule
    return None


def same_matcher(
    rule: Mapping[str, Any], model: str, subjects: Sequence[str] | None, metadata: Mapping[str, str] | None
) -> bool:
    when = _when(rule)
    models = _values(when, "models")
    rule_subjects = _values(when, "subjects")
    wanted_subjects = None if not subjects or "*" in subjects else sorted(set(subjects))
    return (
        models is not None
        and set(models) == {model}
        and (sorted(set(rule_subjects)) if rule_subjects is not None else None) == wanted_subjects
        and _metadata(when) == dict(metadata or {})
    )


def place_route(
    routing: Mapping[str, Any] | None,
    model: str,
    subjects: Sequence[str] | None,
    metadata: Mapping[str, str] | None,
    *,
    derived_id: str,
    explicit_id: str | None,
) -> Placement:
    """Where the rule for `model` goes (see the module docstring); an explicit rule id is kept."""
    existing = matching_rule(routing, model, subjects, metadata)
    if existing is None:
        return Placement("add", explicit_id or derived_id)
    existing_id = str(existing.get("id") or "")
    if explicit_id is not None and explicit_id == existing_id:
        return Placement("replace", existing_id, existing)
    if explicit_id is None and existing_id and same_matcher(existing, model, subjects, metadata):
        return Placement("replace", existing_id, existing)
    return Placement("before", explicit_id or derived_id, existing)


def routed_models(routing: Mapping[str, Any] | None) -> list[str]:
    """Model names that routing rules match (aliases clients send, e.g. 'openai/gpt-4o'), in rule order."""
    names: list[str] = []
    for rule in _rules(routing):
        for name in _values(_when(rule), "models") or []:
            if name not in names:
                names.append(name)
    return names
