"""Request-log backends: the SQLite file and PostgreSQL answer the same queries with the same rows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.request_logs.records import NOW, record
from tests.postgres import PostgresServer
from tfy_gateway.gateway.request_logs import LogBackend, LogFilter, LogsUnavailable, LogWriter, log_backend
from tfy_gateway.gateway.store import open_store

_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogBackend]:
    url = None
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"logs_{next(_databases)}")
        open_store(tmp_path / "unused.sqlite3", url).close()  # the store's migrations create the table
    opened = log_backend(tmp_path / "logs.sqlite3", url)
    opened.open()
    yield opened
    opened.close()


def test_both_backends_store_and_answer_alike(backend: LogBackend) -> None:
    limits = {"rate_limit": "rpm", "budgets": ["daily"], "would_have_blocked": []}
    backend.insert([
        record(1, at=NOW - 10).to_row(),
        record(2, at=NOW - 5, subject="user:b@x", status=429).to_row(),
        record(3, at=NOW - 1, subject="user:b@x", usage_estimated=True, limits=limits).to_row(),
    ])  # fmt: skip
    backend.insert([record(3, at=NOW - 1, subject="user:b@x", usage_estimated=True, limits=limits).to_row()])
    page, total = backend.query(LogFilter(subject="user:b@x"), limit=1, offset=0)
    assert total == 2 and [item["id"] for item in page] == ["r3"]  # written twice, stored once
    assert page[0]["usage_estimated"] is True and page[0]["limits"] == limits
    assert page[0]["created_at"] == NOW - 1 and page[0]["latency_ms"] == 1.25 and page[0]["stream"] is False
    assert backend.query(LogFilter(status="4xx"), limit=10, offset=0)[1] == 1
    assert backend.query(LogFilter(model="acct/m", since=NOW - 6), limit=10, offset=0)[1] == 2
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    backend.insert([record(4, at=NOW - 20, trace_id=trace_id).to_row()])
    traced, found = backend.query(LogFilter(trace_id=trace_id.upper()), limit=10, offset=0)
    assert found == 1 and traced[0]["id"] == "r4" and traced[0]["trace_id"] == trace_id
    assert "trace_id" not in page[0]  # no trace: no field
    backend.delete_before(NOW - 15)
    summary = backend.summary(LogFilter())
    assert summary["total"] == {
        "requests": 3,
        "errors": 1,
        "prompt_tokens": 30,
        "completion_tokens": 15,
        "total_tokens": 45,
        "cost": 1.5,
    }
    assert summary["by_model"] == [{"model": "acct/m", **summary["total"]}]
    assert {row["subject"]: row["requests"] for row in summary["by_subject"]} == {"user:a@x": 1, "user:b@x": 2}
    assert backend.summary(LogFilter(since=NOW + 1))["total"]["requests"] == 0
    assert backend.delete_before(NOW - 2) == 2
    assert backend.query(LogFilter(), limit=10, offset=0)[1] == 1


def test_a_batch_is_stored_exactly_and_an_id_once(backend: LogBackend) -> None:
    text = 'tab\there, "quoted", back\\slash, new\nline, \\N, é 🙂'  # what COPY's text format escapes
    rows = [
        record(3, at=NOW + 3).to_row(),  # a plain row first: its shape is the last row's
        record(1, at=NOW + 0.123456, error=text, error_origin="provider", status=502, ttft_ms=0.001).to_row(),
        record(2, at=NOW + 2, request_body=text, response_body="", cost=1e-9, metadata={"k": text}).to_row(),
        record(1, at=NOW + 1, cost=0.25).to_row(),  # the same id again in the batch: the last one is kept
    ]
    backend.insert(rows)
    page, total = backend.query(LogFilter(), limit=10, offset=0)
    assert total == 3
    by_id = {item["id"]: item for item in page}
    assert by_id["r1"]["created_at"] == NOW + 1 and by_id["r1"]["cost"] == 0.25 and by_id["r1"]["error"] is None
    assert by_id["r2"]["request_body"] == text and by_id["r2"]["response_body"] == ""
    assert by_id["r2"]["metadata"] == {"k": text} and by_id["r2"]["cost"] == 1e-9
    backend.insert([rows[1]])
    (first,) = backend.query(LogFilter(id="r1"), limit=1, offset=0)[0]
    assert (first["error"], first["created_at"], first["ttft_ms"]) == (text, NOW + 0.123456, 0.001)


async def test_the_writer_batches_into_either_backend(backend: LogBackend) -> None:
    writer = LogWriter(backend, batch_size=7, flush_interval=60)
    await writer.start()
    try:
        for n in range(50):
            writer.submit(record(n, at=NOW + n))
        await writer.flush()
        assert writer.written == 50 and writer.failed_batches == 0
        page, total = backend.query(LogFilter(), limit=3, offset=0)
        assert total == 50 and [item["id"] for item in page] == ["r49", "r48", "r47"]
    finally:
        await writer.stop()


def test_postgres_logs_survive_a_server_restart(postgres_server: PostgresServer, tmp_path: Path) -> None:
    url = postgres_server.create_database("logs_restart")
    open_store(tmp_path / "unused.sqlite3", url).close()
    backend = log_backend(tmp_path / "unused-logs.sqlite3", url)
    backend.open()
    try:
        backend.insert([record(1).to_row()])
        assert backend.query(LogFilter(), limit=10, offset=0)[1] == 1
        postgres_server.stop()
        postgres_server.start()
        backend.insert([record(2).to_row()])  # the dead connection is replaced, the batch retried
        assert backend.query(LogFilter(), limit=10, offset=0)[1] == 2
    finally:
        backend.close()


async def test_the_writer_keeps_its_batches_while_postgresql_is_down(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.create_database("logs_outage")
    open_store(tmp_path / "unused.sqlite3", url).close()
    backend = log_backend(tmp_path / "unused-logs.sqlite3", url)
    writer = LogWriter(backend, batch_size=4, flush_interval=60)
    await writer.start()
    try:
        writer.submit(record(0))
        await writer.flush()
        postgres_server.stop()
        try:
            for n in range(1, 11):
                writer.submit(record(n, at=NOW + n))
            await writer.flush()
            assert writer.pending == 10 and writer.failed_batches == 1  # kept, in order; no retry storm
            with pytest.raises(LogsUnavailable) as down:
                backend.query(LogFilter(), limit=1, offset=0)
            assert down.value.status == 503 and "postgres@127.0.0.1" in down.value.message
        finally:
            postgres_server.start()
        await writer.flush()
        assert writer.pending == 0 and writer.written == 11
        page, total = backend.query(LogFilter(), limit=2, offset=0)
        assert total == 11 and [item["id"] for item in page] == ["r10", "r9"]
    finally:
        await writer.stop()


def test_a_large_batch_is_written_whole_across_statements(backend: LogBackend) -> None:
    """SQLite writes a batch in statements of many rows: rows at and around each statement's edge,
    and a record repeated within the batch, come out as written (the last copy wins)."""
    rows = [record(n, at=NOW - 1000 + n, cached_tokens=n).to_row() for n in range(300)]
    rows.append(record(7, at=NOW - 1000 + 7, cached_tokens=7_000).to_row())
    backend.insert(rows)
    page, total = backend.query(LogFilter(), limit=500, offset=0)
    assert total == 300
    tokens = {item["id"]: item["cached_tokens"] for item in page}
    assert tokens == {f"r{n}": (7_000 if n == 7 else n) for n in range(300)}
    assert {item["metadata"]["k"] for item in page} == {"v"}


def test_both_backends_filter_group_and_bucket_alike(backend: LogBackend) -> None:
    backend.insert([
        record(1, at=NOW - 125, teams=["backend", "ml"], metadata={"project": "p1", "env": "prod"}, rule_ids=["route-a"]).to_row(),
        record(2, at=NOW - 65, teams=["backend"], metadata={"project": "p2"}, limits={"rate_limit": "rpm"}).to_row(),
        record(3, at=NOW - 61, subject="user:b@x", status=429, metadata={"project": "p1"}, limits={"budgets": ["daily"]}).to_row(),
        record(4, at=NOW - 5, subject="virtualaccount:ci", cost=2.0, metadata={"env": "p1"}).to_row(),
    ])  # fmt: skip

    def ids(where: LogFilter) -> list[str]:
        return sorted(item["id"] for item in backend.query(where, limit=10, offset=0)[0])

    assert ids(LogFilter(team="backend")) == ["r1", "r2"] and ids(LogFilter(team="ml")) == ["r1"]
    assert ids(LogFilter(metadata=(("project", "p1"),))) == ["r1", "r3"]  # r4 has p1 under another key
    assert ids(LogFilter(metadata=(("project", "p1"), ("env", "prod")))) == ["r1"]
    assert ids(LogFilter(rule="route-a")) == ["r1"] and ids(LogFilter(rule="rpm")) == ["r2"]
    assert ids(LogFilter(rule="daily")) == ["r3"] and ids(LogFilter(rule="nope")) == []
    assert (
        ids(LogFilter(id="r3")) == ["r3"] and backend.query(LogFilter(id="r3"), limit=1, offset=0)[0][0]["teams"] == []
    )

    by_team = {row["key"]: row["requests"] for row in backend.breakdown(LogFilter(), "team")}
    assert by_team == {"backend": 2, "ml": 1}  # a request counts for each team its caller was in
    by_project = {
        row["key"]: (row["requests"], row["errors"]) for row in backend.breakdown(LogFilter(), "metadata:project")
    }
    assert by_project == {"p1": (2, 1), "p2": (1, 0)}
    by_model = backend.breakdown(LogFilter(since=NOW - 100), "model")
    assert by_model == [{"key": "acct/m", **backend.summary(LogFilter(since=NOW - 100))["total"]}]
    assert {row["key"] for row in backend.breakdown(LogFilter(), "subject")} == {
        "user:a@x",
        "user:b@x",
        "virtualaccount:ci",
    }
    with pytest.raises(ValueError, match="group_by"):
        backend.breakdown(LogFilter(), "colour")

    series = backend.series(LogFilter(), start=NOW - 180, end=NOW, bucket_s=60)
    assert [point["start"] for point in series] == [NOW - 180, NOW - 120, NOW - 60]
    assert [point["requests"] for point in series] == [1, 2, 1]  # 125 s ago falls in [-180, -120)
    assert series[1]["errors"] == 1 and series[2]["cost"] == 2.0
    narrowed = backend.series(LogFilter(subject="user:a@x", since=NOW - 100), start=NOW - 180, end=NOW, bucket_s=60)
    assert [point["requests"] for point in narrowed] == [0, 1, 0]
