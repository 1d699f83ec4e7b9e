"""Which rules can match a request, found by dict lookups instead of a scan over every rule.

Shared by routing and rate limiting, whose rules both carry a `WhenMatcher`: first by requested
model (rules naming it plus rules for any model, memoised per model), then by the caller's subjects
(rules naming one of them plus rules for any subject). Rule order is kept throughout, so "first
matching rule" means the same as a scan would. Built at apply time; the memo fills on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

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


S = TypeVar("S", bound="SubjectIndex[Any]")


class ModelIndex(Generic[R, S]):
    """Per requested model, the `SubjectIndex` of the rules that can match it (memoised, bounded).

    `build(model, rules)` makes that index, so a caller can keep more per model (routing keeps the
    model's pass-through plan beside its rules).
    """

    def __init__(self, rules: Sequence[R], build: Callable[[str, tuple[R, ...]], S], cache_size: int) -> None:
        self._rules = tuple(rules)
        self._build = build
        self._cache_size = cache_size
        self._memo: dict[str, S] = {}
        any_model: list[int] = []
        by_model: dict[str, list[int]] = {}
        for position, rule in enumerate(self._rules):
            if rule.when.models is None:
                any_model.append(position)
            else:
                for model in rule.when.models:
                    by_model.setdefault(model, []).append(position)
        self._any_model = tuple(any_model)
        self._by_model = {model: tuple(positions) for model, positions in by_model.items()}

    def names(self, model: str) -> bool:
        """True when a rule's `when.models` lists `model` (not just `*`)."""
        return model in self._by_model

    def for_model(self, model: str) -> S:
        found = self._memo.get(model)
        if found is None:
            positions = sorted(self._any_model + self._by_model.get(model, ()))
            found = self._build(model, tuple(self._rules[p] for p in positions))
            if len(self._memo) >= self._cache_size:
                self._memo.clear()
            self._memo[model] = found
        return found
