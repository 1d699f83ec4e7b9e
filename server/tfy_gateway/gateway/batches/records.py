"""Files, batches and their line results in the store: plain rows in, plain rows out.

Every method is synchronous (run it with `Store.run`). Writes go through `Store.writing`, which does
not move the configuration's change counter. Ownership is part of every lookup: a row belongs to the
subject that created it (`user:<email>` or `virtualaccount:<name>`), and another owner's id reads as
missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tfy_gateway.gateway.store import Store

FILE_COLUMNS = "id, owner, purpose, filename, bytes, created_at"
BATCH_COLUMNS = "id, owner, token_id, status, created_at, body"


@dataclass(frozen=True)
class FileRow:
    id: str
    owner: str
    purpose: str
    filename: str
    bytes: int
    created_at: int

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's file object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


@dataclass(frozen=True)
class BatchRow:
    id: str
    owner: str
    token_id: str
    status: str
    created_at: int
    body: dict[str, Any]  # the OpenAI batch object as last written


@dataclass(frozen=True)
class LineResult:
    line: int
    failed: bool
    result: str  # one line of the output or error file (JSON)


def _file(row: Sequence[Any]) -> FileRow:
    return FileRow(row[0], row[1], row[2], row[3], int(row[4]), int(row[5]))


def _batch(row: Sequence[Any]) -> BatchRow:
    return BatchRow(row[0], row[1], row[2], row[3], int(row[4]), orjson.loads(row[5]))


class BatchRecords:
    """The Files and Batch API's tables in `store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- files ---------------------------------------------------------------------------------

    def add_file(self, row: FileRow, content: bytes) -> None:
        with self.store.writing() as execute:
            execute(
                f"INSERT INTO openai_files ({FILE_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.id, row.owner, row.purpose, row.filename, row.bytes, row.created_at, content),
            )

    def file(self, owner: str, file_id: str) -> FileRow | None:
        with self.store.reading() as execute:
            found = execute(
                f"SELECT {FILE_COLUMNS} FROM openai_files WHERE id = ? AND owner = ?", (file_id, owner)
            ).fetchone()
        return _file(found) if found else None

    def files(
        self, owner: str, *, purpose: str | None, after: str | None, limit: int, newest_first: bool
    ) -> list[FileRow]:
        """One page of the owner's files, ordered by creation (ties by id); `after`: the last id seen."""
        where, params = ["owner = ?"], [owner]
        if purpose is not None:
            where.append("purpose = ?")
            params.append(purpose)
        if after is not None:
            sign = "<" if newest_first else ">"
            where.append(
                f"(created_at, id) {sign} (SELECT created_at, id FROM openai_files WHERE id = ? AND owner = ?)"
            )
            params += [after, owner]
        order = "DESC" if newest_first else "ASC"
        statement = (
            f"SELECT {FILE_COLUMNS} FROM openai_files WHERE {' AND '.join(where)}"
            f" ORDER BY created_at {order}, id {order} LIMIT ?"
        )
        with self.store.reading() as execute:
            rows = execute(statement, (*params, limit)).fetchall()
        return [_file(row) for row in rows]

    def content(self, owner: str, file_id: str) -> bytes | None:
        with self.store.reading() as execute:
            found = execute("SELECT content FROM openai_files WHERE id = ? AND owner = ?", (file_id, owner)).fetchone()
        return bytes(found[0]) if found else None

    def delete_file(self, owner: str, file_id: str) -> bool:
        with self.store.writing() as execute:
            return execute("DELETE FROM openai_files WHERE id = ? AND owner = ?", (file_id, owner)).rowcount > 0

    # --- batches -------------------------------------------------------------------------------

    def add_batch(self, row: BatchRow) -> None:
        with self.store.writing() as execute:
            execute(
                f"INSERT INTO batches ({BATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.owner, row.token_id, row.status, row.created_at, orjson.dumps(row.body).decode()),
            )

    def batch(self, batch_id: str, owner: str | None = None) -> BatchRow | None:
        """The batch, if it exists (and belongs to `owner`, when given)."""
        statement = f"SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?"
        params: tuple[Any, ...] = (batch_id,)
        if owner is not None:
            statement += " AND owner = ?"
            params += (owner,)
        with self.store.reading() as execute:
            found = execute(statement, params).fetchone()
        return _batch(found) if found else None

    def batches(self, owner: str, *, after: str | None, limit: int) -> list[BatchRow]:
        """One page of the owner's batches, newest first; `after`: the last id seen."""
        where, params = "owner = ?", [owner]
        if after is not None:
            where += " AND (created_at, id) < (SELECT created_at, id FROM batches WHERE id = ? AND owner = ?)"
            params += [after, owner]
        statement = f"SELECT {BATCH_COLUMNS} FROM batches WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ?"
        with self.store.reading() as execute:
            rows = execute(statement, (*params, limit)).fetchall()
        return [_batch(row) for row in rows]

    def update_batch(self, batch_id: str, status: str, body: dict[str, Any], only_from: Sequence[str] = ()) -> bool:
        """Write the batch's status and object; with `only_from`, only while its status is one of those
        (a cancel must not undo a completion written meanwhile, nor a completion a cancel)."""
        statement = "UPDATE batches SET status = ?, body = ? WHERE id = ?"
        params: tuple[Any, ...] = (status, orjson.dumps(body).decode(), batch_id)
        if only_from:
            statement += f" AND status IN ({', '.join('?' * len(only_from))})"
            params += tuple(only_from)
        with self.store.writing() as execute:
            return execute(statement, params).rowcount > 0

    def runnable(self, statuses: Sequence[str], worker: str, now: float) -> list[str]:
        """Ids of unfinished batches no other live process holds, oldest first."""
        marks = ", ".join("?" * len(statuses))
        statement = (
            f"SELECT id FROM batches WHERE status IN ({marks})"
            " AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < ?) ORDER BY created_at, id"
        )
        with self.store.reading() as execute:
            return [row[0] for row in execute(statement, (*statuses, worker, now)).fetchall()]

    def claim(self, batch_id: str, worker: str, now: float, until: float) -> bool:
        """Hold the batch until `until` unless another process holds it now (a lease, renewed while it runs)."""
        with self.store.writing() as execute:
            cursor = execute(
                "UPDATE batches SET claimed_by = ?, claimed_until = ? WHERE id = ?"
                " AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < ?)",
                (worker, until, batch_id, worker, now),
            )
            return cursor.rowcount > 0

    def release(self, batch_id: str, worker: str) -> None:
        with self.store.writing() as execute:
            execute(
                "UPDATE batches SET claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
                (batch_id, worker),
            )

    # --- line results --------------------------------------------------------------------------

    def add_results(self, batch_id: str, results: Sequence[LineResult]) -> None:
        """Record finished lines; a line recorded already keeps its first result."""
        with self.store.writing() as execute:
            for result in results:
                execute(
                    "INSERT INTO batch_results (batch_id, line, failed, result) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (batch_id, line) DO NOTHING",
                    (batch_id, result.line, int(result.failed), result.result),
                )

    def done_lines(self, batch_id: str) -> set[int]:
        with self.store.reading() as execute:
            rows = execute("SELECT line FROM batch_results WHERE batch_id = ?", (batch_id,)).fetchall()
        return {int(row[0]) for row in rows}

    def counts(self, batch_id: str) -> tuple[int, int]:
        """(completed, failed) lines so far."""
        with self.store.reading() as execute:
            row = execute(
                "SELECT COUNT(*), COALESCE(SUM(failed), 0) FROM batch_results WHERE batch_id = ?", (batch_id,)
            ).fetchone()
        total, failed = int(row[0]), int(row[1])
        return total - failed, failed

    def results(self, batch_id: str) -> list[LineResult]:
        with self.store.reading() as execute:
            rows = execute(
                "SELECT line, failed, result FROM batch_results WHERE batch_id = ? ORDER BY line", (batch_id,)
            ).fetchall()
        return [LineResult(int(row[0]), bool(row[1]), row[2]) for row in rows]

    def finish(self, batch_id: str, status: str, body: dict[str, Any], files: Sequence[tuple[FileRow, bytes]]) -> bool:
        """Store the output and error files, the batch's final status and object, and drop its line
        results: in one transaction, so a crash leaves either the running batch or the finished one.
        False (nothing written) when the batch already ended."""
        with self.store.writing() as execute:
            changed = execute(
                "UPDATE batches SET status = ?, body = ?, claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ? AND status IN ('validating', 'in_progress', 'finalizing', 'cancelling')",
                (status, orjson.dumps(body).decode(), batch_id),
            ).rowcount
            if not changed:
                return False
            for row, content in files:
                execute(
                    f"INSERT INTO openai_files ({FILE_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row.id, row.owner, row.purpose, row.filename, row.bytes, row.created_at, content),
                )
            execute("DELETE FROM batch_results WHERE batch_id = ?", (batch_id,))
        return True
