"""The tables of the Files and Batch APIs, created by the store's migrations on both engines.

Files keep their bytes in the database (BLOB / BYTEA) so every replica sharing PostgreSQL serves them
and a restart loses none. A batch is one row: its OpenAI object as JSON (`body`) with the columns it is
looked up by, and the lease (`claimed_by`, `claimed_until`) of the process executing it. Each finished
request line is a row of `batch_results` written as it ends, which is what lets a restarted gateway
resume a batch where it stopped; they are folded into the output and error files when the batch ends.
"""

from __future__ import annotations

_TABLES = """
CREATE TABLE IF NOT EXISTS openai_files (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    filename    TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    content     {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS openai_files_owner ON openai_files (owner, created_at);
CREATE TABLE IF NOT EXISTS batches (
    id            TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    token_id      TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    body          TEXT NOT NULL,
    claimed_by    TEXT,
    claimed_until DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS batches_owner ON batches (owner, created_at);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
CREATE TABLE IF NOT EXISTS batch_results (
    batch_id    TEXT NOT NULL,
    line        INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    result      TEXT NOT NULL,
    PRIMARY KEY (batch_id, line)
)
"""

SQLITE = _TABLES.format(blob="BLOB")
POSTGRES = _TABLES.format(blob="BYTEA")
