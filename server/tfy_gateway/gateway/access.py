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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.auth import Principal

PROVIDER_ACCOUNT_PREFIX = "provider-account/"
VIRTUAL_ACCOUNT_TYPE = "virtual-account"


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


def _subjects(items: Iterable[Any] | None, key: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in items or ():
        value = item.get(key) if key and isinstance(item, Mapping) else item
        if isinstance(value, str) and value:
            found.add(value)
    return found


def build_access(manifests: Iterable[Mapping[str, Any]], tenant: str) -> ModelAccess:
    """Compile model entries and virtual-account grants from raw manifests."""
    manifests = list(manifests)
    models: dict[str, ModelEntry] = {}
    by_account: dict[str, list[str]] = {}
    aliases: dict[str, str] = {}  # any accepted model name form -> model id
    account_aliases: dict[str, str] = {}
    for manifest in manifests:
        account_type = str(manifest.get("type", ""))
        if not account_type.startswith(PROVIDER_ACCOUNT_PREFIX):
            continue
        account = str(manifest.get("name", ""))
        fqn = account_fqn(tenant, manifest)
        account_aliases[account] = account_aliases[fqn] = account
        account_subjects = _subjects(manifest.get("collaborators"), "subject")
        for integration in manifest.get("integrations") or ():
            if not isinstance(integration, Mapping) or not integration.get("name"):
                continue
            name = str(integration["name"])
            model_id = f"{account}/{name}"
            subjects = account_subjects | _subjects(integration.get("authorized_subjects"))
            models[model_id] = ModelEntry(
                id=model_id,
                account=account,
                integration=name,
                provider=provider_of(account_type),
                fqn=f"{fqn}:{name}",
                model_types=tuple(str(t) for t in integration.get("model_types") or ()),
                subjects=frozenset(subjects),
            )
            by_account.setdefault(account, []).append(model_id)
            aliases[model_id] = aliases[f"{fqn}:{name}"] = model_id

    grants: dict[str, frozenset[str]] = {}
    for manifest in manifests:
        if manifest.get("type") != VIRTUAL_ACCOUNT_TYPE:
            continue
        granted: set[str] = set()
        for permission in manifest.get("permissions") or ():
            if not isinstance(permission, Mapping):
                continue
            resource_type = permission.get("resource_type")
            resource_fqn = str(permission.get("resource_fqn", ""))
            if resource_type == "model" and resource_fqn in aliases:
                granted.add(aliases[resource_fqn])
            elif resource_type == "provider-account" and resource_fqn in account_aliases:
                granted.update(by_account.get(account_aliases[resource_fqn], ()))
        grants[str(manifest.get("name", ""))] = frozenset(granted)
    return ModelAccess(MappingProxyType(models), MappingProxyType(grants))
