"""Runtime memos of compiled values, owned by the objects that ask (the `Router`, the `Limiter`).

A compiled config is immutable and shared by every request of its version; what is worth
remembering about it between requests (the rules per requested model, a rule's static ranking, a
limiter's plan per request shape) lives here instead, keyed by the compiled value's identity and
held weakly: a config that is no longer current, once its last request is done, takes its memo with
it. The last value asked about is checked first, so the per-request cost is a weakref call and a
comparison.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from tfy_gateway.gateway.routing.rule_index import HasWhen, ModelIndex

C = TypeVar("C")
R = TypeVar("R", bound=HasWhen)
M = TypeVar("M")
S = TypeVar("S")


class ConfigMemo(Generic[C, M]):
    """`make(compiled)` once per compiled value (compared by identity), kept while that value lives.

    `make` must not keep a reference to `compiled` itself (its parts are fine): the memo would keep
    the value alive. Compiled values are hashed by identity (`eq=False` dataclasses).
    """

    __slots__ = ("_all", "_last", "_last_memo", "_make")

    def __init__(self, make: Callable[[C], M]) -> None:
        self._make = make
        self._all: weakref.WeakKeyDictionary[C, M] = weakref.WeakKeyDictionary()
        self._last: weakref.ref[C] | None = None
        self._last_memo: M | None = None

    def of(self, compiled: C) -> M:
        last = self._last
        if last is not None and last() is compiled and self._last_memo is not None:
            return self._last_memo
        memo = self._all.get(compiled)
        if memo is None:
            memo = self._all[compiled] = self._make(compiled)
        self._last, self._last_memo = weakref.ref(compiled), memo
        return memo

    def __len__(self) -> int:
        """How many compiled values have a memo (for tests: old configs let theirs go)."""
        return len(self._all)


class ModelMemo(Generic[R, S]):
    """`build(model, index.select(model))` per requested model, remembered; cleared when `size`
    models are remembered (requested model names come from callers, so the memo must be bounded)."""

    __slots__ = ("_build", "_index", "_memo", "_size")

    def __init__(self, index: ModelIndex[R], build: Callable[[str, tuple[R, ...]], S], size: int) -> None:
        self._index = index
        self._build = build
        self._size = size
        self._memo: dict[str, S] = {}

    def get(self, model: str) -> S:
        found = self._memo.get(model)
        if found is None:
            found = self._build(model, self._index.select(model))
            if len(self._memo) >= self._size:
                self._memo.clear()
            self._memo[model] = found
        return found
