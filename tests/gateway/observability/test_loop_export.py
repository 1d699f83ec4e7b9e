"""`LoopSpanQueue`: `SpanQueue`'s contract (bounded, every span counted, full batches, the schedule delay,
retries, flush and shutdown from another thread) with the export done by the event loop."""

from __future__ import annotations

import asyncio
import logging

import anyio
import pytest

from tests.gateway.observability.otlp_receiver import OtlpReceiver
from tfy_gateway.gateway.observability import loop_export
from tfy_gateway.gateway.observability.export import ExportCounts
from tfy_gateway.gateway.observability.loop_export import LoopSpanQueue
from tfy_gateway.gateway.observability.otlp_encoding import SpanEncoder
from tfy_gateway.gateway.observability.spans import SERVER, RecordedSpan, new_span_id, new_trace_id
from tfy_gateway.gateway.observability.spec import Batching, Target

HOUR = 3600.0


def queue_to(
    receiver: OtlpReceiver,
    counts: ExportCounts,
    batching: Batching,
    filters: tuple[tuple[str, frozenset[str]], ...] = (),
) -> LoopSpanQueue:
    target = Target(protocol="http/protobuf", endpoint=receiver.traces_url)
    encoder = SpanEncoder({"service.name": "test"}, "test")
    return LoopSpanQueue(target, encoder, batching, counts, filters=filters, where="test")


def spans(*names: str, attributes: dict[str, str] | None = None) -> list[RecordedSpan]:
    return [RecordedSpan(name, SERVER, new_trace_id(), new_span_id(), 0, 1, dict(attributes or {})) for name in names]


def names(receiver: OtlpReceiver) -> list[str]:
    return [span.name for span in receiver.spans]


async def flush(queue: LoopSpanQueue) -> bool:
    """force_flush as the app calls it: from a thread, the loop doing the export meanwhile."""
    return await anyio.to_thread.run_sync(queue.force_flush, 10_000)


async def until(condition: object, seconds: float = 30.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_full_queue_drops_the_newest_and_counts_them_then_flush_exports_the_rest() -> None:
    reported: list[tuple[str, int]] = []
    counts = ExportCounts(lambda outcome, n: reported.append((outcome, n)))
    with OtlpReceiver() as receiver:
        queue = queue_to(receiver, counts, Batching(queue_size=3, batch_size=10, schedule_delay_s=HOUR))
        for span in spans("a", "b", "c", "d", "e"):
            queue.on_end(span)
        assert counts.get("dropped_queue_full") == 2
        assert await flush(queue)
        assert names(receiver) == ["a", "b", "c"]
        await anyio.to_thread.run_sync(queue.shutdown)
        queue.on_end_all(spans("late"))
    assert reported == [("dropped_queue_full", 1), ("dropped_queue_full", 1), ("exported", 3), ("dropped_shutdown", 1)]


async def test_a_full_batch_goes_at_once_and_one_ended_meanwhile_waits_for_the_next() -> None:
    counts = ExportCounts()
    with OtlpReceiver() as receiver:
        queue = queue_to(receiver, counts, Batching(queue_size=100, batch_size=4, schedule_delay_s=HOUR))
        queue.on_end_all(spans("a", "b", "c", "d", "e"))  # a full batch (and one more): no flush, no delay
        await until(lambda: receiver.requests == 1)
        assert names(receiver) == ["a", "b", "c", "d"]
        queue.on_end_all(spans("f", "g", "h"))
        await until(lambda: receiver.requests == 2)
        assert names(receiver) == ["a", "b", "c", "d", "e", "f", "g", "h"]
        queue.on_end_all(spans("last"))
        await anyio.to_thread.run_sync(queue.shutdown)  # a partial batch goes out at shutdown
        assert (receiver.requests, names(receiver)[-1], counts.get("exported")) == (3, "last", 9)


async def test_a_partial_batch_goes_out_once_the_schedule_delay_has_passed() -> None:
    with OtlpReceiver() as receiver:
        queue = queue_to(receiver, ExportCounts(), Batching(batch_size=512, schedule_delay_s=0.05))
        queue.on_end_all(spans("alone"))
        await until(lambda: names(receiver) == ["alone"])
        await anyio.to_thread.run_sync(queue.shutdown)


async def test_a_large_batch_is_encoded_in_slices_and_received_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_export, "SLICE", 3)
    counts = ExportCounts()
    with OtlpReceiver() as receiver:
        queue = queue_to(receiver, counts, Batching(queue_size=100, batch_size=8, schedule_delay_s=HOUR))
        sent = [f"s{n}" for n in range(8)]
        queue.on_end_all(spans(*sent))
        await until(lambda: receiver.requests == 1)
        assert names(receiver) == sent
        assert {span.resource["service.name"] for span in receiver.spans} == {"test"}
        await anyio.to_thread.run_sync(queue.shutdown)
    assert counts.get("exported") == 8


async def test_when_filters_leave_spans_out_without_counting_them_lost() -> None:
    counts = ExportCounts()
    with OtlpReceiver() as receiver:
        queue = queue_to(
            receiver, counts, Batching(schedule_delay_s=HOUR), filters=(("tfy.span_type", frozenset({"Model"})),)
        )
        queue.on_end_all(spans("model", attributes={"tfy.span_type": "Model"}))
        queue.on_end_all(spans("server", attributes={"tfy.span_type": "ChatCompletion"}))
        queue.on_end_all(spans("bare"))
        assert await flush(queue)
        assert names(receiver) == ["model"]
        await anyio.to_thread.run_sync(queue.shutdown)
    assert (counts.get("exported"), counts.get("filtered"), counts.dropped) == (1, 2, 0)


async def test_a_retryable_answer_is_retried_and_another_loses_the_batch_logged_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop_export, "FIRST_PAUSE_S", 0.01)
    counts = ExportCounts()
    with OtlpReceiver() as receiver:
        queue = queue_to(receiver, counts, Batching(schedule_delay_s=HOUR, export_timeout_s=5))
        receiver.answer_first(503)
        queue.on_end_all(spans("x"))
        assert await flush(queue)
        assert (receiver.requests, names(receiver), counts.get("exported")) == (2, ["x"], 1)
        receiver.answer_first(400, 400)
        with caplog.at_level(logging.ERROR, logger=loop_export.__name__):
            for name in ("y", "z"):
                queue.on_end_all(spans(name))
                assert await flush(queue)
        assert receiver.requests == 4
        assert counts.get("dropped_export_failed") == 2
        errors = [record for record in caplog.records if record.levelno == logging.ERROR]
        assert len(errors) == 1 and "HTTP 400" in errors[0].getMessage()
        await anyio.to_thread.run_sync(queue.shutdown)


async def test_a_collector_that_is_gone_loses_the_batch_not_the_queue() -> None:
    counts = ExportCounts()
    with OtlpReceiver() as receiver:
        queue = queue_to(receiver, counts, Batching(schedule_delay_s=HOUR, export_timeout_s=0.3))
    queue.on_end_all(spans("a", "b"))  # the receiver stopped: nothing listens
    assert await flush(queue)
    assert counts.get("dropped_export_failed") == 2
    with OtlpReceiver() as receiver:
        queue._url = receiver.traces_url  # the collector back on another port
        queue.on_end_all(spans("c"))
        assert await flush(queue)
        assert names(receiver) == ["c"]
        await anyio.to_thread.run_sync(queue.shutdown)
    assert counts.get("exported") == 1


async def test_flush_on_the_loop_thread_starts_the_export_without_waiting() -> None:
    counts = ExportCounts()
    with OtlpReceiver() as receiver:
        queue = queue_to(receiver, counts, Batching(schedule_delay_s=HOUR))
        queue.on_end_all(spans("a"))
        assert not queue.force_flush(10_000)  # cannot wait on its own loop: the export is under way
        await until(lambda: counts.get("exported") == 1)
        assert queue.force_flush(10_000)
        await anyio.to_thread.run_sync(queue.shutdown)
