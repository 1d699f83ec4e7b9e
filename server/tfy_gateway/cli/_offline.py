"""`users`/`tokens` offline: on a gateway's store directly, when no server runs on it.

A server caches its identities and notices another process's SQLite write only later, so a token
written behind its back fails for a while; while a server holds the data dir (`gateway/dir_lock.py`)
the offline commands refuse and say how to go through its API. With PostgreSQL (`--database-url`,
shared by replicas) there is no dir lock: each write is one transaction that every replica hears of
through LISTEN/NOTIFY.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tfy_gateway.gateway.dir_lock import LOCK_FILE, DataDirBusy, DataDirServed, try_exclusive
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import (
    create_user,
    create_user_token,
    regenerate_virtual_account_token,
    team_memberships,
    write_to_store,
)
from tfy_gateway.gateway.settings import ADMIN_TOKEN_FILE, DATABASE_FILE
from tfy_gateway.gateway.snapshot import Change
from tfy_gateway.gateway.store import Store, StoreError
from tfy_gateway.gateway.store import open_store as open_engine
from tfy_gateway.platform import CreatedToken, NewUser, TokenView, UserView


class NoSuchVirtualAccount(LookupError):
    """Regenerating the token of a virtual account that is not applied."""


@dataclass(frozen=True)
class OfflineTarget:
    """Where an offline command works: a data dir's SQLite file, or a PostgreSQL URL (then no dir lock)."""

    data_dir: Path | None
    database_url: str | None

    @property
    def where(self) -> str:
        return "the PostgreSQL database" if self.database_url else str(self.data_dir)


def served_message(busy: DataDirServed) -> str:
    """What to do instead: the server's API, or stop it."""
    host = busy.address or "http://HOST:PORT"
    key = busy.data_dir / ADMIN_TOKEN_FILE
    return (
        f"{busy}: run the command against it with TFY_HOST={host} TFY_API_KEY=$(cat {key}) (or another admin "
        "token) and without --data-dir, or stop it first"
    )


@contextlib.contextmanager
def open_offline(target: OfflineTarget) -> Iterator[StoreIdentities]:
    """The store, held exclusively against servers for the whole command (SQLite), closed after."""
    if target.database_url:
        try:
            store = open_engine((target.data_dir or Path()) / DATABASE_FILE, target.database_url)
        except StoreError as exc:
            raise ApiError(503, str(exc)) from None
        with contextlib.closing(store):
            yield StoreIdentities(store)
        return
    data_dir = target.data_dir or Path()
    if not (data_dir / DATABASE_FILE).exists():
        raise ApiError(
            404,
            f"No gateway database in {data_dir}: start `tfy-gateway serve --data-dir {data_dir}` once, "
            "or pass the --data-dir the server uses.",
        )
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(try_exclusive(data_dir))
        except DataDirServed as served:
            raise ApiError(409, served_message(served)) from None
        except DataDirBusy as busy:
            raise ApiError(409, str(busy)) from None
        except OSError as exc:
            raise ApiError(503, f"cannot lock {data_dir / LOCK_FILE}: {exc.strerror or exc}") from None
        store = held.enter_context(contextlib.closing(open_engine(data_dir / DATABASE_FILE)))
        yield StoreIdentities(store)


class StoreIdentities:
    """The `Identities` of the CLI (see `_identities.py`) over a store opened by `open_offline`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add_user(self, email: str, teams: Sequence[str], *, is_admin: bool) -> NewUser:
        user, issued = create_user(self._store, email, teams=teams, is_admin=is_admin)
        view = UserView(user.id, user.email, user.is_admin, (*teams, "everyone"), user.created_at)
        return NewUser(user=view, token=issued.token)

    async def users(self) -> list[UserView]:
        memberships = team_memberships(r.manifest for r in self._store.resources())
        return [
            UserView(u.id, u.email, u.is_admin, (*memberships.get(u.email, ()), "everyone"), u.created_at)
            for u in self._store.users()
        ]

    async def create_token(self, email: str, name: str, expires: str | None) -> CreatedToken:
        issued = create_user_token(self._store, email, name, expires)
        return CreatedToken(token=issued.token, id=issued.record.id, name=issued.record.name)

    async def tokens(self, *, user: str | None = None, virtual_account: str | None = None) -> list[TokenView]:
        return [
            TokenView(r.id, r.name, r.owner_kind, r.owner, r.created_at, r.expires_at)
            for r in self._store.tokens()
            if (user is None or (r.owner_kind == "user" and r.owner == user))
            and (virtual_account is None or (r.owner_kind == "virtualaccount" and r.owner == virtual_account))
        ]

    async def revoke(self, token: TokenView) -> None:
        write_to_store(self._store, lambda snapshot: (Change(tokens={token.id: None}), None))

    async def regenerate(self, account: str, grace_minutes: float) -> str:
        try:
            return regenerate_virtual_account_token(self._store, account, grace_minutes).token
        except ApiError as exc:
            if exc.status == 404:
                raise NoSuchVirtualAccount(account) from None
            raise
