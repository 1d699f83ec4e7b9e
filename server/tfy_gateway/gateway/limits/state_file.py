"""`limits.sqlite3`: opening the rate-limit and budget counters file, or saying in one line why not.

The file is the only record of what was spent this month and what the windows hold; a gateway that
started on a damaged one with zeroed counters would let everybody spend their budget again without a
word. So a file that cannot be read as a whole (truncated, garbled, replaced by text or by a
directory, unreadable) stops the start with a `StateFileError`: which file, what is wrong, and what
to do (move it aside, or `tfy-gateway serve --reset-state limits`, which moves it aside for you).
What can be read but not fully is loaded and reported: counters whose rows cannot be parsed are
counted (`Loaded.unreadable`, logged loudly, shown in /metrics); a file found empty (0 bytes: its
content was lost) is loaded as empty, logged loudly, and shown in /metrics too.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import NamedTuple

import orjson

from tfy_gateway.gateway.errors import StateError
from tfy_gateway.gateway.private_files import private_file

logger = logging.getLogger(__name__)

LIMITS_FILE = "limits.sqlite3"
RESET_FLAG = "--reset-state limits"
SIDECARS = ("-wal", "-shm")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS limit_counters (
    key TEXT PRIMARY KEY,
    buckets TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""
_COLUMNS = ("key", "buckets", "expires_at")

Row = tuple[str, dict[int, int], float]


class StateFileError(StateError):
    """A state file the gateway cannot use; the message is one line: which file, what, what to do."""


class Loaded(NamedTuple):
    rows: list[Row]
    unreadable: int  # counters whose row could not be parsed: they start from zero
    emptied: bool  # the file was there with 0 bytes: every counter it held was lost


def damaged(path: Path, problem: str) -> StateFileError:
    return StateFileError(
        f"the rate-limit and budget counters file {path} {problem}, so the gateway cannot tell what was "
        f"spent or counted. Move it aside to start every counter from zero (mv {path} {path}.broken), or "
        f"start with `tfy-gateway serve {RESET_FLAG}`, which does that for you."
    )


def open_counters(path: Path) -> sqlite3.Connection:
    """The file's connection with its schema in place; `StateFileError` if it cannot be used."""
    if path.is_dir():
        raise damaged(path, "is a directory, not a file")
    try:
        private_file(path)
        connection = sqlite3.connect(str(path), timeout=5.0, check_same_thread=False, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise damaged(path, f"cannot be opened ({_reason(exc)})") from None
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
        problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise damaged(path, f"is damaged (SQLite's check: {'; '.join(str(p) for p in problems[:3])})")
        columns = tuple(row[1] for row in connection.execute("PRAGMA table_info(limit_counters)").fetchall())
        if columns != _COLUMNS:
            raise damaged(path, f"has a limit_counters table of another shape ({', '.join(columns)})")
    except sqlite3.Error as exc:
        connection.close()
        raise damaged(path, f"is not a readable SQLite database ({_reason(exc)})") from None
    except StateFileError:
        connection.close()
        raise
    return connection


def load_counters(connection: sqlite3.Connection, path: Path, *, emptied: bool = False) -> Loaded:
    """Every counter row; rows that cannot be parsed are counted and reported, never silently dropped."""
    rows: list[Row] = []
    unreadable = 0
    try:
        for key, buckets, expires_at in connection.execute("SELECT key, buckets, expires_at FROM limit_counters"):
            try:
                parsed = {int(index): int(amount) for index, amount in orjson.loads(buckets)}
                rows.append((str(key), parsed, float(expires_at)))
            except (orjson.JSONDecodeError, TypeError, ValueError):
                unreadable += 1
    except sqlite3.Error as exc:
        raise damaged(path, f"cannot be read to its end ({_reason(exc)})") from None
    if unreadable:
        logger.error(
            "%d rate-limit/budget counters in %s could not be read and start from zero: their windows and "
            "spend are lost (tfy_gateway_limit_counters_unreadable in /metrics)",
            unreadable,
            path,
        )
    if emptied:
        logger.error(
            "%s was empty (0 bytes): every rate-limit window and budget spend it held was lost and starts "
            "from zero (tfy_gateway_limit_state_emptied in /metrics)",
            path,
        )
    return Loaded(rows, unreadable, emptied)


def check_counters(path: Path) -> Loaded | None:
    """Open and read the file as a start would, then close it (None: there is none yet). For a check
    before serving, so that a damaged file is one line, not a failed start-up."""
    if not path.exists() and not path.is_symlink():
        return None
    emptied = path.is_file() and path.stat().st_size == 0
    connection = open_counters(path)
    try:
        return load_counters(connection, path, emptied=emptied)
    finally:
        connection.close()


def move_aside(path: Path) -> Path | None:
    """`--reset-state limits`: the file (and its SQLite sidecars) renamed `<name>.reset-<UTC time>`,
    so that the counters start from zero and the old file stays for inspection. None: no file."""
    if not path.exists() and not path.is_symlink():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.reset-{stamp}")
    for suffix in ("", *SIDECARS):
        source = path.with_name(path.name + suffix)
        if source.exists() or source.is_symlink():
            source.rename(target.with_name(target.name + suffix))
    return target


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
