"""The store interface: records, the typed `Transaction`, and what every engine provides.

Two engines implement `Store`: SQLite (`sqlite.py`, the default for one process) and PostgreSQL
(`postgres.py`, shared by several replicas). They run the same SQL (written with `?` placeholders;
the PostgreSQL engine translates them), so a behaviour proven on one holds on the other.

Every write is one transaction that starts by bumping the one-row `control_version` counter. That
row lock serialises writers across processes and replicas (SQLite's `BEGIN IMMEDIATE` does the same
on one file), and the counter is how a running server notices writes made elsewhere: another
replica, or the offline CLI (`GatewayState.reload_if_changed_elsewhere`).
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import orjson

from tfy_gateway.gateway.errors import ApiError, StateError

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


@dataclass(frozen=True)
class HistoryRecord:
    """One version of a resource: its manifest then (None: deleted at that version), who and when.

    `version` is the store's change counter of the transaction that wrote it; `changed_by` a subject
    (`user:<email>`), None when unknown (written offline, or before history existed).
    """

    kind: str
    name: str
    version: int
    type: str
    manifest: dict[str, Any] | None
    changed_by: str | None
    changed_at: str


@dataclass(frozen=True)
class HistorySummary:
    """A resource's newest version and how many are kept (`deleted`: its newest version is a delete)."""

    kind: str
    name: str
    type: str
    version: int
    deleted: bool
    changed_by: str | None
    changed_at: str
    versions: int


@dataclass(frozen=True)
class Contents:
    """Everything a server loads, read in one consistent snapshot together with its version."""

    version: int
    resources: list[ResourceRecord]
    users: list[UserRecord]
    tokens: list[TokenRecord]


class StoreError(StateError):
    """The database cannot be opened or has an unexpected schema."""


LEASE_WAIT_S = 30.0
"""How long a commit or a lease waits for another process's write lease before giving up (503)."""


def lease_timeout(location: str, waited_s: float) -> ApiError:
    return ApiError(
        503,
        f"Another gateway process on {location} has held the configuration write lease for more than "
        f"{waited_s:g} s: nothing was changed. Retry; if it persists, look for a stuck gateway process.",
    )


class StoreConflict(StateError):
    """Another process committed since the version the caller planned against; reload and retry."""

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(f"the store is at version {found}, the change was planned against version {expected}")
        self.expected = expected
        self.found = found


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


Execute = Callable[[str, tuple[Any, ...]], Cursor]
CommitObserver = Callable[[int, int], None]
"""Called after each commit with (version before, version after) that transaction."""

RESOURCE_COLUMNS = "id, kind, name, type, manifest, created_by, created_at, updated_at"
TOKEN_COLUMNS = "id, token_hash, name, owner_kind, owner, created_at, expires_at"
USER_COLUMNS = "id, email, is_admin, created_at"
HISTORY_KEEP = 50
"""Versions of each resource `resource_history` keeps: older ones are pruned by the write that adds one."""
HISTORY_COLUMNS = "kind, name, version, type, manifest, changed_by, changed_at"
_LATEST = "SELECT version, digest FROM resource_history WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1"
_MANIFEST_AT = "SELECT manifest FROM resource_history WHERE kind = ? AND name = ? AND version = ?"
_APPEND_HISTORY = (
    "INSERT INTO resource_history (kind, name, version, type, manifest, digest, changed_by, changed_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_PRUNE_HISTORY = (
    "DELETE FROM resource_history WHERE kind = ? AND name = ? AND version <= ("
    "SELECT version FROM resource_history WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1 OFFSET ?)"
)
_HISTORY_INDEX = (
    "SELECT h.kind, h.name, h.type, h.version, h.manifest IS NULL, h.changed_by, h.changed_at, c.versions"
    " FROM resource_history h JOIN (SELECT kind, name, MAX(version) AS newest, COUNT(*) AS versions"
    " FROM resource_history GROUP BY kind, name) c"
    " ON h.kind = c.kind AND h.name = c.name AND h.version = c.newest ORDER BY h.type, h.name"
)
BUMP_VERSION = "UPDATE control_version SET version = version + 1 WHERE id = 1 RETURNING version"
READ_VERSION = "SELECT version FROM control_version WHERE id = 1"


def resource_from_row(row: tuple[Any, ...]) -> ResourceRecord:
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


def history_from_row(row: tuple[Any, ...]) -> HistoryRecord:
    manifest = orjson.loads(row[4]) if row[4] is not None else None
    return HistoryRecord(row[0], row[1], int(row[2]), row[3], manifest, row[5], row[6])


def user_from_row(row: tuple[Any, ...]) -> UserRecord:
    return UserRecord(row[0], row[1], bool(row[2]), row[3])


def token_from_row(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(*row)


def _token_values(token: TokenRecord) -> tuple[Any, ...]:
    """The row of `token`, in `TOKEN_COLUMNS` order."""
    return (token.id, token.token_hash, token.name, token.owner_kind, token.owner, token.created_at, token.expires_at)


class Transaction:
    """Typed writes inside one open transaction; committed together or not at all.

    `previous_version`/`version`: the store's change counter before and after this transaction.
    """

    def __init__(self, execute: Execute, *, previous_version: int) -> None:
        self._execute = execute
        self.previous_version = previous_version
        self.version = previous_version + 1

    def upsert_resource(self, record: ResourceRecord, *, manifest_json: str | None = None) -> None:
        """Insert or update a resource (`manifest_json`: its manifest already serialized, to reuse)."""
        self._execute(
            "INSERT INTO resources (id, kind, name, type, manifest, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, name) DO UPDATE SET type = excluded.type,"
            " manifest = excluded.manifest, updated_at = excluded.updated_at",
            (
                record.id,
                record.kind,
                record.name,
                record.type,
                orjson.dumps(record.manifest).decode() if manifest_json is None else manifest_json,
                orjson.dumps(record.created_by).decode(),
                record.created_at,
                record.updated_at,
            ),
        )

    def append_history(
        self, kind: str, name: str, type_: str, manifest_json: str | None, changed_by: str | None, at: str
    ) -> bool:
        """Record this transaction's version of a resource (`manifest_json` None: deleted), unless its
        newest recorded version is the same (a re-apply of an unchanged manifest); keep the newest
        `HISTORY_KEEP`. Returns whether a version was added."""
        digest = None if manifest_json is None else hashlib.sha256(manifest_json.encode()).hexdigest()
        latest = self._execute(_LATEST, (kind, name)).fetchone()
        if latest is not None:
            if latest[1] is None:  # recorded by the migration, without a digest: compare the text
                same = self._execute(_MANIFEST_AT, (kind, name, latest[0])).fetchone()[0] == manifest_json
            else:
                same = latest[1] == digest
            if same:
                return False
        elif manifest_json is None:
            return False  # deleting what was never recorded (nothing to show a version of)
        self._execute(_APPEND_HISTORY, (kind, name, self.version, type_, manifest_json, digest, changed_by, at))
        self._execute(_PRUNE_HISTORY, (kind, name, kind, name, HISTORY_KEEP))
        return True

    def delete_resource(self, kind: str, name: str) -> bool:
        return self.remove_resource(kind, name) is not None

    def remove_resource(self, kind: str, name: str) -> str | None:
        """Delete a resource; its type, or None when there was none."""
        row = self._execute("DELETE FROM resources WHERE kind = ? AND name = ? RETURNING type", (kind, name)).fetchone()
        return None if row is None else str(row[0])

    def resource(self, kind: str, name: str) -> ResourceRecord | None:
        row = self._execute(
            f"SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        return resource_from_row(row) if row else None

    def insert_user(self, user: UserRecord) -> None:
        self._execute(
            "INSERT INTO users (email, id, is_admin, created_at) VALUES (?, ?, ?, ?)",
            (user.email, user.id, int(user.is_admin), user.created_at),
        )

    def upsert_user(self, user: UserRecord) -> None:
        self._execute(
            "INSERT INTO users (email, id, is_admin, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (email) DO UPDATE SET is_admin = excluded.is_admin",
            (user.email, user.id, int(user.is_admin), user.created_at),
        )

    def delete_user(self, email: str) -> bool:
        return self._execute("DELETE FROM users WHERE email = ?", (email,)).rowcount > 0

    def user(self, email: str) -> UserRecord | None:
        row = self._execute(f"SELECT {USER_COLUMNS} FROM users WHERE email = ?", (email,)).fetchone()
        return user_from_row(row) if row else None

    def insert_token(self, token: TokenRecord) -> None:
        self._execute(f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", _token_values(token))

    def upsert_token(self, token: TokenRecord) -> None:
        """Insert a token, or change the expiry of one that exists (the only mutable field)."""
        self._execute(
            f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
            _token_values(token),
        )

    def expire_token(self, token_id: str, expires_at: str) -> None:
        self._execute("UPDATE tokens SET expires_at = ? WHERE id = ?", (expires_at, token_id))

    def delete_token(self, token_id: str) -> bool:
        return self._execute("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount > 0

    def delete_tokens(self, owner_kind: str, owner: str, name: str | None = None) -> int:
        if name is None:
            cursor = self._execute("DELETE FROM tokens WHERE owner_kind = ? AND owner = ?", (owner_kind, owner))
        else:
            cursor = self._execute(
                "DELETE FROM tokens WHERE owner_kind = ? AND owner = ? AND name = ?", (owner_kind, owner, name)
            )
        return int(cursor.rowcount)

    def tokens_of(self, owner_kind: str, owner: str) -> list[TokenRecord]:
        rows = self._execute(
            f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE owner_kind = ? AND owner = ? ORDER BY created_at, id",
            (owner_kind, owner),
        ).fetchall()
        return [token_from_row(row) for row in rows]

    def token(self, token_id: str) -> TokenRecord | None:
        row = self._execute(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return token_from_row(row) if row else None

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        row = self._execute(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?", (token_hash,)).fetchone()
        return token_from_row(row) if row else None


class Store(abc.ABC):
    """The gateway's control-plane database. Synchronous methods; use `run` from async code."""

    def __init__(self) -> None:
        self._limiter = anyio.CapacityLimiter(1)
        self.lease_wait_s = LEASE_WAIT_S
        self._observers: list[CommitObserver] = []

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the data is, for messages (a path, or a URL without its password)."""

    @abc.abstractmethod
    def transaction(self, *, expect_version: int | None = None) -> AbstractContextManager[Transaction]:
        """All writes inside the block commit together, or roll back on any exception.

        With `expect_version`, raise `StoreConflict` (nothing written) when another process committed
        since that version: the caller planned against a stale view.
        """

    @abc.abstractmethod
    def write_lease(self) -> AbstractContextManager[None]:
        """The exclusive right to commit, across every process on this database, while the block runs.

        Every other process's `transaction` waits until it is released (at most `LEASE_WAIT_S`, then a
        503 that changes nothing); this object's own transactions go ahead. A writer that lost the
        optimistic race to other replicas takes it to plan and commit once more, certain to win.
        """

    @abc.abstractmethod
    def reading(self) -> AbstractContextManager[Execute]:
        """Statements run through the yielded function see one consistent snapshot of the data."""

    @abc.abstractmethod
    def writing(self) -> AbstractContextManager[Execute]:
        """A write transaction for data that is not configuration (batches and their files): it commits
        or rolls back as a whole, and leaves the change counter alone, so no replica reloads its
        configuration for it."""

    @abc.abstractmethod
    def close(self) -> None: ...

    resource_order = "rowid"
    """ORDER BY for resources: the order they were first applied in."""

    def observe(self, observer: CommitObserver) -> None:
        """Call `observer(before, after)` after each transaction this object commits."""
        self._observers.append(observer)

    def _committed(self, transaction: Transaction) -> None:
        for observer in self._observers:
            observer(transaction.previous_version, transaction.version)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Call a synchronous store function in a worker thread."""
        return await anyio.to_thread.run_sync(partial(function, *args), limiter=self._limiter)

    def data_version(self) -> int:
        """The change counter: it moves on every committed transaction, whoever made it."""
        with self.reading() as execute:
            return int(execute(READ_VERSION, ()).fetchone()[0])

    def contents(self) -> Contents:
        """Resources, users, tokens and the version they are at, from one consistent snapshot."""
        with self.reading() as execute:
            return Contents(
                int(execute(READ_VERSION, ()).fetchone()[0]),
                self._resources(execute),
                self._users(execute),
                self._tokens(execute),
            )

    def resources(self) -> list[ResourceRecord]:
        with self.reading() as execute:
            return self._resources(execute)

    def users(self) -> list[UserRecord]:
        with self.reading() as execute:
            return self._users(execute)

    def tokens(self) -> list[TokenRecord]:
        with self.reading() as execute:
            return self._tokens(execute)

    def resource_history(self, kind: str, name: str) -> list[HistoryRecord]:
        """The kept versions of one resource, newest first (empty for one never recorded)."""
        with self.reading() as execute:
            rows = execute(
                f"SELECT {HISTORY_COLUMNS} FROM resource_history WHERE kind = ? AND name = ? ORDER BY version DESC",
                (kind, name),
            ).fetchall()
        return [history_from_row(row) for row in rows]

    def history_index(self) -> list[HistorySummary]:
        """Every resource with recorded versions (deleted ones too), by type and name."""
        with self.reading() as execute:
            rows = execute(_HISTORY_INDEX, ()).fetchall()
        return [HistorySummary(r[0], r[1], r[2], int(r[3]), bool(r[4]), r[5], r[6], int(r[7])) for r in rows]

    def _resources(self, execute: Execute) -> list[ResourceRecord]:
        rows = execute(f"SELECT {RESOURCE_COLUMNS} FROM resources ORDER BY {self.resource_order}", ()).fetchall()
        return [resource_from_row(row) for row in rows]

    @staticmethod
    def _users(execute: Execute) -> list[UserRecord]:
        rows = execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, email", ()).fetchall()
        return [user_from_row(row) for row in rows]

    @staticmethod
    def _tokens(execute: Execute) -> list[TokenRecord]:
        rows = execute(f"SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id", ()).fetchall()
        return [token_from_row(row) for row in rows]


def check_expected(transaction: Transaction, expect_version: int | None) -> None:
    if expect_version is not None and transaction.previous_version != expect_version:
        raise StoreConflict(expect_version, transaction.previous_version)
