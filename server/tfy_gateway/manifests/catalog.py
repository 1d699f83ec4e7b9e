"""What a manifest may reference: models to route to, guardrails to run; from manifests in the same
run, or a live control plane."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CatalogEntry:
    account: str
    integration: str
    account_type: str
    model_types: tuple[str, ...] = ()
    virtual: bool = False

    @property
    def id(self) -> str:
        return f"{self.account}/{self.integration}"


GUARDRAIL_GROUP_TYPE = "provider-account/guardrail-config-group"


@dataclass(frozen=True)
class GuardrailEntry:
    """One integration of a guardrail group, as far as rules that reference it care."""

    group: str
    name: str
    type: str  # the part after integration/guardrail-config/, e.g. tfy-pii
    target: str | None = None  # custom guardrails: request or response

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


@dataclass
class Catalog:
    """Model ids (`<account>/<integration>`) and guardrail ids (`<group>/<integration>`) known to exist,
    and the provider accounts (guardrail groups included) that define them.

    `complete`: this is everything there is (the gateway's own store), so a reference to anything
    else is an error even when nothing of its kind exists yet.
    """

    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)
    guardrails: dict[str, GuardrailEntry] = field(default_factory=dict)
    complete: bool = False

    @classmethod
    def from_manifests(cls, manifests: Iterable[Any], *, complete: bool = False) -> Catalog:
        """Lenient on purpose: a half-valid provider account still tells us which models it names."""
        catalog = cls(complete=complete)
        for manifest in manifests:
            catalog.add_manifest(manifest)
        return catalog

    def add_manifest(self, manifest: Any) -> None:
        if not isinstance(manifest, dict):
            return
        account_type = manifest.get("type")
        account = manifest.get("name")
        if not isinstance(account_type, str) or not account_type.startswith("provider-account/"):
            return
        if not isinstance(account, str):
            return
        self.accounts.add(account)
        if account_type == GUARDRAIL_GROUP_TYPE:
            self._add_guardrails(account, manifest.get("integrations"))
            return
        for integration in manifest.get("integrations") or []:
            if not isinstance(integration, dict) or not isinstance(integration.get("name"), str):
                continue
            types = integration.get("model_types")
            entry = CatalogEntry(
                account=account,
                integration=integration["name"],
                account_type=account_type,
                model_types=tuple(str(t) for t in types) if isinstance(types, list) else (),
                virtual=account_type == "provider-account/virtual-model",
            )
            self.entries[entry.id] = entry

    def _add_guardrails(self, group: str, integrations: Any) -> None:
        for integration in integrations if isinstance(integrations, list) else ():
            if not isinstance(integration, dict) or not isinstance(integration.get("name"), str):
                continue
            kind = str(integration.get("type", "")).rpartition("/")[2]
            target = integration.get("target")
            entry = GuardrailEntry(group, integration["name"], kind, target if isinstance(target, str) else None)
            self.guardrails[entry.id] = entry

    def knows_guardrails(self) -> bool:
        """Whether guardrail references can be checked against this catalog."""
        return self.complete or bool(self.guardrails)

    def merged(self, other: Catalog | None) -> Catalog:
        """This catalog over `other` (the live one): an account defined here replaces its namesake there
        whole, as applying it would, and every other account there is kept."""
        if other is None:
            return self
        kept = {key: entry for key, entry in other.entries.items() if entry.account not in self.accounts}
        guards = {key: entry for key, entry in other.guardrails.items() if entry.group not in self.accounts}
        return Catalog(
            {**kept, **self.entries},
            self.accounts | other.accounts,
            {**guards, **self.guardrails},
            complete=self.complete or other.complete,
        )

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.entries

    def get(self, model_id: str) -> CatalogEntry | None:
        return self.entries.get(model_id)

    def __len__(self) -> int:
        return len(self.entries)
