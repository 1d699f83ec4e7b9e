"""The request-log database: its own SQLite file in the data dir, WAL, separate from the config store
so log volume never slows control-plane writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tfy_gateway.gateway.private_files import private_file

LOGS_FILE = "logs.sqlite3"
TEAMS_COLUMN = "teams TEXT NOT NULL DEFAULT '[]'"
"""Added after the first release: both engines add it to an older table (PostgreSQL in a migration)."""

_TABLE = """
CREATE TABLE IF NOT EXISTS request_logs (
    id TEXT PRIMARY KEY,
    created_at {real} NOT NULL,
    subject TEXT,
    token_name TEXT,
    endpoint TEXT NOT NULL,
    requested_model TEXT,
    resolved_model TEXT,
    status INTEGER NOT NULL,
    error TEXT,
    error_origin TEXT,
    latency_ms {real} NOT NULL,
    ttft_ms {real},
    provider_ms {real},
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost {real},
    stream INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    rule_ids TEXT NOT NULL DEFAULT '[]',
    retries INTEGER NOT NULL DEFAULT 0,
    fallbacks INTEGER NOT NULL DEFAULT 0,
    tries TEXT NOT NULL DEFAULT '[]',
    request_body TEXT,
    response_body TEXT,
    usage_estimated INTEGER NOT NULL DEFAULT 0,
    limits TEXT NOT NULL DEFAULT '{}',
    trace_id TEXT,
    teams TEXT NOT NULL DEFAULT '[]',
    guardrails TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS request_logs_time ON request_logs (created_at);
CREATE INDEX IF NOT EXISTS request_logs_subject ON request_logs (subject, created_at);
CREATE INDEX IF NOT EXISTS request_logs_model ON request_logs (requested_model, created_at);
CREATE INDEX IF NOT EXISTS request_logs_resolved ON request_logs (resolved_model, created_at){resolved_only}
"""
RESOLVED_DIFFERS = "resolved_model IS NOT requested_model"
"""Which rows SQLite's `request_logs_resolved` holds: a model filter matches the others through the
requested model's index already (`query.SQLITE.model_equals`), and most requests name the model that
answers them, so most rows cost one index update fewer (an index is ~1 us of a row's ~8 to write)."""


def table_sql(real: str, resolved_only: str = "") -> str:
    """The request-log table and its indexes, `;`-separated; `real` is the engine's float type (SQLite
    `REAL`, PostgreSQL `DOUBLE PRECISION`), `resolved_only` the condition of the rows the resolved
    model's index holds (all when empty): one definition for both engines' logs."""
    where = f" WHERE {resolved_only}" if resolved_only else ""
    return _TABLE.replace("{real}", real).replace("{resolved_only}", where).strip()


# A file made before the partial index keeps its full one (the same name): its queries answer alike.
_SCHEMA = table_sql("REAL", RESOLVED_DIFFERS)


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the schema in place; usable from any one thread at a time."""
    private_file(path)
    connection = sqlite3.connect(str(path), timeout=5.0, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(_SCHEMA)
    _add_missing_columns(connection)
    return connection


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Logs written by an older gateway keep their rows; new columns get their default."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(request_logs)")}
    if "usage_estimated" not in present:
        connection.execute("ALTER TABLE request_logs ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0")
    if "limits" not in present:
        connection.execute("ALTER TABLE request_logs ADD COLUMN limits TEXT NOT NULL DEFAULT '{}'")
    if "trace_id" not in present:
        connection.execute("ALTER TABLE request_logs ADD COLUMN trace_id TEXT")
    if "teams" not in present:
        connection.execute(f"ALTER TABLE request_logs ADD COLUMN {TEAMS_COLUMN}")
    if "guardrails" not in present:
        connection.execute("ALTER TABLE request_logs ADD COLUMN guardrails TEXT NOT NULL DEFAULT '[]'")
