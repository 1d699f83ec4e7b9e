"""Which models a principal may call, compiled from the manifests once per snapshot.

Rules (the platform's, where documented; our decisions where not):
- A tenant admin may use every model.
- A user (PAT) may use a model when one of its subjects (`user:<email>`, `team:<t>`, `team:everyone`)
  is a `collaborators[].subject` of the model's provider account (any role_id), or is listed in the
  integration's `authorized_subjects`.
- A virtual account may use only what its manifest grants in `permissions`:
  - `resource_type: model`, `resource_fqn: "<account>/<integration>"` (the data-plane model id) or
    the integration fqn `"<tenant>:<provider>:<account>:<integration>"`: that one model;
  - `resource_type: provider-account`, `resource_fqn: "<account>"` or the account fqn
    `"<tenant>:<provider>:<account>"`: every model of that account.
  The role_id is not interpreted (any role grants use). Grants naming unknown models grant nothing.
  Provider-account collaborators and `authorized_subjects` naming `virtualaccount:<name>` also count.
A model id is `<provider-account name>/<integration name>`, for virtual models too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.manifests.accounts import VirtualAccount
from tfy_gateway.manifests.providers import Integration, ProviderAccount, VirtualModel
from tfy_gateway.manifests.registry import AnyManifest

PROVIDER_ACCOUNT_PREFIX = "provider-account/"


def provider_of(account_type: str) -> str:
    """`provider-account/openai` -> `openai`."""
    return account_type.split("/", 1)[1] if "/" in account_type else account_type


def account_fqn(tenant: str, manifest: Mapping[str, Any]) -> str:
    return f"{tenant}:{provider_of(str(manifest.get('type', '')))}:{manifest.get('name', '')}"


@dataclass(frozen=True)
class ModelEntry:
    """One callable model: `<account>/<integration>`."""

    id: str
    account: str
    integration: str
    provider: str
    fqn: str
    model_types: tuple[str, ...]
    subjects: frozenset[str]  # account collaborators + integration authorized_subjects


@dataclass(frozen=True)
class ModelAccess:
    """Compiled access: set lookups only, no manifest walking per request."""

    models: Mapping[str, ModelEntry] = field(default_factory=lambda: MappingProxyType({}))
    grants: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))

    def allows(self, principal: Principal, model: str) -> bool:
        entry = self.models.get(model)
        if entry is None:
            return False
        if principal.is_admin:
            return True
        if principal.kind == "virtualaccount" and model in self.grants.get(principal.name, frozenset()):
            return True
        return not entry.subjects.isdisjoint(principal.subjects)

    def visible(self, principal: Principal) -> list[ModelEntry]:
        """The models `principal` may call, in manifest order."""
        return [entry for model, entry in self.models.items() if self.allows(principal, model)]


def _authorized(integration: Integration) -> list[str]:
    """The integration's `authorized_subjects` (a virtual model has none of its own)."""
    return [] if isinstance(integration, VirtualModel) else integration.authorized_subjects or []


def build_access(models: Iterable[AnyManifest], tenant: str) -> ModelAccess:
    """Compile model entries and virtual-account grants from the typed manifests."""
    models = list(models)
    entries: dict[str, ModelEntry] = {}
    by_account: dict[str, list[str]] = {}
    aliases: dict[str, str] = {}  # any accepted model name form -> model id
    account_aliases: dict[str, str] = {}
    for account in models:
        if not isinstance(account, ProviderAccount):
            continue
        fqn = f"{tenant}:{provider_of(account.type)}:{account.name}"
        account_aliases[account.name] = account_aliases[fqn] = account.name
        account_subjects = {c.subject for c in account.collaborators or () if c.subject}
        integrations: Sequence[Integration] = account.integrations or ()
        for integration in integrations:
            name = integration.name
            model_id = f"{account.name}/{name}"
            subjects = account_subjects | {s for s in _authorized(integration) if s}
            entries[model_id] = ModelEntry(
                id=model_id,
                account=account.name,
                integration=name,
                provider=provider_of(account.type),
                fqn=f"{fqn}:{name}",
                model_types=tuple(integration.model_types or ()),
                subjects=frozenset(subjects),
            )
            by_account.setdefault(account.name, []).append(model_id)
            aliases[model_id] = aliases[f"{fqn}:{name}"] = model_id

    grants: dict[str, frozenset[str]] = {}
    for virtual_account in models:
        if not isinstance(virtual_account, VirtualAccount):
            continue
        granted: set[str] = set()
        for permission in virtual_account.permissions or ():
            resource_fqn = permission.resource_fqn
            if permission.resource_type == "model" and resource_fqn in aliases:
                granted.add(aliases[resource_fqn])
            elif permission.resource_type == "provider-account" and resource_fqn in account_aliases:
                granted.update(by_account.get(account_aliases[resource_fqn], ()))
        grants[virtual_account.name] = frozenset(granted)
    return ModelAccess(MappingProxyType(entries), MappingProxyType(grants))
