"""`tfy-gateway tokens create|list|revoke|virtual-account`: the local gateway's tokens, offline.

Like `users`, these open the gateway's database directly (same `--data-dir` as `serve`); a running
server picks the change up within a second. Secrets are printed once, on stdout, when issued; lists
show names, owners and dates, never a secret or its hash.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tfy_gateway.cli._output import add_format
from tfy_gateway.cli.users import EXIT_FAILURE, EXIT_OK, data_dir_option, open_store
from tfy_gateway.gateway.errors import ApiError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = subparsers.add_parser(
        "tokens",
        help="create, list and revoke tokens (users and virtual accounts)",
        description="Manage the local gateway's tokens (same --data-dir as serve).",
    )
    commands = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True)
    create = commands.add_parser("create", help="create a personal access token (printed once)")
    create.add_argument("--user", required=True, help="the user's email")
    create.add_argument("--name", default=None, help="token name (default: cli-<n>)")
    create.add_argument("--expires", default=None, help="expiry, ISO-8601 (e.g. 2030-01-01T00:00:00Z)")
    data_dir_option(create)
    create.set_defaults(handler=create_token)

    listing = commands.add_parser("list", help="list tokens: owner, name, created, expires (never the secret)")
    listing.add_argument("--user", default=None, help="only this user's tokens")
    listing.add_argument("--virtual-account", default=None, help="only this virtual account's tokens")
    add_format(listing)
    data_dir_option(listing)
    listing.set_defaults(handler=list_tokens)

    revoke = commands.add_parser("revoke", help="revoke a user's token by name (it stops working at once)")
    revoke.add_argument("--user", required=True, help="the user's email")
    revoke.add_argument("--name", required=True, help="the token's name (see `tokens list`)")
    data_dir_option(revoke)
    revoke.set_defaults(handler=revoke_token)

    account = commands.add_parser(
        "virtual-account",
        help="issue a new token for a virtual account (printed once; the old one stops working)",
        description=(
            "Issue a new token for an applied virtual account and print it once. The previous token stops "
            "working at once, or after --grace-minutes (the platform's regenerate-token semantics). "
            "Over HTTP: POST /api/svc/v1/virtual-accounts/{id}/regenerate-token."
        ),
    )
    account.add_argument("name", help="the virtual account's name (its manifest must be applied)")
    account.add_argument("--grace-minutes", type=float, default=0.0, help="keep the old token this long (default 0)")
    data_dir_option(account)
    account.set_defaults(handler=virtual_account_token)


def create_token(args: argparse.Namespace) -> int:
    from tfy_gateway.gateway.identities import create_user_token

    try:
        store = open_store(args.data_dir)
        try:
            name = args.name or f"cli-{len(store.tokens()) + 1}"
            issued = create_user_token(store, args.user, name, args.expires)
        finally:
            store.close()
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Created token {issued.record.name!r} for {args.user}, shown only this once:", file=sys.stderr)
    print(issued.token)
    return EXIT_OK


def list_tokens(args: argparse.Namespace) -> int:
    try:
        store = open_store(args.data_dir)
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        records = store.tokens()
    finally:
        store.close()
    rows: list[dict[str, Any]] = [
        {
            "owner": f"{'user' if r.owner_kind == 'user' else 'virtualaccount'}:{r.owner}",
            "name": r.name,
            "created_at": r.created_at,
            "expires_at": r.expires_at,
        }
        for r in records
        if (args.user is None or (r.owner_kind == "user" and r.owner == args.user))
        and (args.virtual_account is None or (r.owner_kind == "virtualaccount" and r.owner == args.virtual_account))
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


def revoke_token(args: argparse.Namespace) -> int:
    try:
        store = open_store(args.data_dir)
        try:
            with store.transaction() as tx:
                names = [t.name for t in tx.tokens_of("user", args.user)]
                removed = tx.delete_tokens("user", args.user, args.name)
        finally:
            store.close()
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    if not removed:
        known = ", ".join(repr(n) for n in names) or "none"
        print(f"error: {args.user} has no token named {args.name!r} (its tokens: {known})", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Revoked token {args.name!r} of {args.user}; it no longer authenticates.", file=sys.stderr)
    return EXIT_OK


def virtual_account_token(args: argparse.Namespace) -> int:
    from tfy_gateway.gateway.identities import regenerate_virtual_account_token

    if args.grace_minutes < 0:
        print(f"error: --grace-minutes must be >= 0, got {args.grace_minutes:g}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        store = open_store(args.data_dir)
        try:
            issued = regenerate_virtual_account_token(store, args.name, args.grace_minutes)
        finally:
            store.close()
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    old = (
        f"the old one works for {args.grace_minutes:g} more minute(s)"
        if args.grace_minutes
        else "the old one is revoked"
    )
    print(f"New token for virtual account {args.name} ({old}), shown only this once:", file=sys.stderr)
    print(issued.token)
    return EXIT_OK
