"""`SpanQueue`: a bounded queue in front of the sender that counts every span it cannot deliver."""

from __future__ import annotations

import asyncio
import threading

import anyio
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.gateway.observability.otlp_receiver import OtlpReceiver
from tfy_gateway.gateway.observability.export import ExportCounts, SpanQueue
from tfy_gateway.gateway.observability.otlp_encoding import SpanEncoder
from tfy_gateway.gateway.observability.span_senders import ProtobufSender
from tfy_gateway.gateway.observability.spans import SERVER, RecordedSpan, new_span_id, new_trace_id
from tfy_gateway.gateway.observability.spec import Batching, Target

QUIET = Batching(queue_size=3, batch_size=10, schedule_delay_s=3600, export_timeout_s=1)


class Recording:
    """A sender that decodes what it is sent, as a collector would."""

    def __init__(self, fail: bool = False) -> None:
        self.names: list[str] = []
        self.fail = fail

    def send(self, body: bytes) -> str | None:
        if self.fail:
            raise ConnectionError("collector down")
        request = ExportTraceServiceRequest.FromString(body)
        self.names += [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
        return None

    def close(self) -> None:
        return None


def queue_with(
    sender: Recording, counts: ExportCounts, filters: tuple[tuple[str, frozenset[str]], ...] = ()
) -> SpanQueue:
    encoder = SpanEncoder({"service.name": "test"}, "test")
    return SpanQueue(sender, encoder, QUIET, counts, filters=filters, where="test")


def end_spans(queue: SpanQueue, *names: str, attributes: dict[str, str] | None = None) -> None:
    for name in names:
        queue.on_end(RecordedSpan(name, SERVER, new_trace_id(), new_span_id(), 0, 1, dict(attributes or {})))


def test_a_full_queue_drops_the_newest_and_counts_them_then_flush_exports_the_rest() -> None:
    reported: list[tuple[str, int]] = []
    counts = ExportCounts(lambda outcome, n: reported.append((outcome, n)))
    sender = Recording()
    queue = queue_with(sender, counts)
    end_spans(queue, "a", "b", "c", "d", "e")
    assert counts.get("dropped_queue_full") == 2
    assert queue.force_flush(5_000)
    assert sender.names == ["a", "b", "c"]
    assert counts.get("exported") == 3
    queue.shutdown()
    end_spans(queue, "late")
    assert counts.get("dropped_shutdown") == 1
    assert reported == [("dropped_queue_full", 1), ("dropped_queue_full", 1), ("exported", 3), ("dropped_shutdown", 1)]


def test_when_filters_leave_spans_out_without_counting_them_lost() -> None:
    counts = ExportCounts()
    sender = Recording()
    queue = queue_with(sender, counts, filters=(("tfy.span_type", frozenset({"Model"})),))
    end_spans(queue, "model", attributes={"tfy.span_type": "Model"})
    end_spans(queue, "server", attributes={"tfy.span_type": "ChatCompletion"})
    end_spans(queue, "bare")
    assert queue.force_flush(5_000)
    assert sender.names == ["model"]
    assert (counts.get("exported"), counts.get("filtered"), counts.dropped) == (1, 2, 0)
    queue.shutdown()


def test_a_sender_that_raises_loses_the_batch_not_the_worker() -> None:
    counts = ExportCounts()
    sender = Recording(fail=True)
    queue = queue_with(sender, counts)
    end_spans(queue, "a", "b")
    assert queue.force_flush(5_000)
    sender.fail = False
    end_spans(queue, "c")
    assert queue.force_flush(5_000)
    assert (counts.get("dropped_export_failed"), counts.get("exported")) == (2, 1)
    assert sender.names == ["c"]
    queue.shutdown()


class LoopRecording(Recording):
    """A sender that can post from the event loop; notes the threads it was called on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()
        self.closed = False

    async def asend(self, body: bytes) -> str | None:
        self.threads.add(threading.current_thread().name)
        return self.send(body)

    async def aclose(self) -> None:
        self.closed = True


async def until(condition: object, what: str) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not reached in 5 s: {what}")


async def test_on_a_running_loop_batches_go_out_from_the_loop_and_flush_and_shutdown_work_from_a_thread() -> None:
    counts = ExportCounts()
    sender = LoopRecording()
    batching = Batching(queue_size=100, batch_size=4, schedule_delay_s=3600, export_timeout_s=1)
    queue = SpanQueue(sender, SpanEncoder({"service.name": "test"}, "test"), batching, counts, filters=(), where="t")
    end_spans(queue, "a", "b", "c", "d", "e")
    await until(lambda: sender.names == ["a", "b", "c", "d"], "the full batch exported")
    assert sender.threads == {threading.current_thread().name}
    assert "tfy-gateway-span-export" not in {thread.name for thread in threading.enumerate()}
    assert await anyio.to_thread.run_sync(queue.force_flush, 5_000)
    assert sender.names == ["a", "b", "c", "d", "e"]
    end_spans(queue, "f")
    await anyio.to_thread.run_sync(queue.shutdown)
    assert (sender.names[-1], sender.closed, counts.get("exported"), counts.dropped) == ("f", True, 6, 0)


async def test_on_the_loop_a_partial_batch_goes_out_after_the_schedule_delay() -> None:
    counts = ExportCounts()
    sender = LoopRecording()
    batching = Batching(queue_size=100, batch_size=50, schedule_delay_s=0.05, export_timeout_s=1)
    queue = SpanQueue(sender, SpanEncoder({"service.name": "test"}, "test"), batching, counts, filters=(), where="t")
    end_spans(queue, "a")
    await until(lambda: sender.names == ["a"], "the lone span exported by the timer")
    end_spans(queue, "b")
    await until(lambda: sender.names == ["a", "b"], "the timer armed again")
    await anyio.to_thread.run_sync(queue.shutdown)


@pytest.mark.parametrize("way", ["loop", "thread"])
async def test_the_http_sender_retries_a_retryable_status_and_gives_up_on_another(way: str) -> None:
    with OtlpReceiver() as receiver:
        sender = ProtobufSender(Target(protocol="http/protobuf", endpoint=receiver.traces_url), timeout_s=5)
        body = SpanEncoder({"service.name": "test"}, "test").encode(
            [RecordedSpan("x", SERVER, new_trace_id(), new_span_id(), 0, 1, {})]
        )

        async def send() -> str | None:
            if way == "loop":
                return await sender.asend(body)
            return await anyio.to_thread.run_sync(sender.send, body)

        receiver.answer_first(503)
        assert await send() is None
        assert (receiver.requests, [span.name for span in receiver.spans]) == (2, ["x"])
        receiver.answer_first(400)
        assert await send() == "HTTP 400"
        assert receiver.requests == 3
        sender.close()
        await sender.aclose()
