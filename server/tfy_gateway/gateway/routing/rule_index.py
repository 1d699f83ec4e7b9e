"""Which rules can match a request, found by dict lookups instead of a scan over every rule.

Shared by routing and rate limiting, whose rules both carry a `WhenMatcher`: first by requested
model (rules naming it plus rules for any model), then by the caller's subjects
(rules naming one of them plus rules for any subject). Rule order is kept throughout, so "first
matching rule" means the same as a scan would. The model index is built at apply time and never
changes; the per-model subject indexes are built on demand and remembered by their users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, Protocol, TypeVar

from tfy_gateway.gateway.routing.matching import WhenMatcher


class HasWhen(Protocol):
    @property
    def when(self) -> WhenMatcher: ...


R = TypeVar("R", bound=HasWhen)


class SubjectIndex(Generic[R]):
    """The rules that can match one requested model, in rule order, indexed by subject."""

    __slots__ = ("_any_subject", "_by_subject", "rules")

    def __init__(self, rules: tuple[R, ...]) -> None:
        self.rules = rules
        any_subject: list[int] = []
        by_subject: dict[str, list[int]] = {}
        for position, rule in enumerate(rules):
            if rule.when.subjects is None:
                any_subject.append(position)
            else:
                for subject in rule.when.subjects:
                    by_subject.setdefault(subject, []).append(position)
        self._any_subject = tuple(any_subject)
        self._by_subject = {subject: tuple(positions) for subject, positions in by_subject.items()}

    def candidates(self, subjects: tuple[str, ...]) -> list[R]:
        """Rules listing one of `subjects` or matching any subject, in rule order."""
        by_subject = self._by_subject
        hits = [by_subject[s] for s in subjects if s in by_subject] if by_subject else None
        if not hits:
            return [self.rules[p] for p in self._any_subject]
        return [self.rules[p] for p in sorted(set(self._any_subject).union(*hits))]


@dataclass(frozen=True, eq=False)
class ModelIndex(Generic[R]):
    """Per requested model, the positions of the rules that can match it (rules naming it, rules for
    any model). Immutable, part of a compiled config; `select` builds the model's rules afresh, so the
    runtime objects that ask often remember the answer (`routing.memo.ModelMemo`)."""

    rules: tuple[R, ...]
    any_model: tuple[int, ...]
    by_model: Mapping[str, tuple[int, ...]]

    @classmethod
    def of(cls, rules: Sequence[R]) -> ModelIndex[R]:
        any_model: list[int] = []
        by_model: dict[str, list[int]] = {}
        for position, rule in enumerate(rules):
            if rule.when.models is None:
                any_model.append(position)
            else:
                for model in rule.when.models:
                    by_model.setdefault(model, []).append(position)
        positions = MappingProxyType({model: tuple(found) for model, found in by_model.items()})
        return cls(tuple(rules), tuple(any_model), positions)

    def names(self, model: str) -> bool:
        """True when a rule's `when.models` lists `model` (not just `*`)."""
        return model in self.by_model

    def select(self, model: str) -> tuple[R, ...]:
        """The rules that can match `model`, in rule order."""
        positions = sorted(self.any_model + self.by_model.get(model, ()))
        return tuple(self.rules[p] for p in positions)
