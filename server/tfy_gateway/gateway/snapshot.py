"""The in-memory view of every applied manifest: the input of a `CompiledConfig`.

Hot paths (routing, limits, model access) read it through `ConfigHub.current` and never query
SQLite; a new snapshot is built (off the event loop) for each committed write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.access import PROVIDER_ACCOUNT_PREFIX, ModelAccess, build_access
from tfy_gateway.gateway.store import ResourceRecord

ResourceKey = tuple[str, str]


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
