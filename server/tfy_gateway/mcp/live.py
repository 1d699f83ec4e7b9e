"""Reads of live control-plane state shared by several tools (catalog, current config)."""

from __future__ import annotations

from typing import Any

from tfy_gateway.manifests import GATEWAY_CONFIG_TYPES, Catalog
from tfy_gateway.platform import ControlPlaneClient

MAX_TEXT = 200


def untrusted(text: Any, limit: int = MAX_TEXT) -> str:
    """Names coming from the gateway are data, not instructions: flatten and bound them."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def live_catalog(client: ControlPlaneClient) -> tuple[Catalog, list[dict[str, Any]]]:
    """The catalog of models defined by the control plane's provider accounts, and those accounts."""
    accounts = await client.list_provider_accounts()
    return Catalog.from_manifests(accounts), accounts


async def live_resource(client: ControlPlaneClient, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The live manifest the rendered one would replace (None when it would be created)."""
    manifest_type = str(manifest.get("type", ""))
    if manifest_type in GATEWAY_CONFIG_TYPES:
        return await client.get_config(manifest_type)
    if manifest_type.startswith("provider-account/"):
        accounts = await client.list_provider_accounts()
        for account in accounts:
            if account.get("name") == manifest.get("name") and account.get("type") == manifest_type:
                return account
        return None
    # Other resources (virtual accounts, teams): the dry run reports what exists.
    outcome = await client.apply(manifest, dry_run=True)
    return outcome.existing


LIMIT_AND_ROUTING_CONFIGS = ("gateway-load-balancing-config", "gateway-rate-limiting-config", "gateway-budget-config")
NAMED_LIMIT_TYPES = ("tenant-rate-limit-config/model", "tenant-budget-config", "team-budget-config")


async def live_manifests(client: ControlPlaneClient) -> list[dict[str, Any]]:
    """What a request's routing, access and limits depend on: provider accounts, the routing, rate-limit
    and budget configs, and the V2 limits (for simulating the live config in process)."""
    manifests = await client.list_provider_accounts()
    for kind in LIMIT_AND_ROUTING_CONFIGS:
        if (live := await client.get_config(kind)) is not None:
            manifests.append(live)
    for kind in NAMED_LIMIT_TYPES:
        manifests += await client.list_configs(kind)
    return manifests
