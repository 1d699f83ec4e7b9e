"""`SpanQueue`: a bounded queue in front of the exporter that counts every span it cannot deliver."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tfy_gateway.gateway.observability.export import ExportCounts, SpanQueue
from tfy_gateway.gateway.observability.spec import Batching

QUIET = Batching(queue_size=3, batch_size=10, schedule_delay_s=3600, export_timeout_s=1)


class Recording(SpanExporter):
    def __init__(self, fail: bool = False) -> None:
        self.names: list[str] = []
        self.fail = fail

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.fail:
            raise ConnectionError("collector down")
        self.names += [span.name for span in spans]
        return SpanExportResult.SUCCESS


def provider_with(queue: SpanQueue) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(queue)
    return provider


def end_spans(provider: TracerProvider, *names: str, attributes: dict[str, str] | None = None) -> None:
    tracer = provider.get_tracer("test")
    for name in names:
        tracer.start_span(name, attributes=attributes).end()


def test_a_full_queue_drops_the_newest_and_counts_them_then_flush_exports_the_rest() -> None:
    reported: list[tuple[str, int]] = []
    counts = ExportCounts(lambda outcome, n: reported.append((outcome, n)))
    exporter = Recording()
    queue = SpanQueue(exporter, QUIET, counts, filters=(), where="test")
    provider = provider_with(queue)
    end_spans(provider, "a", "b", "c", "d", "e")
    assert counts.get("dropped_queue_full") == 2
    assert queue.force_flush(5_000)
    assert exporter.names == ["a", "b", "c"]
    assert counts.get("exported") == 3
    provider.shutdown()
    end_spans(provider, "late")
    assert counts.get("dropped_shutdown") == 1
    assert reported == [("dropped_queue_full", 1), ("dropped_queue_full", 1), ("exported", 3), ("dropped_shutdown", 1)]


def test_when_filters_leave_spans_out_without_counting_them_lost() -> None:
    counts = ExportCounts()
    exporter = Recording()
    queue = SpanQueue(exporter, QUIET, counts, filters=(("tfy.span_type", frozenset({"Model"})),), where="test")
    provider = provider_with(queue)
    end_spans(provider, "model", attributes={"tfy.span_type": "Model"})
    end_spans(provider, "server", attributes={"tfy.span_type": "ChatCompletion"})
    end_spans(provider, "bare")
    assert queue.force_flush(5_000)
    assert exporter.names == ["model"]
    assert (counts.get("exported"), counts.get("filtered"), counts.dropped) == (1, 2, 0)
    provider.shutdown()


def test_an_exporter_that_raises_loses_the_batch_not_the_worker() -> None:
    counts = ExportCounts()
    exporter = Recording(fail=True)
    queue = SpanQueue(exporter, QUIET, counts, filters=(), where="test")
    provider = provider_with(queue)
    end_spans(provider, "a", "b")
    assert queue.force_flush(5_000)
    exporter.fail = False
    end_spans(provider, "c")
    assert queue.force_flush(5_000)
    assert (counts.get("dropped_export_failed"), counts.get("exported")) == (2, 1)
    assert exporter.names == ["c"]
    provider.shutdown()
