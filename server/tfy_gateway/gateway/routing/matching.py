"""`when` blocks compiled into matchers: frozensets and tuples, no manifest walking per request.

Fields are AND-combined, list entries OR-ed; a missing or empty list, or one containing `*`,
matches everything. `metadata` pairs must all be present with exactly those values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfy_gateway.gateway.routing.types import RouteRequest

if TYPE_CHECKING:
    from tfy_gateway.manifests.common import When


def _values(values: list[str] | None) -> frozenset[str] | None:
    """None means "matches all"."""
    if not values or "*" in values:
        return None
    return frozenset(values)


@dataclass(frozen=True)
class WhenMatcher:
    subjects: frozenset[str] | None = None
    models: frozenset[str] | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_when(cls, when: When | None) -> WhenMatcher:
        if when is None:
            return cls()
        return cls(
            _values(when.subjects),
            _values(when.models),
            tuple((str(k), str(v)) for k, v in (when.metadata or {}).items()),
        )

    def matches(self, request: RouteRequest) -> bool:
        if self.models is not None and request.model not in self.models:
            return False
        if self.subjects is not None and self.subjects.isdisjoint(request.subjects):
            return False
        return metadata_matches(self.metadata, request.metadata)

    def mismatch(self, request: RouteRequest) -> str | None:
        """Why `request` does not match (the first failing field), or None if it does. For explain."""
        if self.subjects is not None and self.subjects.isdisjoint(request.subjects):
            return f"subjects: none of {sorted(request.subjects)} is in {sorted(self.subjects)}"
        if self.models is not None and request.model not in self.models:
            return f"models: '{request.model}' is not in {sorted(self.models)}"
        return metadata_mismatch(self.metadata, request.metadata)

    def describe(self) -> str:
        """What the matcher accepts, for explain's "why it matched"."""
        parts = [
            "subjects: any" if self.subjects is None else f"subjects: one of {sorted(self.subjects)}",
            "models: any" if self.models is None else f"models: one of {sorted(self.models)}",
        ]
        if self.metadata:
            parts.append("metadata: " + ", ".join(f"{k}={v}" for k, v in self.metadata))
        return "; ".join(parts)


def metadata_matches(pairs: tuple[tuple[str, str], ...], metadata: Mapping[str, str]) -> bool:
    # A plain loop, not all(<generator>): called for every candidate rule of every request.
    for key, value in pairs:  # noqa: SIM110
        if metadata.get(key) != value:
            return False
    return True


def metadata_mismatch(pairs: tuple[tuple[str, str], ...], metadata: Mapping[str, str]) -> str | None:
    for key, value in pairs:
        if key not in metadata:
            return f"metadata: '{key}' is missing (wanted '{value}')"
        if metadata[key] != value:
            return f"metadata: '{key}' is '{metadata[key]}', wanted '{value}'"
    return None
