"""`tfy-gateway tokens create|list|revoke|virtual-account`: a gateway's tokens.

Like `users`, through the control plane at TFY_HOST with an admin TFY_API_KEY by default, offline on a
stopped gateway's store with `--data-dir`/`--database-url`. Secrets are printed once, on stdout, when
issued; lists show names, owners and dates, never a secret or its hash.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Collection
from typing import Any

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK
from tfy_gateway.cli._identities import Identities, add_target_options, run
from tfy_gateway.cli._offline import NoSuchVirtualAccount
from tfy_gateway.cli._output import add_format
from tfy_gateway.cli.users import TARGET_HELP


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = subparsers.add_parser(
        "tokens",
        help="create, list and revoke tokens (users and virtual accounts)",
        description=f"Manage a gateway's tokens. {TARGET_HELP}",
    )
    commands = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True)
    create = commands.add_parser(
        "create",
        help="create a personal access token (printed once)",
        description=f"Create a personal access token (printed once). {TARGET_HELP}",
    )
    create.add_argument("--user", required=True, help="the user's email")
    create.add_argument("--name", default=None, help="token name (default: cli-<n>, the first one free)")
    create.add_argument("--expires", default=None, help="expiry, ISO-8601 (e.g. 2030-01-01T00:00:00Z)")
    add_target_options(create)
    create.set_defaults(handler=functools.partial(run, command=create_token))

    listing = commands.add_parser(
        "list",
        help="list tokens: owner, name, created, expires (never the secret)",
        description=f"List tokens: owner, name, created, expires (never the secret). {TARGET_HELP}",
    )
    listing.add_argument("--user", default=None, help="only this user's tokens")
    listing.add_argument("--virtual-account", default=None, help="only this virtual account's tokens")
    add_format(listing)
    add_target_options(listing)
    listing.set_defaults(handler=functools.partial(run, command=list_tokens))

    revoke = commands.add_parser(
        "revoke",
        help="revoke a user's token by name (it stops working at once)",
        description=f"Revoke a user's token by name (it stops working at once). {TARGET_HELP}",
    )
    revoke.add_argument("--user", required=True, help="the user's email")
    revoke.add_argument("--name", required=True, help="the token's name (see `tokens list`)")
    add_target_options(revoke)
    revoke.set_defaults(handler=functools.partial(run, command=revoke_token))

    account = commands.add_parser(
        "virtual-account",
        help="issue a new token for a virtual account (printed once; the old one stops working)",
        description=(
            "Issue a new token for an applied virtual account and print it once. The previous token stops "
            "working at once, or after --grace-minutes (the platform's regenerate-token semantics). "
            f"Over HTTP: POST /api/svc/v1/virtual-accounts/{{id}}/regenerate-token. {TARGET_HELP}"
        ),
    )
    account.add_argument("name", help="the virtual account's name (its manifest must be applied)")
    account.add_argument("--grace-minutes", type=float, default=0.0, help="keep the old token this long (default 0)")
    add_target_options(account)
    account.set_defaults(handler=functools.partial(run, command=virtual_account_token))


def default_token_name(taken: Collection[str]) -> str:
    """`cli-<n>`, the lowest n the owner does not use yet."""
    n = 1
    while f"cli-{n}" in taken:
        n += 1
    return f"cli-{n}"


async def create_token(identities: Identities, args: argparse.Namespace) -> int:
    name = args.name or default_token_name({t.name for t in await identities.tokens(user=args.user)})
    created = await identities.create_token(args.user, name, args.expires)
    print(f"Created token {created.name!r} for {args.user}, shown only this once:", file=sys.stderr)
    print(created.token)
    return EXIT_OK


async def list_tokens(identities: Identities, args: argparse.Namespace) -> int:
    found = await identities.tokens(user=args.user, virtual_account=args.virtual_account)
    rows: list[dict[str, Any]] = [
        {"owner": t.subject, "name": t.name, "created_at": t.created_at, "expires_at": t.expires_at} for t in found
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        expires = f"  expires {row['expires_at']}" if row["expires_at"] else ""
        print(f"{row['owner']}  {row['name']}  created {row['created_at']}{expires}")
    if not rows:
        print("no tokens match", file=sys.stderr)
    return EXIT_OK


async def revoke_token(identities: Identities, args: argparse.Namespace) -> int:
    owned = await identities.tokens(user=args.user)
    token = next((t for t in owned if t.name == args.name), None)
    if token is None:
        known = ", ".join(repr(t.name) for t in owned) or "none"
        print(f"error: {args.user} has no token named {args.name!r} (its tokens: {known})", file=sys.stderr)
        return EXIT_FAILURE
    await identities.revoke(token)
    print(f"Revoked token {args.name!r} of {args.user}; it no longer authenticates.", file=sys.stderr)
    return EXIT_OK


async def virtual_account_token(identities: Identities, args: argparse.Namespace) -> int:
    if args.grace_minutes < 0:
        print(f"error: --grace-minutes must be >= 0, got {args.grace_minutes:g}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        token = await identities.regenerate(args.name, args.grace_minutes)
    except NoSuchVirtualAccount:
        print(
            f"error: no virtual account {args.name!r}: apply its `virtual-account` manifest first "
            "(tfy-gateway apply -f ...)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    old = (
        f"the old one works for {args.grace_minutes:g} more minute(s)"
        if args.grace_minutes
        else "the old one is revoked"
    )
    print(f"New token for virtual account {args.name} ({old}), shown only this once:", file=sys.stderr)
    print(token)
    return EXIT_OK
