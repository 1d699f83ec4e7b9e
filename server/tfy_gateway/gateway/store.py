"""SQLite persistence for the local gateway: manifests, users, tokens.

One database file in the data dir, in WAL mode with `synchronous=FULL`. Every change runs inside one
`BEGIN IMMEDIATE ... COMMIT` (`Store.transaction()`), so a crash (even `kill -9`) at any moment leaves
each resource either as it was or as it became, never torn. Manifests are stored as the exact JSON
the client sent, because the `tfy` CLI diffs what we echo back against its local file.

The connection is used from worker threads (`Store.run`) so the event loop never waits on disk; a
lock serialises access, and a capacity limiter of one keeps at most one worker busy with it.
Hot paths never read SQLite: they read the in-memory snapshot and the authenticator's token map.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import orjson

from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.private_files import private_file

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (kind, name)
);
CREATE TABLE IF NOT EXISTS users (
    email       TEXT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'virtualaccount')),
    owner       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT
);
CREATE INDEX IF NOT EXISTS tokens_owner ON tokens (owner_kind, owner);
"""

T = TypeVar("T")


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, the platform's timestamp format."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ResourceRecord:
    """One applied manifest. `kind`/`name` is its identity (see `manifests.manifest_key`)."""

    id: str
    kind: str
    name: str
    type: str
    manifest: dict[str, Any]
    created_by: dict[str, Any]
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    is_admin: bool
    created_at: str


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored: only the sha256 of the secret, never the secret."""

    id: str
    token_hash: str
    name: str
    owner_kind: str  # "user" | "virtualaccount"
    owner: str  # email or virtual-account name
    created_at: str
    expires_at: str | None = None


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)  # SQLITE_FULL: "database or disk is full"


class StoreError(Exception):
    """The database cannot be opened or has an unexpected schema."""


class Transaction:
    """Typed writes inside one open transaction; committed together or not at all."""

    def __init__(self, connection: sqlite3.Connection):
        self._db = connection

    def upsert_resource(self, record: ResourceRecord) -> None:
        self._db.execute(
            "INSERT INTO resources (id, kind, name, type, manifest, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, name) DO UPDATE SET type = excluded.type,"
            " manifest = excluded.manifest, updated_at = excluded.updated_at",
            (
                record.id,
                record.kind,
                record.name,
                record.type,
                orjson.dumps(record.manifest).decode(),
                orjson.dumps(record.created_by).decode(),
                record.created_at,
                record.updated_at,
            ),
        )

    def delete_resource(self, kind: str, name: str) -> bool:
        cursor = self._db.execute("DELETE FROM resources WHERE kind = ? AND name = ?", (kind, name))
        return cursor.rowcount > 0

    def resource(self, kind: str, name: str) -> ResourceRecord | None:
        row = self._db.execute(
            f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        return _resource(row) if row else None

    def insert_user(self, user: UserRecord) -> None:
        self._db.execute(
            "INSERT INTO users (email, id, is_admin, created_at) VALUES (?, ?, ?, ?)",
            (user.email, user.id, int(user.is_admin), user.created_at),
        )

    def user(self, email: str) -> UserRecord | None:
        row = self._db.execute("SELECT id, email, is_admin, created_at FROM users WHERE email = ?", (email,)).fetchone()
        return UserRecord(row[0], row[1], bool(row[2]), row[3]) if row else None

    def insert_token(self, token: TokenRecord) -> None:
        self._db.execute(
            "INSERT INTO tokens (id, token_hash, name, owner_kind, owner, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.token_hash,
                token.name,
                token.owner_kind,
                token.owner,
                token.created_at,
                token.expires_at,
            ),
        )

    def expire_token(self, token_id: str, expires_at: str) -> None:
        self._db.execute("UPDATE tokens SET expires_at = ? WHERE id = ?", (expires_at, token_id))

    def delete_token(self, token_id: str) -> bool:
        return self._db.execute("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount > 0

    def delete_tokens(self, owner_kind: str, owner: str, name: str | None = None) -> int:
        if name is None:
            cursor = self._db.execute("DELETE FROM tokens WHERE owner_kind = ? AND owner = ?", (owner_kind, owner))
        else:
            cursor = self._db.execute(
                "DELETE FROM tokens WHERE owner_kind = ? AND owner = ? AND name = ?",
                (owner_kind, owner, name),
            )
        return cursor.rowcount

    def tokens_of(self, owner_kind: str, owner: str) -> list[TokenRecord]:
        rows = self._db.execute(
            f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE owner_kind = ? AND owner = ? ORDER BY created_at",
            (owner_kind, owner),
        ).fetchall()
        return [TokenRecord(*row) for row in rows]

    def token(self, token_id: str) -> TokenRecord | None:
        row = self._db.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return TokenRecord(*row) if row else None

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        row = self._db.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?", (token_hash,)).fetchone()
        return TokenRecord(*row) if row else None


_RESOURCE_COLUMNS = "id, kind, name, type, manifest, created_by, created_at, updated_at"
_TOKEN_COLUMNS = "id, token_hash, name, owner_kind, owner, created_at, expires_at"


def _resource(row: tuple[Any, ...]) -> ResourceRecord:
    return ResourceRecord(
        id=row[0],
        kind=row[1],
        name=row[2],
        type=row[3],
        manifest=orjson.loads(row[4]),
        created_by=orjson.loads(row[5]),
        created_at=row[6],
        updated_at=row[7],
    )


class Store:
    """The gateway's SQLite database. Synchronous methods; use `run` from async code."""

    def __init__(self, path: Path):
        self.path = path
        try:
            private_file(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the gateway database {path}: {exc}") from exc
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(1)

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer tfy-gateway (schema {version} > {SCHEMA_VERSION}); "
                "upgrade tfy-gateway or use another --data-dir"
            )
        self._db.execute("BEGIN IMMEDIATE")
        for statement in filter(None, (part.strip() for part in _SCHEMA.split(";"))):
            self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Call a synchronous store function in a worker thread."""
        return await anyio.to_thread.run_sync(partial(function, *args), limiter=self._limiter)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """All writes inside the block commit together, or roll back on any exception.

        A full disk is a 507 that names the directory: nothing of the change was saved.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._db)
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if _is_disk_full(exc):
                    raise ApiError(
                        507,
                        f"No space left on {self.path.parent}: the change was not saved. "
                        "Free some space there and apply again.",
                    ) from exc
                raise

    def data_version(self) -> int:
        """Changes when another connection (e.g. `tfy-gateway users add`) committed a write."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def resources(self) -> list[ResourceRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_RESOURCE_COLUMNS} FROM resources ORDER BY rowid").fetchall()
        return [_resource(row) for row in rows]

    def users(self) -> list[UserRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, email, is_admin, created_at FROM users ORDER BY created_at, email"
            ).fetchall()
        return [UserRecord(row[0], row[1], bool(row[2]), row[3]) for row in rows]

    def tokens(self) -> list[TokenRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id").fetchall()
        return [TokenRecord(*row) for row in rows]

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
