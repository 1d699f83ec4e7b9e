"""A guardrail rule's `when`, compiled once: which requests the rule applies to.

- `target.conditions` (operator `or`): a request to a model matches when the `model` condition holds;
  `in` lists model ids or shell-style globs (`openai-main/*`, `*/gpt-4o*`), `not_in` excludes them.
  MCP server and tool conditions never match a model request, so a rule whose target names only those
  does not apply to LLM calls. No target (or an empty one) matches every model.
- `subjects.conditions`: `in` holds when one of the caller's subjects (its user or virtual account,
  its teams, `team:everyone`) is listed (`*` lists everyone); `not_in` when none is. Operator `and`
  needs every given condition, `or` one of them.
- `metadata`: every pair must be in the request's X-TFY-METADATA with exactly that value.
All three AND-combined; a rule with an empty `when` matches every request.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tfy_gateway.gateway.routing.matching import metadata_matches, metadata_mismatch
from tfy_gateway.manifests.guardrails import GuardrailsWhen, ValuesCondition


@dataclass(frozen=True, slots=True)
class NameSet:
    """Exact names plus one compiled regex for the glob patterns; `everything` for `*`."""

    exact: frozenset[str]
    globs: re.Pattern[str] | None
    everything: bool

    @classmethod
    def of(cls, values: Sequence[str]) -> NameSet:
        patterns = [value for value in values if any(char in value for char in "*?[")]
        regex = re.compile("|".join(fnmatch.translate(p) for p in patterns)) if patterns else None
        return cls(frozenset(values), regex, "*" in values)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return self.everything or name in self.exact or (self.globs is not None and self.globs.match(name) is not None)


@dataclass(frozen=True, slots=True)
class ModelCondition:
    names: NameSet
    negated: bool

    @classmethod
    def of(cls, condition: ValuesCondition) -> ModelCondition:
        return cls(NameSet.of(condition.values), condition.condition == "not_in")

    def holds(self, model: str) -> bool:
        return (model in self.names) != self.negated


@dataclass(frozen=True, slots=True)
class RuleMatcher:
    any_model: bool = True
    model: ModelCondition | None = None  # None with any_model False: the target names only MCP conditions
    subjects_in: NameSet | None = None
    subjects_not_in: NameSet | None = None
    subjects_all: bool = True  # operator and
    metadata: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, when: GuardrailsWhen) -> RuleMatcher:
        any_model, model = True, None
        if when.target is not None:
            conditions = when.target.conditions
            if conditions.model is not None:
                any_model, model = False, ModelCondition.of(conditions.model)
            elif conditions.mcpServers is not None or conditions.mcpTools is not None:
                any_model = False
        subjects_in = subjects_not_in = None
        subjects_all = True
        if when.subjects is not None:
            clause = when.subjects.conditions
            subjects_in = NameSet.of(clause.in_) if clause.in_ is not None else None
            subjects_not_in = NameSet.of(clause.not_in) if clause.not_in is not None else None
            subjects_all = when.subjects.operator == "and"
        metadata = tuple((str(k), str(v)) for k, v in (when.metadata or {}).items())
        return cls(any_model, model, subjects_in, subjects_not_in, subjects_all, metadata)

    def matches(self, model: str, subjects: Sequence[str], metadata: Mapping[str, str]) -> bool:
        return self.mismatch(model, subjects, metadata) is None

    def mismatch(self, model: str, subjects: Sequence[str], metadata: Mapping[str, str]) -> str | None:
        """Why a request does not match (the first failing part), or None when it does."""
        if not self.any_model:
            if self.model is None:
                return "target: only MCP servers or tools (not model calls)"
            if not self.model.holds(model):
                kind = "is listed in not_in" if self.model.negated else "is not in"
                return f"target.model: '{model}' {kind} {sorted(self.model.names.exact)}"
        problem = self._subjects(subjects)
        if problem is not None:
            return problem
        if metadata_matches(self.metadata, metadata):
            return None
        return metadata_mismatch(self.metadata, metadata)

    def _subjects(self, subjects: Sequence[str]) -> str | None:
        checks = []
        if self.subjects_in is not None:
            inside = any(subject in self.subjects_in for subject in subjects)
            checks.append((inside, f"subjects.in: none of {list(subjects)} is listed"))
        if self.subjects_not_in is not None:
            outside = not any(subject in self.subjects_not_in for subject in subjects)
            checks.append((outside, f"subjects.not_in: one of {list(subjects)} is listed"))
        if not checks:
            return None
        if self.subjects_all:
            return next((why for held, why in checks if not held), None)
        return None if any(held for held, _ in checks) else " and ".join(why for _, why in checks)
