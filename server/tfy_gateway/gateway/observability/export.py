"""Spans leave the process here, off the event loop: `SpanQueue` (a bounded queue drained by one
worker thread) encodes them to OTLP protobuf (`otlp_encoding`) and hands each batch to the target's
`span_senders.SpanSender`.

The SDK's own BatchSpanProcessor logs a warning for every span it drops and counts nothing the
gateway can report; this queue drops the newest span when it is full (one comparison on the event
loop), and counts every span that will never reach the collector: dropped because the queue was
full, because the collector failed or refused the batch, or because the exporter was shut down with
spans still queued (`ExportCounts`, the `tfy_gateway_trace_spans_*` metrics). Export errors are
logged once per `LOG_EVERY_S`, with what was lost meanwhile. `when` filters of the configuration are
applied in the worker too: a span they leave out is counted as filtered, not lost.

The worker exports full batches only, as the SDK's processor does, unless the schedule delay has
passed since its last export, a flush asked for everything or the queue is shutting down. Draining
whatever had trickled in while the previous batch was being sent kept the thread exporting nearly
without pause in small batches (36 spans an export under load instead of 512), each export a POST,
a wake-up and a contention for the GIL with the serving loop.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from tfy_gateway.gateway.observability.otlp_encoding import SpanEncoder
from tfy_gateway.gateway.observability.span_records import QueuedSpan, RequestSpans, SpanRecord
from tfy_gateway.gateway.observability.span_senders import SpanSender, json_body
from tfy_gateway.gateway.observability.spans import RecordedSpan
from tfy_gateway.gateway.observability.spec import Batching

logger = logging.getLogger(__name__)

LOG_EVERY_S = 30.0
Filters = tuple[tuple[str, frozenset[str]], ...]


class ExportCounts:
    """What became of ended spans; incremented from the event loop (drops) and the worker thread."""

    def __init__(self, on_change: Callable[[str, int], None] | None = None) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = collections.defaultdict(int)
        self._on_change = on_change

    def add(self, outcome: str, count: int) -> None:
        """`outcome`: exported, filtered, or dropped_<reason> (queue_full, export_failed, shutdown)."""
        if count <= 0:
            return
        with self._lock:
            self.counts[outcome] += count
        if self._on_change is not None:
            self._on_change(outcome, count)

    @property
    def dropped(self) -> int:
        with self._lock:
            return sum(n for outcome, n in self.counts.items() if outcome.startswith("dropped"))

    def get(self, outcome: str) -> int:
        with self._lock:
            return self.counts.get(outcome, 0)


class SpanQueue:
    """Ended spans are queued (bounded) and exported in batches by a worker thread."""

    def __init__(
        self,
        sender: SpanSender,
        encoder: SpanEncoder,
        batching: Batching,
        counts: ExportCounts,
        *,
        filters: Filters,
        where: str,
    ) -> None:
        self._sender = sender
        self._encoder = encoder
        self._batching = batching
        self._counts = counts
        self._filters = filters
        self._where = where
        self._queue: collections.deque[QueuedSpan] = collections.deque()
        # Spans (not items: a `RequestSpans` is several) ever queued and ever taken off: each written by
        # one thread only (the event loop; the worker), so neither update can be lost between the two
        self._added = 0
        self._taken = 0
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._exporting = False
        self._flushes = 0  # force_flush calls waiting: the worker exports partial batches meanwhile
        self._closed = False
        self._failures = 0  # spans lost since the last logged export error
        self._last_log = 0.0
        self._thread = threading.Thread(target=self._run, name="tfy-gateway-span-export", daemon=True)
        self._thread.start()

    # --- the event loop's side ----------------------------------------------------------------------

    def on_end(self, span: RecordedSpan) -> None:
        """Queue an ended span (dropped and counted when the queue is full or closed)."""
        self.on_end_all((span,))

    def on_end_all(self, spans: Sequence[SpanRecord]) -> None:
        """Queue a request's ended spans at once; those the queue has no room for (or all, once it is
        closed) are dropped and counted."""
        if self._closed:
            self._counts.add("dropped_shutdown", len(spans))
            return
        queued = self._added - self._taken
        room = self._batching.queue_size - queued
        if room < len(spans):
            self._counts.add("dropped_queue_full", len(spans) - max(room, 0))
            spans = spans[: max(room, 0)]
        self._queue.extend(spans)
        self._added += len(spans)
        if queued < self._batching.batch_size <= queued + len(spans):  # a full batch now (the worker re-checks)
            self._wake.set()

    def on_end_request(self, record: RequestSpans) -> None:
        """Queue every span of a request as one item (`RequestSpans`); with room for some of them only,
        as `on_end_all` queues them one by one."""
        count = record.span_count
        queued = self._added - self._taken
        if self._closed or self._batching.queue_size - queued < count:
            self.on_end_all(record.spans())
            return
        self._queue.append(record)
        self._added += count
        if queued < self._batching.batch_size <= queued + count:
            self._wake.set()

    def shutdown(self) -> None:
        """Export what is queued (bounded by the export timeout), then stop; what is left is counted lost."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(self._batching.export_timeout_s * 2 + 1)
        left = self._added - self._taken
        self._queue.clear()
        self._counts.add("dropped_shutdown", left)
        try:
            self._sender.close()
        except Exception:
            logger.exception("closing the span exporter to %s failed", self._where)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every span queued so far went out (or was counted lost); False on timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._idle:
            self._flushes += 1
            try:
                while self._queue or self._exporting:
                    left = deadline - time.monotonic()
                    if left <= 0 or (self._closed and not self._thread.is_alive()):
                        return not self._queue and not self._exporting
                    self._wake.set()
                    self._idle.wait(min(left, 0.05))
            finally:
                self._flushes -= 1
        return True

    # --- the worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        delay, size, queue = self._batching.schedule_delay_s, self._batching.batch_size, self._queue
        due = time.monotonic() + delay
        while True:
            self._wake.wait(max(due - time.monotonic(), 0.0))
            self._wake.clear()
            everything = self._closed or self._flushes > 0 or time.monotonic() >= due
            while self._added - self._taken >= size or (queue and everything):
                with self._idle:
                    self._exporting = True
                batch, count = self._take(size)
                try:
                    self._export(batch, count)
                finally:
                    with self._idle:
                        self._exporting = False
                        self._idle.notify_all()
                due = time.monotonic() + delay
                everything = everything or self._closed or self._flushes > 0
            if time.monotonic() >= due:
                due = time.monotonic() + delay
            if self._closed:
                return

    def _take(self, size: int) -> tuple[list[QueuedSpan], int]:
        """The next batch off the queue, at most `size` spans (unless its first item alone is more), and
        how many spans it holds."""
        queue, batch, count = self._queue, [], 0
        while queue:
            item = queue[0]
            weight = item.span_count if item.__class__ is RequestSpans else 1
            if count and count + weight > size:
                break
            batch.append(queue.popleft())
            count += weight
            if count >= size:
                break
        self._taken += count
        return batch, count

    def _export(self, batch: list[QueuedSpan], count: int) -> None:
        if self._filters:
            spans = [span for item in batch for span in _spans(item)]
            kept: list[QueuedSpan] = [span for span in spans if _matches(span, self._filters)]
            self._counts.add("filtered", count - len(kept))
            count = len(kept)
        else:
            kept = batch
        if not kept:
            return
        try:
            error = self._sender.send(self._encoder.encode(kept))
        except Exception as exc:  # an exporter must never take the worker down
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self._counts.add("exported", count)
            return
        self._counts.add("dropped_export_failed", count)
        self._failures += count
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            logger.error(
                "exporting spans to %s failed (%s): %d span(s) lost since the last report; requests are not "
                "affected (tfy_gateway_trace_spans_dropped_total counts every lost span)",
                self._where,
                error,
                self._failures,
            )
            self._last_log, self._failures = now, 0


def _spans(item: QueuedSpan) -> list[SpanRecord]:
    return item.spans() if item.__class__ is RequestSpans else [item]  # type: ignore[list-item]


def _matches(span: SpanRecord, filters: Filters) -> bool:
    for key, values in filters:
        value = span.get(key)
        if not isinstance(value, str) or value not in values:
            return False
    return True


# --- OTLP/JSON for the metrics exporter ----------------------------------------------------------


class JsonPoster:
    """POSTs OTLP/JSON bodies (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): the
    protobuf JSON mapping, except that trace and span ids are hex strings, not base64."""

    def __init__(self, endpoint: str, headers: dict[str, str], timeout_s: float) -> None:
        self._endpoint = endpoint
        self._client = httpx.Client(timeout=timeout_s, headers={**headers, "content-type": "application/json"})

    def post(self, message: Any) -> bool:
        try:
            response = self._client.post(self._endpoint, content=json_body(message))
        except httpx.HTTPError as exc:
            logger.debug("OTLP/JSON export to %s failed: %s", self._endpoint, exc)
            return False
        return 200 <= response.status_code < 300

    def close(self) -> None:
        self._client.close()
