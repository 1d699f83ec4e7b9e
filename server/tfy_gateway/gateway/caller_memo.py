"""`CallerMemo`: values worked out once per request caller, found by identity.

A request's principal (from the identities snapshot) and its parsed `x-tfy-*` metadata are the same
objects for every request that sends the same token and headers, so what depends only on them (and a
few hashable values besides) can be kept under their ids. Each entry holds the two objects and a hit
checks them by identity, so an id is never another object's while its entry is kept.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class CallerMemo(Generic[V]):
    """(principal, metadata, `extra`) -> a value; cleared when `limit` entries are kept."""

    __slots__ = ("_found", "_limit")

    def __init__(self, limit: int) -> None:
        self._found: dict[tuple[int, int, Hashable], tuple[object, object, V]] = {}
        self._limit = limit

    def get(self, principal: object, metadata: object, extra: Hashable) -> V | None:
        known = self._found.get((id(principal), id(metadata), extra))
        if known is not None and known[0] is principal and known[1] is metadata:
            return known[2]
        return None

    def put(self, principal: object, metadata: object, extra: Hashable, value: V) -> None:
        if len(self._found) >= self._limit:
            self._found.clear()
        self._found[(id(principal), id(metadata), extra)] = (principal, metadata, value)

    def __len__(self) -> int:
        return len(self._found)
