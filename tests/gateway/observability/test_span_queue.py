"""`SpanQueue`: a bounded queue in front of the sender that counts every span it cannot deliver."""

from __future__ import annotations

import time

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


def test_the_http_sender_retries_a_retryable_status_and_gives_up_on_another() -> None:
    with OtlpReceiver() as receiver:
        sender = ProtobufSender(Target(protocol="http/protobuf", endpoint=receiver.traces_url), timeout_s=5)
        body = SpanEncoder({"service.name": "test"}, "test").encode(
            [RecordedSpan("x", SERVER, new_trace_id(), new_span_id(), 0, 1, {})]
        )
        receiver.answer_first(503)
        assert sender.send(body) is None
        assert (receiver.requests, [span.name for span in receiver.spans]) == (2, ["x"])
        receiver.answer_first(400)
        assert sender.send(body) == "HTTP 400"
        assert receiver.requests == 3
        sender.close()


class EndingMore(Recording):
    """A sender during whose first export two more spans end (as they do under load)."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: SpanQueue | None = None
        self.batches: list[int] = []

    def send(self, body: bytes) -> str | None:
        before = len(self.names)
        super().send(body)
        self.batches.append(len(self.names) - before)
        if len(self.batches) == 1 and self.queue is not None:
            end_spans(self.queue, "during-1", "during-2")
        return None


def test_spans_that_end_during_an_export_wait_for_a_full_batch_not_a_partial_export() -> None:
    sender = EndingMore()
    counts = ExportCounts()
    batching = Batching(queue_size=100, batch_size=4, schedule_delay_s=3600, export_timeout_s=1)
    queue = SpanQueue(sender, SpanEncoder({"service.name": "test"}, "test"), batching, counts, filters=(), where="t")
    sender.queue = queue
    end_spans(queue, "a", "b", "c", "d")  # a full batch: exported at once, not after the hour's delay
    deadline = time.monotonic() + 30
    while not sender.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    end_spans(queue, "e", "f")  # with the two ended during the first export: the next full batch
    assert queue.force_flush(5_000)
    assert sender.batches == [4, 4]
    assert sender.names == ["a", "b", "c", "d", "during-1", "during-2", "e", "f"]
    end_spans(queue, "last")
    queue.shutdown()  # a partial batch goes out at shutdown
    assert sender.batches == [4, 4, 1]
    assert counts.get("exported") == 9


def test_a_partial_batch_goes_out_once_the_schedule_delay_has_passed() -> None:
    sender = Recording()
    batching = Batching(queue_size=100, batch_size=512, schedule_delay_s=0.05, export_timeout_s=1)
    queue = SpanQueue(sender, SpanEncoder({}, "test"), batching, ExportCounts(), filters=(), where="t")
    end_spans(queue, "alone")
    deadline = time.monotonic() + 30
    while not sender.names and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sender.names == ["alone"]
    queue.shutdown()


def test_a_requests_spans_queued_at_once_fill_what_room_is_left_and_start_a_full_batch() -> None:
    reported: list[tuple[str, int]] = []
    counts = ExportCounts(lambda outcome, n: reported.append((outcome, n)))
    sender = Recording()
    batching = Batching(queue_size=5, batch_size=4, schedule_delay_s=3600, export_timeout_s=1)
    queue = SpanQueue(sender, SpanEncoder({}, "test"), batching, counts, filters=(), where="t")

    def spans(*names: str) -> list[RecordedSpan]:
        return [RecordedSpan(name, SERVER, new_trace_id(), new_span_id(), 0, 1, {}) for name in names]

    queue.on_end_all(spans("a", "b", "c"))
    queue.on_end_all(spans("d", "e", "f", "g"))  # room for two: a full batch of four goes without a flush
    deadline = time.monotonic() + 30
    while len(sender.names) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sender.names == ["a", "b", "c", "d"]
    assert reported == [("dropped_queue_full", 2), ("exported", 4)]
    queue.shutdown()
    assert sender.names == ["a", "b", "c", "d", "e"]


def test_a_requests_record_counts_as_its_spans_in_room_batches_filters_and_what_is_exported() -> None:
    """A request's spans queued as one `RequestSpans` take as much room as the spans, make up batches by
    their spans (a record is never split across two batches), are queued one by one when there is room
    for some of them only, and are filtered span by span."""
    from tests.gateway.observability.test_otlp_encoding import request_records

    three, four = request_records()[1:3]  # a call, n guardrails and the request's span each
    assert (three.span_count, four.span_count) == (3, 4)  # type: ignore[union-attr]
    counts = ExportCounts()
    sender = Recording()
    batching = Batching(queue_size=20, batch_size=5, schedule_delay_s=3600, export_timeout_s=1)
    queue = SpanQueue(sender, SpanEncoder({}, "test"), batching, counts, filters=(), where="t")
    queue.on_end_request(three)  # type: ignore[arg-type]
    queue.on_end_request(four)  # type: ignore[arg-type]  # 7 spans: a full batch goes without a flush
    deadline = time.monotonic() + 30
    while not sender.names and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sender.names) == 3  # the first record alone: the second does not fit in the batch
    assert counts.get("exported") == 3
    assert queue.force_flush(5_000)
    assert (len(sender.names), counts.get("exported")) == (7, 7)
    queue.shutdown()

    reported: list[tuple[str, int]] = []
    counts = ExportCounts(lambda outcome, n: reported.append((outcome, n)))
    sender = Recording()
    batching = Batching(queue_size=5, batch_size=10, schedule_delay_s=3600, export_timeout_s=1)
    queue = SpanQueue(sender, SpanEncoder({}, "test"), batching, counts, filters=(), where="t")
    queue.on_end_request(four)  # type: ignore[arg-type]
    queue.on_end_request(three)  # type: ignore[arg-type]  # room for one of its three spans
    assert queue.force_flush(5_000)
    assert sender.names == [span.recorded().name for span in [*four.spans(), three.spans()[0]]]  # type: ignore[union-attr]
    assert reported == [("dropped_queue_full", 2), ("exported", 5)]
    queue.shutdown()

    filtered = ExportCounts()
    sender = Recording()
    only_models = (("tfy.span_type", frozenset({"Model"})),)
    queue = SpanQueue(sender, SpanEncoder({}, "test"), QUIET, filtered, filters=only_models, where="t")
    queue.on_end_request(three)  # type: ignore[arg-type]
    assert queue.force_flush(5_000)
    assert sender.names == []  # none of its spans says it is a model call
    assert (filtered.get("filtered"), filtered.get("exported")) == (3, 0)
    queue.shutdown()
