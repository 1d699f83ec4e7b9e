"""What `users` and `tokens` share: one `Identities` interface and the runner that picks its side.

By default the commands call the control plane at TFY_HOST (TFY_BASE_URL, TFY_API_HOST) with
TFY_API_KEY, like `apply` and `get`: the server makes the change itself, so a token it prints works at
once. `--data-dir DIR` or `--database-url URL` work on a store directly instead (`_offline.py`), for a
gateway that is not running.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_USAGE, settings_from_env
from tfy_gateway.cli._offline import NoSuchVirtualAccount, OfflineTarget, open_offline
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.settings import env_var
from tfy_gateway.platform import (
    BASE_URL_VARIABLES,
    ControlPlaneClient,
    ControlPlaneError,
    ControlPlaneSettings,
    CreatedToken,
    NewUser,
    ResourceNotFoundError,
    TokenView,
    UserView,
)

DATABASE_URL_VARIABLE = env_var("database_url")


class Identities(Protocol):
    """Users and tokens, wherever they live; errors are ControlPlaneError (API) or ApiError (store)."""

    async def add_user(self, email: str, teams: Sequence[str], *, is_admin: bool) -> NewUser: ...

    async def users(self) -> list[UserView]: ...

    async def create_token(self, email: str, name: str, expires: str | None) -> CreatedToken: ...

    async def tokens(self, *, user: str | None = None, virtual_account: str | None = None) -> list[TokenView]: ...

    async def revoke(self, token: TokenView) -> None: ...

    async def regenerate(self, account: str, grace_minutes: float) -> str:
        """The virtual account's new token; NoSuchVirtualAccount when it is not applied."""
        ...


class ApiIdentities:
    """`Identities` over a control plane's API (an admin key)."""

    def __init__(self, client: ControlPlaneClient) -> None:
        self._client = client

    async def add_user(self, email: str, teams: Sequence[str], *, is_admin: bool) -> NewUser:
        return await self._client.create_user(email, teams=teams, is_admin=is_admin)

    async def users(self) -> list[UserView]:
        return await self._client.list_users()

    async def create_token(self, email: str, name: str, expires: str | None) -> CreatedToken:
        return await self._client.create_personal_access_token(name, expiration_date=expires, user_email=email)

    async def tokens(self, *, user: str | None = None, virtual_account: str | None = None) -> list[TokenView]:
        return await self._client.list_tokens(user=user, virtual_account=virtual_account)

    async def revoke(self, token: TokenView) -> None:
        await self._client.delete_personal_access_token(token.id)

    async def regenerate(self, account: str, grace_minutes: float) -> str:
        try:
            return await self._client.regenerate_virtual_account_token(account, grace_minutes=grace_minutes)
        except ResourceNotFoundError:
            raise NoSuchVirtualAccount(account) from None


Command = Callable[[Identities, argparse.Namespace], Awaitable[int]]


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """`--data-dir` / `--database-url`: offline, on the store; without them, through TFY_HOST's API."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="work offline on this data dir (the one `serve --data-dir` uses) instead of through the API; "
        "refused while a gateway serves it",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="work offline on this PostgreSQL database (as `serve --database-url`; default "
        f"${DATABASE_URL_VARIABLE}, which also selects offline mode when TFY_HOST is unset). No dir lock: "
        "each write is one transaction, and running replicas pick it up through LISTEN/NOTIFY",
    )


def choose_target(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ControlPlaneSettings | OfflineTarget | None:
    """Offline when asked (flags), else the API at TFY_HOST; None after printing what to set."""
    env = os.environ if environ is None else environ
    database_url = (args.database_url or env.get(DATABASE_URL_VARIABLE, "")).strip() or None
    api_named = any(env.get(name, "").strip() for name in BASE_URL_VARIABLES)
    if args.data_dir is not None or args.database_url:
        target = OfflineTarget(args.data_dir, database_url)
        if api_named:
            print(f"note: working on {target.where} directly, not through TFY_HOST's API", file=sys.stderr)
        return target
    if api_named:
        return settings_from_env()
    if database_url:
        return OfflineTarget(None, database_url)
    print(
        "error: which gateway? Export TFY_HOST=<its URL, e.g. http://127.0.0.1:8787> and TFY_API_KEY=<an admin "
        "token, e.g. $(cat .tfy-gateway/admin-token)> to go through a running gateway's API, or pass --data-dir "
        "DIR (or --database-url URL) to work on a stopped gateway's store directly",
        file=sys.stderr,
    )
    return None


def run(args: argparse.Namespace, command: Command) -> int:
    """Run `command` on the chosen side; errors become one `error: ...` line and exit 1."""
    target = choose_target(args)
    if target is None:
        return EXIT_USAGE
    try:
        return anyio.run(_run, target, command, args)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    return EXIT_FAILURE


async def _run(target: ControlPlaneSettings | OfflineTarget, command: Command, args: argparse.Namespace) -> int:
    if isinstance(target, OfflineTarget):
        with open_offline(target) as identities:
            return await command(identities, args)
    async with ControlPlaneClient.from_settings(target) as client:
        return await command(ApiIdentities(client), args)
