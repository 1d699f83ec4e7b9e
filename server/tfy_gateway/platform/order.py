"""The order in which `tfy apply` applies documents, and what a document depends on.

The CLI sorts resources by dependency waves from the server, then by base type in a fixed order, so
provider accounts exist before the configs that route to them (truefoundry 0.17.5:
deploy/lib/dao/apply.py, `BASE_MANIFEST_TYPE_ORDER`). Without the server's dependency tree the type
order alone already puts every gateway resource after what it uses; a stable sort keeps file order
within a type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

BASE_TYPE_ORDER: tuple[str, ...] = (
    "team",
    "provider-account",
    "environment",
    "cluster",
    "ml-repo",
    "workspace",
    "service",
    "job",
    "helm",
    "notebook",
    "rstudio",
    "volume",
    "workflow",
    "async-service",
    "application-set",
    "ssh-server",
    "spark-job",
    "secret-group",
    "tracing-project",
    "mcp-server",
    "agent-skill",
    "agent",
    "policy",
    "role",
    "virtual-account",
    "gateway-guardrails-config",
    "gateway-rate-limiting-config",
    "gateway-global-settings",
    "gateway-fallback-config",
    "gateway-load-balancing-config",
    "gateway-budget-config",
    "gateway-data-access-config",
    "gateway-otel-config",
    "gateway-data-routing-config",
    "gateway-installation",
    "settings",
    "alert-config",
)
"""Exactly truefoundry 0.17.5's list. The V2 limit configs (`tenant-rate-limit-config/*`,
`tenant-budget-config`, `team-budget-config`) are not in it: like `tfy apply`, they rank as unknown
types, after every listed one, so the teams and virtual accounts they name are applied first."""


def type_priority(type_: Any) -> int:
    """Rank of a manifest type (`provider-account/openai` ranks as `provider-account`); unknown last."""
    base = type_.split("/")[0] if isinstance(type_, str) else ""
    try:
        return BASE_TYPE_ORDER.index(base)
    except ValueError:
        return len(BASE_TYPE_ORDER)


def sort_for_apply(items: Iterable[T], manifest_of: Callable[[T], dict[str, Any]]) -> list[T]:
    """Items in the CLI's apply order (stable: file order within one type)."""
    return sorted(items, key=lambda item: type_priority(manifest_of(item).get("type")))


def sort_for_delete(items: Iterable[T], manifest_of: Callable[[T], dict[str, Any]]) -> list[T]:
    """The reverse of the apply order: users of a resource go before the resource itself."""
    return list(reversed(sort_for_apply(items, manifest_of)))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def integration_references(manifest: dict[str, Any], account_names: Iterable[str]) -> list[str]:
    """`<account>/<integration>` strings in `manifest` that point into one of `account_names`.

    Used for the dry-run rule of the CLI: a config that routes to a model created by the same apply
    cannot be validated before that model exists, so its dry run is skipped.
    """
    accounts = set(account_names)
    found: list[str] = []
    own_name = manifest.get("name") if str(manifest.get("type", "")).startswith("provider-account/") else None
    for text in _strings({k: v for k, v in manifest.items() if k not in ("name", "type")}):
        account, sep, integration = text.rpartition("/")
        if sep and integration and account in accounts and account != own_name and text not in found:
            found.append(text)
    return found


def integration_names(manifest: dict[str, Any] | None) -> set[str]:
    """Names of the integrations (models, guardrails...) a provider-account manifest declares."""
    if not manifest:
        return set()
    return {
        item["name"]
        for item in manifest.get("integrations") or []
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }


class BatchAccounts:
    """Provider accounts in one batch of manifests and, once each is applied (or dry-run), the
    integrations it already had.

    Mirrors the tfy CLI's dry-run rule: a document that uses an integration created by the same batch
    cannot be checked by a dry run (the integration does not exist yet). The CLI skips such dry runs;
    the MCP plan diffs them against the live resource instead.
    """

    def __init__(self, manifests: Iterable[dict[str, Any]]) -> None:
        self.declared = {
            str(m["name"]): integration_names(m)
            for m in manifests
            if str(m.get("type", "")).startswith("provider-account/") and m.get("name")
        }
        self.existing: dict[str, set[str]] = {}

    def created_by_this_apply(self, manifest: dict[str, Any]) -> list[str]:
        """The `<account>/<integration>` references of `manifest` that earlier documents create."""
        created = []
        for reference in integration_references(manifest, self.declared):
            account, _, integration = reference.rpartition("/")
            already = self.existing.get(account)
            if integration in self.declared[account] and (already is None or integration not in already):
                created.append(reference)
        return created

    def record(self, manifest: dict[str, Any], existing: dict[str, Any] | None) -> None:
        """`manifest` went through: remember which of its account's integrations existed before."""
        name = manifest.get("name")
        if str(manifest.get("type", "")).startswith("provider-account/") and name in self.declared:
            self.existing[str(name)] = integration_names(existing)
