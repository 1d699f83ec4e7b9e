"""Upstream targets and prices per model id: the catalog part of a compiled config.

Everything a request needs about `<account>/<integration>` is looked up here with one dict access:
the adapter target (credentials resolved at build time), its pricing, or why it cannot be called
(e.g. a `tfy-secret://` reference with no value), which becomes a clear 5xx naming the problem.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from tfy_gateway.gateway.accounting import UNPRICED, ModelPricing, PriceTable, pricing_for
from tfy_gateway.gateway.providers import (
    ProviderConfigError,
    SecretError,
    SecretResolver,
    UpstreamTarget,
    target_for,
)
from tfy_gateway.gateway.providers.offline import offline_target
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.manifests.providers import Integration, VirtualModelAccount

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogEntry:
    """One callable model: a target, or the reason it has none (`problem`, safe to show)."""

    model: str
    provider: str
    target: UpstreamTarget | None
    pricing: ModelPricing = UNPRICED
    problem: str | None = None


@dataclass(frozen=True)
class ModelCatalog:
    version: int
    entries: Mapping[str, CatalogEntry]

    def get(self, model: str) -> CatalogEntry | None:
        return self.entries.get(model)


EMPTY_CATALOG = ModelCatalog(0, MappingProxyType({}))


def build_catalog(
    snapshot: ConfigSnapshot, secrets: SecretResolver, prices: PriceTable, offline_upstream: str | None = None
) -> ModelCatalog:
    """Targets for every integration of every (non-virtual) provider account in `snapshot`; with
    `offline_upstream`, every target is that fake provider (see providers/offline.py)."""
    entries: dict[str, CatalogEntry] = {}
    for account in snapshot.provider_account_models():
        if isinstance(account, VirtualModelAccount):
            continue
        provider = account.type.split("/", 1)[-1]
        integrations: Sequence[Integration] = account.integrations or ()
        for integration in integrations:
            model = f"{account.name}/{integration.name}"
            pricing = pricing_for(account, integration, prices)
            try:
                target = target_for(account, integration, secrets)
            except (ProviderConfigError, SecretError) as exc:
                # The message names the field or the secret reference, never a secret value.
                logger.warning("model %s cannot be called: %s", model, exc)
                entries[model] = CatalogEntry(model, provider, None, pricing, str(exc))
                continue
            if offline_upstream:
                target = offline_target(target, offline_upstream)
            entries[model] = CatalogEntry(model, provider, target, pricing)
    return ModelCatalog(snapshot.version, MappingProxyType(entries))


def load_secrets(data_dir: Path, placeholder: str | None = None) -> SecretResolver:
    """The secret resolver for `data_dir`; a broken secrets file leaves env-only resolution.
    `placeholder`: the value of a secret that has none (offline)."""
    try:
        return SecretResolver.from_data_dir(data_dir, placeholder=placeholder)
    except SecretError as exc:
        logger.error("secrets file ignored: %s", exc)
        return SecretResolver(placeholder=placeholder)
