"""SQLite engine of the store: one file in the data dir, the default for one gateway process.

WAL mode with `synchronous=FULL`. Every change runs inside one `BEGIN IMMEDIATE ... COMMIT`, so a
crash (even `kill -9`) at any moment leaves each resource either as it was or as it became, never
torn. Manifests are stored as the exact JSON the client sent, because the `tfy` CLI diffs what we
echo back against its local file.

The connection is used from worker threads (`Store.run`) so the event loop never waits on disk; a
lock serialises access, and a capacity limiter of one keeps at most one worker busy with it.
Hot paths never read SQLite: they read the in-memory snapshot and the authenticator's token map.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.private_files import private_file
from tfy_gateway.gateway.store.base import (
    BUMP_VERSION,
    Cursor,
    Execute,
    Store,
    StoreError,
    Transaction,
    check_expected,
    lease_timeout,
)
from tfy_gateway.gateway.store.migrations import LATEST, migrate


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)  # SQLITE_FULL: "database or disk is full"


class SqliteStore(Store):
    """The control-plane store in one SQLite file."""

    resource_order = "rowid"

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self._lock = threading.Lock()
        self._leased = False  # this object holds the write lease: its own commits need not wait for it
        try:
            private_file(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._migrate()
        except PermissionError:
            raise StoreError(
                f"cannot open the gateway database {path}: permission denied (it must be readable and "
                f"writable by this user, as must its directory); fix it with chmod u+rw {path}, or use "
                "another --data-dir"
            ) from None
        except (OSError, sqlite3.DatabaseError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = "make it writable (chmod u+rw)" if "readonly" in detail else "move it aside or restore it"
            raise StoreError(
                f"cannot open the gateway database {path}: {detail}; {hint}, or use another --data-dir"
            ) from None

    @property
    def location(self) -> str:
        return str(self.path)

    def _execute(self, sql: str, params: tuple[Any, ...]) -> Cursor:
        return self._db.execute(sql, params)

    def _migrate(self) -> None:
        # Databases from before `schema_migrations` carry their version in user_version only.
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > LATEST:
            raise StoreError(
                f"{self.path} was written by a newer tfy-gateway (schema {version} > {LATEST}); "
                "upgrade tfy-gateway or use another --data-dir"
            )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            migrate(self._execute, "sqlite", where=str(self.path))
            self._db.execute(f"PRAGMA user_version = {LATEST}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def write_lease(self) -> Iterator[None]:
        """An exclusive `flock` on a file beside the database: the kernel ends a crashed holder's lease."""
        with self._lease_file(fcntl.LOCK_EX):
            with self._lock:
                self._leased = True
            try:
                yield
            finally:
                with self._lock:
                    self._leased = False

    @contextmanager
    def _lease_file(self, mode: int) -> Iterator[None]:
        path = self.path.with_name(self.path.name + ".lease")
        private_file(path)
        descriptor = os.open(path, os.O_RDWR)
        try:
            deadline = time.monotonic() + self.lease_wait_s
            while True:
                try:
                    fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise lease_timeout(self.location, self.lease_wait_s) from None
                    time.sleep(0.01)  # a worker thread polling a lock the kernel cannot wait on with a timeout
            yield
        finally:
            os.close(descriptor)  # releases the lock

    @contextmanager
    def transaction(self, *, expect_version: int | None = None) -> Iterator[Transaction]:
        """A full disk is a 507 that names the directory: nothing of the change was saved."""
        with self._lock, contextlib.ExitStack() as stack:
            if not self._leased:
                stack.enter_context(self._lease_file(fcntl.LOCK_SH))
            self._db.execute("BEGIN IMMEDIATE")
            try:
                version = int(self._db.execute(BUMP_VERSION).fetchone()[0])
                transaction = Transaction(self._execute, previous_version=version - 1)
                check_expected(transaction, expect_version)
                yield transaction
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
        self._committed(transaction)

    @contextmanager
    def reading(self) -> Iterator[Execute]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._execute
            finally:
                self._db.execute("COMMIT")

    @contextmanager
    def writing(self) -> Iterator[Execute]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._execute
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
