"""The in-memory view of every applied manifest: the input of a `CompiledConfig`.

Hot paths (routing, limits, model access) read it through `ConfigHub.current` and never query
SQLite; a new snapshot is built (off the event loop) for each committed write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.access import PROVIDER_ACCOUNT_PREFIX, ModelAccess, build_access
from tfy_gateway.gateway.store import ResourceRecord
from tfy_gateway.manifests.budgets_v2 import TeamBudgetConfig, TenantBudgetConfig
from tfy_gateway.manifests.limits import BudgetConfig, RateLimitConfig
from tfy_gateway.manifests.providers import ProviderAccount
from tfy_gateway.manifests.rate_limits_v2 import ModelRateLimitConfig
from tfy_gateway.manifests.registry import AnyManifest
from tfy_gateway.manifests.routing import LoadBalancingConfig

logger = logging.getLogger(__name__)

ResourceKey = tuple[str, str]


def _parse(manifest: Mapping[str, Any]) -> AnyManifest | None:
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
    model: AnyManifest | None = None

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

    # --- typed models: what compilers read (a field renamed in a model is a type error there) -----

    def load_balancing(self) -> LoadBalancingConfig | None:
        found = self._parsed(self.gateway_config("gateway-load-balancing-config"))
        return next((m for m in found if isinstance(m, LoadBalancingConfig)), None)

    def rate_limiting(self) -> RateLimitConfig | None:
        found = self._parsed(self.gateway_config("gateway-rate-limiting-config"))
        return next((m for m in found if isinstance(m, RateLimitConfig)), None)

    def budgeting(self) -> BudgetConfig | None:
        found = self._parsed(self.gateway_config("gateway-budget-config"))
        return next((m for m in found if isinstance(m, BudgetConfig)), None)

    def model_rate_limits(self) -> list[ModelRateLimitConfig]:
        """The V2 `tenant-rate-limit-config/model` limits, in apply order."""
        found = self._parsed(*self.of_type_prefix("tenant-rate-limit-config/model"))
        return [m for m in found if isinstance(m, ModelRateLimitConfig)]

    def budgets_v2(self) -> list[TenantBudgetConfig | TeamBudgetConfig]:
        """The V2 tenant and team budgets, in apply order."""
        found = self._parsed(*self.of_type_prefix("tenant-budget-config"), *self.of_type_prefix("team-budget-config"))
        return [m for m in found if isinstance(m, (TenantBudgetConfig, TeamBudgetConfig))]

    def provider_account_models(self) -> list[ProviderAccount]:
        """Every provider account (virtual-model groups included), in apply order."""
        return [m for m in self._parsed(*self.provider_accounts()) if isinstance(m, ProviderAccount)]

    @staticmethod
    def _parsed(*resources: Resource | None) -> list[AnyManifest]:
        """The models of `resources`; one that no longer parses is logged and left out."""
        models: list[AnyManifest] = []
        for resource in resources:
            if resource is None:
                continue
            if resource.model is None:
                logger.warning("the stored %s '%s' no longer parses; it is ignored", resource.type, resource.name)
            else:
                models.append(resource.model)
        return models


def build_snapshot(records: Iterable[ResourceRecord | Resource], *, version: int, tenant: str) -> ConfigSnapshot:
    """Build a snapshot; `Resource`s are reused as they are (their models are already parsed)."""
    resources: dict[ResourceKey, Resource] = {}
    for item in records:
        resource = item if isinstance(item, Resource) else parse_resource(item)
        resources[resource.key] = resource
    access = build_access((r.model for r in resources.values() if r.model is not None), tenant)
    return ConfigSnapshot(version=version, resources=MappingProxyType(resources), access=access)
