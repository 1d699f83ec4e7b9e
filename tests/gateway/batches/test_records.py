"""The Files and Batch API's tables on both engines (SQLite and PostgreSQL): ownership, pages,
leases, results kept once, and a batch's end written in one transaction."""

from __future__ import annotations

from functools import partial

from tests.gateway.store.conftest import OpenStore
from tfy_gateway.gateway.batches.records import BatchRecords, BatchRow, FileRow, LineResult
from tfy_gateway.gateway.store import Store

ALICE, BOB = "user:alice@example.com", "user:bob@example.com"


def a_file(file_id: str, owner: str = ALICE, created_at: int = 100) -> FileRow:
    return FileRow(file_id, owner, "batch", f"{file_id}.jsonl", 3, created_at)


def a_batch(batch_id: str, owner: str = ALICE) -> BatchRow:
    return BatchRow(batch_id, owner, "token-1", "in_progress", 100, {"id": batch_id, "status": "in_progress"})


def test_files_belong_to_their_owner(store: Store) -> None:
    records = BatchRecords(store)
    version = store.data_version()
    records.add_file(a_file("file-1"), b"\x00\xffbinary")
    assert store.data_version() == version  # not configuration: no replica reloads for it
    assert records.content(ALICE, "file-1") == b"\x00\xffbinary"
    assert records.file(BOB, "file-1") is None and records.content(BOB, "file-1") is None
    assert not records.delete_file(BOB, "file-1")
    assert records.delete_file(ALICE, "file-1") and records.file(ALICE, "file-1") is None


def test_file_pages_follow_the_cursor(store: Store) -> None:
    records = BatchRecords(store)
    for number in range(5):
        records.add_file(a_file(f"file-{number}", created_at=100 + number), b"abc")
    records.add_file(a_file("file-bob", BOB), b"abc")
    page = partial(records.files, ALICE, purpose=None, limit=2)
    first = page(after=None, newest_first=True)
    assert [f.id for f in first] == ["file-4", "file-3"]
    assert [f.id for f in page(after="file-3", newest_first=True)] == ["file-2", "file-1"]
    assert [f.id for f in page(after="file-1", newest_first=False)] == ["file-2", "file-3"]
    assert records.files(ALICE, purpose="batch_output", after=None, limit=10, newest_first=True) == []


def test_a_batch_is_held_by_one_process_until_its_lease_ends(open_store: OpenStore) -> None:
    one, other = BatchRecords(open_store()), BatchRecords(open_store())  # two replicas
    one.add_batch(a_batch("batch_1"))
    assert one.claim("batch_1", "worker-a", now=1000, until=1030)
    assert not other.claim("batch_1", "worker-b", now=1010, until=1040)
    assert other.runnable(("in_progress",), "worker-b", now=1010) == []
    assert one.claim("batch_1", "worker-a", now=1020, until=1050)  # renewed
    assert other.claim("batch_1", "worker-b", now=1051, until=1081)  # a's lease ended: b takes over
    other.release("batch_1", "worker-b")
    assert one.runnable(("in_progress",), "worker-a", now=1052) == ["batch_1"]


def test_a_status_change_applies_only_from_the_expected_status(store: Store) -> None:
    records = BatchRecords(store)
    records.add_batch(a_batch("batch_1"))
    assert records.update_batch("batch_1", "cancelling", {"status": "cancelling"}, ("validating", "in_progress"))
    assert not records.update_batch("batch_1", "finalizing", {"status": "finalizing"}, ("in_progress",))
    row = records.batch("batch_1", ALICE)
    assert row is not None and row.status == "cancelling"
    assert records.batch("batch_1", BOB) is None


def test_line_results_are_kept_once_and_folded_into_files_at_the_end(store: Store) -> None:
    records = BatchRecords(store)
    records.add_batch(a_batch("batch_1"))
    records.add_results("batch_1", [LineResult(2, False, '{"b":1}'), LineResult(1, True, '{"a":1}')])
    records.add_results("batch_1", [LineResult(2, True, '{"again":1}')])  # a line ran twice: first result kept
    assert records.done_lines("batch_1") == {1, 2}
    assert records.counts("batch_1") == (1, 1)
    assert [r.result for r in records.results("batch_1")] == ['{"a":1}', '{"b":1}']
    output = FileRow("file-out", ALICE, "batch_output", "out.jsonl", 8, 200)
    assert records.finish("batch_1", "completed", {"status": "completed"}, [(output, b'{"b":1}\n')])
    assert records.content(ALICE, "file-out") == b'{"b":1}\n'
    assert records.results("batch_1") == []
    assert not records.finish("batch_1", "cancelled", {"status": "cancelled"}, [])  # it already ended
    row = records.batch("batch_1")
    assert row is not None and (row.status, row.body) == ("completed", {"status": "completed"})
