"""The in-memory view of the control-plane store: the input of a `CompiledConfig`, and `Change`, a delta.

A snapshot holds every applied manifest, every user and every token record (hashes only), so that
configuration and identities are one value: a request authenticates and routes against the same
version. Hot paths read it through `ConfigHub.current` and never query the database. Every write is
planned as a `Change` against the latest snapshot, written to the store in one transaction
(`Change.write`) and turned into the next snapshot (`ConfigSnapshot.with_change`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from tfy_gateway.gateway.access import PROVIDER_ACCOUNT_PREFIX, ModelAccess, build_access
from tfy_gateway.gateway.store import ResourceRecord, TokenRecord, Transaction, UserRecord, utc_now
from tfy_gateway.manifests.budgets_v2 import TeamBudgetConfig, TenantBudgetConfig
from tfy_gateway.manifests.common import GUARDRAIL_GROUP_TYPE
from tfy_gateway.manifests.global_settings import GlobalSettings
from tfy_gateway.manifests.guardrails import GuardrailsConfig
from tfy_gateway.manifests.limits import BudgetConfig, RateLimitConfig
from tfy_gateway.manifests.otel import OtelConfig
from tfy_gateway.manifests.providers import ProviderAccount
from tfy_gateway.manifests.rate_limits_v2 import ModelRateLimitConfig
from tfy_gateway.manifests.registry import AnyManifest
from tfy_gateway.manifests.routing import LoadBalancingConfig

if TYPE_CHECKING:
    from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup

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
    users: Mapping[str, UserRecord] = field(default_factory=lambda: MappingProxyType({}))  # by email
    tokens: Mapping[str, TokenRecord] = field(default_factory=lambda: MappingProxyType({}))  # by id
    tenant: str = ""

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

    def tokens_of(self, owner_kind: str, owner: str) -> list[TokenRecord]:
        """The tokens of one user (`"user"`, email) or virtual account (`"virtualaccount"`, name), oldest first."""
        found = [t for t in self.tokens.values() if t.owner_kind == owner_kind and t.owner == owner]
        return sorted(found, key=lambda t: (t.created_at, t.id))

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

    def otel(self) -> OtelConfig | None:
        found = self._parsed(self.gateway_config("gateway-otel-config"))
        return next((m for m in found if isinstance(m, OtelConfig)), None)

    def model_rate_limits(self) -> list[ModelRateLimitConfig]:
        """The V2 `tenant-rate-limit-config/model` limits, in apply order."""
        found = self._parsed(*self.of_type_prefix("tenant-rate-limit-config/model"))
        return [m for m in found if isinstance(m, ModelRateLimitConfig)]

    def budgets_v2(self) -> list[TenantBudgetConfig | TeamBudgetConfig]:
        """The V2 tenant and team budgets, in apply order."""
        found = self._parsed(*self.of_type_prefix("tenant-budget-config"), *self.of_type_prefix("team-budget-config"))
        return [m for m in found if isinstance(m, (TenantBudgetConfig, TeamBudgetConfig))]

    def guardrail_rules(self) -> GuardrailsConfig | None:
        found = self._parsed(self.gateway_config("gateway-guardrails-config"))
        return next((m for m in found if isinstance(m, GuardrailsConfig)), None)

    def guardrail_groups(self) -> list[GuardrailConfigGroup]:
        """The `provider-account/guardrail-config-group`s, in apply order."""
        groups = [r for r in self.provider_accounts() if r.type == GUARDRAIL_GROUP_TYPE]
        if not groups:
            return []
        from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup  # with the first group

        return [m for m in self._parsed(*groups) if isinstance(m, GuardrailConfigGroup)]

    def global_settings(self) -> GlobalSettings | None:
        found = self._parsed(self.gateway_config("gateway-global-settings"))
        return next((m for m in found if isinstance(m, GlobalSettings)), None)

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

    def with_change(self, change: Change, *, version: int) -> ConfigSnapshot:
        """The snapshot after `change`; resources (and the access built from them) are reused when
        the change touches none, so a token write costs no re-parse of the configuration."""
        resources: Mapping[ResourceKey, Resource] = self.resources
        access = self.access
        if change.resources:
            updated = dict(self.resources)
            for key, resource in change.resources.items():
                if resource is None:
                    updated.pop(key, None)
                else:
                    updated[key] = resource
            resources = MappingProxyType(updated)
            access = _access(updated.values(), self.tenant)
        users = _merged(self.users, change.users)
        tokens = _merged(self.tokens, change.tokens)
        return ConfigSnapshot(version, resources, access, users, tokens, self.tenant)


Item = TypeVar("Item")


def _merged(current: Mapping[str, Item], changes: Mapping[str, Item | None]) -> Mapping[str, Item]:
    if not changes:
        return current
    updated = dict(current)
    for key, item in changes.items():
        if item is None:
            updated.pop(key, None)
        else:
            updated[key] = item
    return MappingProxyType(updated)


@dataclass(frozen=True)
class Change:
    """One planned write: resources by key, users by email, tokens by id (None deletes).

    Planned against a snapshot, so every check (names taken, tokens owned, models routed to) reads
    memory; the transaction that writes it expects the store to be at the version that snapshot was
    loaded from, so a change planned on stale data never lands. `author`: who asked for it (a subject,
    kept in the resources' version history; None when unknown).
    """

    resources: Mapping[ResourceKey, Resource | None] = field(default_factory=dict)
    users: Mapping[str, UserRecord | None] = field(default_factory=dict)
    tokens: Mapping[str, TokenRecord | None] = field(default_factory=dict)
    author: str | None = None

    def __or__(self, other: Change) -> Change:
        return Change(
            {**self.resources, **other.resources},
            {**self.users, **other.users},
            {**self.tokens, **other.tokens},
            self.author or other.author,
        )

    def write(self, tx: Transaction) -> None:
        """Apply the change inside `tx` (the caller's transaction commits it or nothing), and append
        each resource's new version to its history in the same transaction."""
        now = utc_now()
        for key, resource in self.resources.items():
            if resource is None:
                deleted_type = tx.remove_resource(*key)
                if deleted_type is not None:
                    tx.append_history(*key, deleted_type, None, self.author, now)
            else:
                text = orjson.dumps(resource.record.manifest).decode()  # serialized once for both rows
                tx.upsert_resource(resource.record, manifest_json=text)
                tx.append_history(*key, resource.type, text, self.author, now)
        for email, user in self.users.items():
            if user is None:
                tx.delete_user(email)
            else:
                tx.upsert_user(user)
        for token_id, token in self.tokens.items():
            if token is None:
                tx.delete_token(token_id)
            else:
                tx.upsert_token(token)


def build_snapshot(
    records: Iterable[ResourceRecord | Resource],
    *,
    version: int,
    tenant: str,
    users: Iterable[UserRecord] = (),
    tokens: Iterable[TokenRecord] = (),
) -> ConfigSnapshot:
    """Build a snapshot; `Resource`s are reused as they are (their models are already parsed)."""
    resources: dict[ResourceKey, Resource] = {}
    for item in records:
        resource = item if isinstance(item, Resource) else parse_resource(item)
        resources[resource.key] = resource
    access = _access(resources.values(), tenant)
    return ConfigSnapshot(
        version=version,
        resources=MappingProxyType(resources),
        access=access,
        users=MappingProxyType({user.email: user for user in users}),
        tokens=MappingProxyType({token.id: token for token in tokens}),
        tenant=tenant,
    )


def _access(resources: Iterable[Resource], tenant: str) -> ModelAccess:
    """Model access from the parsed models (a resource that no longer parses grants nothing)."""
    return build_access((r.model for r in resources if r.model is not None), tenant)
