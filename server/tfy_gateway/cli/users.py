"""`tfy-gateway users ...`: manage the local gateway's users offline (tokens: see `cli/tokens.py`).

These commands open the gateway's database directly, so pass the same `--data-dir` as `serve`. They
are safe while the server runs: SQLite serialises the writes and the server reloads within a second.
With `TFY_GATEWAY_DATABASE_URL` set they use that PostgreSQL database instead, as `serve` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from tfy_gateway.cli._output import add_format
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.settings import DATABASE_FILE, DEFAULT_DATA_DIR, env_var
from tfy_gateway.gateway.store import Store, StoreError
from tfy_gateway.gateway.store import open_store as open_engine

EXIT_OK, EXIT_FAILURE = 0, 1


def data_dir_option(parser: argparse.ArgumentParser) -> None:
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
    data_dir_option(add)
    add.set_defaults(handler=add_user)
    listing = commands.add_parser("list", help="list users, their teams and token names")
    add_format(listing)
    data_dir_option(listing)
    listing.set_defaults(handler=list_users)


def open_store(data_dir: Path) -> Store:
    database_url = os.environ.get(env_var("database_url"), "").strip()
    if database_url:
        try:
            return open_engine(data_dir / DATABASE_FILE, database_url)
        except StoreError as exc:
            raise ApiError(503, str(exc)) from None

    if not (data_dir / DATABASE_FILE).exists():
        raise ApiError(
            404,
            f"No gateway database in {data_dir}: start `tfy-gateway serve --data-dir {data_dir}` once, "
            "or pass the --data-dir the server uses.",
        )
    return open_engine(data_dir / DATABASE_FILE)


def add_user(args: argparse.Namespace) -> int:
    from tfy_gateway.gateway.identities import create_user

    try:
        store = open_store(args.data_dir)
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
        store = open_store(args.data_dir)
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
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        flag = " (admin)" if row["admin"] else ""
        teams, names = ", ".join(row["teams"]), ", ".join(row["tokens"]) or "-"
        print(f"{row['email']}{flag}  teams: {teams}  tokens: {names}")
    return EXIT_OK
