"""`tfy-gateway users ...` and `tokens ...`: manage the local gateway's users offline.

These commands open the gateway's database directly, so pass the same `--data-dir` as `serve`. They
are safe while the server runs: SQLite serialises the writes and the server reloads within a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.settings import DATABASE_FILE, DEFAULT_DATA_DIR
from tfy_gateway.gateway.store import Store

EXIT_OK, EXIT_FAILURE = 0, 1


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(DEFAULT_DATA_DIR),
        help=f"the gateway's data dir, the same as `serve --data-dir` (default {DEFAULT_DATA_DIR})",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = subparsers.add_parser(
        "users",
        help="add and list local gateway users",
        description=(
            "Manage the local gateway's users. Works on <data-dir> directly: pass the same --data-dir as serve."
        ),
    )
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="add a user and print its first token (shown once)")
    add.add_argument("email", help="the user's email, e.g. alice@example.com")
    add.add_argument("--team", action="append", default=[], help="add the user to this team (repeatable)")
    add.add_argument("--admin", action="store_true", help="make the user a tenant admin")
    _data_dir(add)
    add.set_defaults(handler=add_user)
    listing = commands.add_parser("list", help="list users, their teams and token names")
    listing.add_argument("--json", action="store_true", help="print JSON")
    _data_dir(listing)
    listing.set_defaults(handler=list_users)

    tokens = subparsers.add_parser(
        "tokens",
        help="create personal access tokens",
        description="Create tokens for local gateway users (same --data-dir as serve).",
    )
    token_commands = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True)
    create = token_commands.add_parser("create", help="create a personal access token (printed once)")
    create.add_argument("--user", required=True, help="the user's email")
    create.add_argument("--name", default=None, help="token name (default: cli-<n>)")
    create.add_argument("--expires", default=None, help="expiry, ISO-8601 (e.g. 2030-01-01T00:00:00Z)")
    _data_dir(create)
    create.set_defaults(handler=create_token)


def _open(data_dir: Path) -> Store:

    if not (data_dir / DATABASE_FILE).exists():
        raise ApiError(
            404,
            f"No gateway database in {data_dir}: start `tfy-gateway serve --data-dir {data_dir}` once, "
            "or pass the --data-dir the server uses.",
        )
    return Store(data_dir / DATABASE_FILE)


def add_user(args: argparse.Namespace) -> int:
    from tfy_gateway.gateway.identities import create_user

    try:
        store = _open(args.data_dir)
        try:
            user, issued = create_user(store, args.email, teams=args.team, is_admin=args.admin)
        finally:
            store.close()
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    role = "admin" if user.is_admin else "user"
    teams = ", ".join(args.team) or "none"
    print(f"Added {role} {user.email} (teams: {teams}). Its token, shown only this once:", file=sys.stderr)
    print(issued.token)
    print(access_note(user.email, args.team, admin=user.is_admin), file=sys.stderr)
    return EXIT_OK


def access_note(email: str, teams: list[str], *, admin: bool) -> str:
    """How the new user gets to call models: the step everyone misses after `users add`."""
    if admin:
        return "As a tenant admin it may call every model and change every config."
    subjects = ", ".join([f"user:{email}", *(f"team:{t}" for t in teams), "team:everyone"])
    return (
        f"Model access: it may call the models of a provider account that lists one of its subjects ({subjects}) "
        "under `collaborators` (e.g. `collaborators: [{subject: team:everyone, role_id: provider-account-access}]`), "
        "or an integration whose `authorized_subjects` lists one; re-apply the account after adding it. "
        "The accounts of `serve --offline` already grant team:everyone. Rate limits and budgets match these "
        "subjects too."
    )


def list_users(args: argparse.Namespace) -> int:
    from tfy_gateway.gateway.identities import team_memberships

    try:
        store = _open(args.data_dir)
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        memberships = team_memberships(r.manifest for r in store.resources())
        tokens = store.tokens()
        rows: list[dict[str, Any]] = [
            {
                "email": user.email,
                "admin": user.is_admin,
                "teams": [*memberships.get(user.email, ()), "everyone"],
                "tokens": [t.name for t in tokens if t.owner_kind == "user" and t.owner == user.email],
            }
            for user in store.users()
        ]
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        flag = " (admin)" if row["admin"] else ""
        teams, names = ", ".join(row["teams"]), ", ".join(row["tokens"]) or "-"
        print(f"{row['email']}{flag}  teams: {teams}  tokens: {names}")
    return EXIT_OK


def create_token(args: argparse.Namespace) -> int:
    from tfy_gateway.gateway.identities import create_user_token

    try:
        store = _open(args.data_dir)
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
