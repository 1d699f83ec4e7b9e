"""`tfy-gateway get`: print what the control plane holds now, for every type it stores.

`get <gateway-config-type>` prints the applied manifest of that singleton config, ready to edit and
re-apply; a V2 limit type (tenant-budget-config, tenant-rate-limit-config/model...), `provider-account`
(or one provider type, e.g. `provider-account/openai`), `virtual-account` and `team` print every
applied manifest of that type, one YAML document each (what `apply -f` and `tfy apply -f` take back);
`models` lists what requests can be routed to.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from typing import Any

import anyio
import yaml

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, settings_from_env
from tfy_gateway.cli._output import add_format
from tfy_gateway.manifests import GATEWAY_CONFIG_TYPES, NAMED_CONFIG_TYPES
from tfy_gateway.manifests.providers import LOOSE_ACCOUNT_TYPES, MODELLED_ACCOUNTS
from tfy_gateway.platform import ControlPlaneClient, ControlPlaneError, ControlPlaneSettings

PROVIDER_ACCOUNT = "provider-account"
RESOURCE_LISTS = (PROVIDER_ACCOUNT, "virtual-account", "team")
ALIASES = {"provider-accounts": PROVIDER_ACCOUNT, "virtual-accounts": "virtual-account", "teams": "team"}
LISTINGS = ("models",)


def _kinds() -> list[str]:
    providers = sorted({*MODELLED_ACCOUNTS, *LOOSE_ACCOUNT_TYPES})
    return [*sorted(GATEWAY_CONFIG_TYPES), *sorted(NAMED_CONFIG_TYPES), *RESOURCE_LISTS, *providers, *LISTINGS]


def _many(kind: str) -> bool:
    """Kinds printed as several manifests, one YAML document each."""
    return kind in NAMED_CONFIG_TYPES or kind in RESOURCE_LISTS or kind.startswith(PROVIDER_ACCOUNT + "/")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "get",
        help="print a gateway config's applied manifest, or list provider accounts / models",
        description=(
            "Print what the control plane (TFY_BASE_URL with TFY_API_KEY) holds now: the applied "
            "manifest of a gateway config (e.g. gateway-load-balancing-config), or the list of "
            "provider-accounts or models."
        ),
    )
    parser.add_argument(
        "kind",
        metavar="TYPE",
        help="a gateway config type (e.g. gateway-load-balancing-config), a V2 limit type (e.g. "
        "tenant-budget-config), provider-account (or one provider type, e.g. provider-account/openai), "
        "virtual-account, team, or models",
    )
    add_format(parser, ("yaml", "json"), "yaml")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    kinds = _kinds()
    args.kind = ALIASES.get(args.kind, args.kind)
    if args.kind not in kinds:
        close = difflib.get_close_matches(args.kind, kinds, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        print(f"error: unknown TYPE {args.kind!r}: {hint}allowed: {', '.join(kinds)}", file=sys.stderr)
        return EXIT_USAGE
    settings = settings_from_env()
    if settings is None:
        return EXIT_USAGE
    try:
        found = anyio.run(_fetch, settings, args.kind)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if found is None or (_many(args.kind) and not found):
        print(f"no {args.kind} is applied on {settings.base_url}", file=sys.stderr)
        return EXIT_FAILURE
    if args.format == "json":
        print(json.dumps(found, indent=2))
    elif _many(args.kind):
        print(yaml.safe_dump_all(found, sort_keys=False, allow_unicode=True), end="")
    else:
        print(yaml.safe_dump(found, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


async def _fetch(settings: ControlPlaneSettings, kind: str) -> Any:
    async with ControlPlaneClient.from_settings(settings) as client:
        if kind == PROVIDER_ACCOUNT:
            return await client.list_provider_accounts()
        if kind.startswith(PROVIDER_ACCOUNT + "/"):
            return [a for a in await client.list_provider_accounts() if a.get("type") == kind]
        if kind == "virtual-account":
            return await client.list_virtual_accounts()
        if kind == "team":
            return await client.list_teams()
        if kind == "models":
            return await client.list_models()
        if kind in NAMED_CONFIG_TYPES:
            return await client.list_configs(kind)
        return await client.get_config(kind)
