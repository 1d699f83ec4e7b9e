"""The models a manifest may route to: from manifests in the same run, or a live control plane."""

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


@dataclass
class Catalog:
    """Model ids (`<account>/<integration>`) known to exist, and the provider accounts that define them."""

    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)

    @classmethod
    def from_manifests(cls, manifests: Iterable[Any]) -> Catalog:
        """Lenient on purpose: a half-valid provider account still tells us which models it names."""
        catalog = cls()
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

    def merged(self, other: Catalog | None) -> Catalog:
        """This catalog over `other` (the live one): an account defined here replaces its namesake there
        whole, as applying it would, and every other account there is kept."""
        if other is None:
            return self
        kept = {key: entry for key, entry in other.entries.items() if entry.account not in self.accounts}
        return Catalog({**kept, **self.entries}, self.accounts | other.accounts)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.entries

    def get(self, model_id: str) -> CatalogEntry | None:
        return self.entries.get(model_id)

    def __len__(self) -> int:
        return len(self.entries)
