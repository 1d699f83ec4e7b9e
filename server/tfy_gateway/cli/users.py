"""`tfy-gateway users add|list`: a gateway's users (tokens: see `cli/tokens.py`).

Through the control plane at TFY_HOST with TFY_API_KEY (an admin token) by default, so the running
server makes the change and a printed token works at once; offline on a stopped gateway's store with
`--data-dir` or `--database-url` (see `_identities.py`).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import Any

from tfy_gateway.cli._control_plane import EXIT_OK
from tfy_gateway.cli._identities import Identities, add_target_options, run
from tfy_gateway.cli._output import add_format

TARGET_HELP = (
    "By default this goes through the control plane at TFY_HOST (or TFY_BASE_URL, TFY_API_HOST) with "
    "TFY_API_KEY, an admin token, like `apply`; with --data-dir DIR (or --database-url URL) it works on a "
    "stopped gateway's store directly instead."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = subparsers.add_parser(
        "users", help="add and list gateway users", description=f"Manage a gateway's users. {TARGET_HELP}"
    )
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    add = commands.add_parser(
        "add",
        help="add a user and print its first token (shown once)",
        description=f"Add a user and print its first token (shown once). {TARGET_HELP}",
    )
    add.add_argument("email", help="the user's email, e.g. alice@example.com")
    add.add_argument("--team", action="append", default=[], help="add the user to this team (repeatable)")
    add.add_argument("--admin", action="store_true", help="make the user a tenant admin")
    add_target_options(add)
    add.set_defaults(handler=functools.partial(run, command=add_user))
    listing = commands.add_parser(
        "list",
        help="list users, their teams and token names",
        description=f"List users, their teams and token names. {TARGET_HELP}",
    )
    add_format(listing)
    add_target_options(listing)
    listing.set_defaults(handler=functools.partial(run, command=list_users))


async def add_user(identities: Identities, args: argparse.Namespace) -> int:
    added = await identities.add_user(args.email, args.team, is_admin=args.admin)
    role = "admin" if added.user.is_admin else "user"
    teams = ", ".join(args.team) or "none"
    print(f"Added {role} {added.user.email} (teams: {teams}). Its token, shown only this once:", file=sys.stderr)
    print(added.token)
    print(access_note(added.user.email, args.team, admin=added.user.is_admin), file=sys.stderr)
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


async def list_users(identities: Identities, args: argparse.Namespace) -> int:
    users = await identities.users()
    tokens = await identities.tokens()
    rows: list[dict[str, Any]] = [
        {
            "email": user.email,
            "admin": user.is_admin,
            "teams": list(user.teams),
            "tokens": [t.name for t in tokens if t.owner_kind == "user" and t.owner == user.email],
        }
        for user in users
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        flag = " (admin)" if row["admin"] else ""
        teams, names = ", ".join(row["teams"]), ", ".join(row["tokens"]) or "-"
        print(f"{row['email']}{flag}  teams: {teams}  tokens: {names}")
    return EXIT_OK
