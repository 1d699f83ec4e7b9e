"""The in-memory view of every applied manifest, swapped atomically after each committed write.

Hot paths (routing, limits, model access) read `SnapshotHub.current` and never query SQLite. Other
components subscribe to be told about each new snapshot, e.g. the data plane compiles its routing
rules once per apply rather than once per request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.access import PROVIDER_ACCOUNT_PREFIX, ModelAccess, build_access
from tfy_gateway.gateway.store import ResourceRecord

logger = logging.getLogger(__name__)

ResourceKey = tuple[str, str]
Subscriber = Callable[["ConfigSnapshot"], None]


def _parse(manifest: Mapping[str, Any]) -> Any | None:
    """The typed model of a stored manifest, or None if it no longer parses (kept, not fatal)."""
    from tfy_gateway.manifests import ManifestError, parse_manifest

    try:
        return parse_manifest(dict(manifest))
    except ManifestError:
        return None


@dataclass(frozen=True)
class Resource:
    """A stored manifest with its metadata and typed model. Treat `manifest` as read-only."""

    record: ResourceRecord
    model: Any | None = None

    @property
    def key(self) -> ResourceKey:
        return (self.record.kind, self.record.name)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def type(self) -> str:
        return self.record.type

    @property
    def manifest(self) -> dict[str, Any]:
        return self.record.manifest


def parse_resource(record: ResourceRecord) -> Resource:
    return Resource(record, _parse(record.manifest))


@dataclass(frozen=True)
class ConfigSnapshot:
    """Every current resource, keyed by `manifest_key`, plus what is compiled from them."""

    version: int = 0
    resources: Mapping[ResourceKey, Resource] = field(default_factory=lambda: MappingProxyType({}))
    access: ModelAccess = field(default_factory=ModelAccess)

    def get(self, key: ResourceKey) -> Resource | None:
        return self.resources.get(key)

    def of_type_prefix(self, prefix: str) -> list[Resource]:
        """Resources whose type is `prefix` or starts with `prefix/`, in apply order."""
        return [
            resource
            for resource in self.resources.values()
            if resource.type == prefix or resource.type.startswith(prefix + "/")
        ]

    def gateway_config(self, config_type: str) -> Resource | None:
        return self.resources.get((config_type, config_type))

    def provider_accounts(self) -> list[Resource]:
        return [r for r in self.resources.values() if r.type.startswith(PROVIDER_ACCOUNT_PREFIX)]

    def manifests(self) -> list[dict[str, Any]]:
        return [resource.manifest for resource in self.resources.values()]


def build_snapshot(records: Iterable[ResourceRecord | Resource], *, version: int, tenant: str) -> ConfigSnapshot:
    """Build a snapshot; `Resource`s are reused as they are (their models are already parsed)."""
    resources: dict[ResourceKey, Resource] = {}
    for item in records:
        resource = item if isinstance(item, Resource) else parse_resource(item)
        resources[resource.key] = resource
    access = build_access((r.manifest for r in resources.values()), tenant)
    return ConfigSnapshot(version=version, resources=MappingProxyType(resources), access=access)


class SnapshotHub:
    """Holds the current snapshot and tells subscribers about each new one."""

    def __init__(self, snapshot: ConfigSnapshot | None = None):
        self._current = snapshot or ConfigSnapshot()
        self._subscribers: list[Subscriber] = []

    @property
    def current(self) -> ConfigSnapshot:
        return self._current

    @property
    def version(self) -> int:
        return self._current.version

    def subscribe(self, callback: Subscriber, *, replay: bool = True) -> Callable[[], None]:
        """Call `callback(snapshot)` after every swap (and now, if `replay`). Returns an unsubscribe."""
        self._subscribers.append(callback)
        if replay:
            self._notify(callback, self._current)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, snapshot: ConfigSnapshot) -> None:
        """Swap in `snapshot`, then notify subscribers; a failing subscriber is logged, not fatal."""
        self._current = snapshot
        for callback in list(self._subscribers):
            self._notify(callback, snapshot)

    def replace(self, changes: Mapping[ResourceKey, Resource | None], *, tenant: str) -> ConfigSnapshot:
        """Publish the current snapshot with `changes` applied (None deletes) and a new version."""
        resources = dict(self._current.resources)
        for key, resource in changes.items():
            if resource is None:
                resources.pop(key, None)
            else:
                resources[key] = resource
        snapshot = build_snapshot(resources.values(), version=self._current.version + 1, tenant=tenant)
        self.publish(snapshot)
        return snapshot

    @staticmethod
    def _notify(callback: Subscriber, snapshot: ConfigSnapshot) -> None:
        try:
            callback(snapshot)
        except Exception:
            logger.exception("snapshot subscriber %r failed on version %d", callback, snapshot.version)
