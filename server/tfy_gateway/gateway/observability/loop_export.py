"""`LoopSpanQueue`: spans exported from the event loop itself, with no export thread.

`export.SpanQueue`'s worker thread encodes and posts in parallel with the serving loop, and the two
take the GIL from each other: under load each hand-off is a futex wake-up and the loop's code and data
leave the core's cache while the thread runs. Here a full batch (or what is queued once the schedule
delay has passed) is encoded on the loop in slices, with a loop turn between them so that requests keep
being served, and posted through the lean asyncio HTTP/1.1 client (`providers.http1_client`) without
blocking. The contract is `SpanQueue`'s: a bounded queue dropping the newest span when full, every span
counted (exported, filtered, dropped_queue_full / export_failed / shutdown), retries of a retryable
answer within the export timeout, errors logged once per `export.LOG_EVERY_S`, `force_flush` and
`shutdown` callable from another thread (they wait for the loop to do the work).

A batch posted as several encoded slices is one `ExportTraceServiceRequest` with a `ResourceSpans` per
slice (the same resource and scope): protobuf concatenates repeated fields, and collectors read it as
they would the spans in one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Sequence

from tfy_gateway.gateway.observability.export import LOG_EVERY_S, ExportCounts, Filters, matching
from tfy_gateway.gateway.observability.otlp_encoding import SpanEncoder
from tfy_gateway.gateway.observability.span_records import QueuedSpan
from tfy_gateway.gateway.observability.span_senders import FIRST_PAUSE_S, RETRYABLE
from tfy_gateway.gateway.observability.spans import RecordedSpan
from tfy_gateway.gateway.observability.spec import Batching, Target
from tfy_gateway.gateway.providers.http1_client import Http1Client, Limits
from tfy_gateway.gateway.providers.transport import TransportError

logger = logging.getLogger(__name__)

SLICE = 128
"""Spans encoded in one loop turn (~0.5 ms): a full batch of 512 does not hold the loop for ~2 ms."""
MAX_ANSWER = 1 << 20


class LoopSpanQueue:
    """Ended spans queued (bounded) and exported in batches by tasks on `loop` (create it there)."""

    def __init__(
        self,
        target: Target,
        encoder: SpanEncoder,
        batching: Batching,
        counts: ExportCounts,
        *,
        filters: Filters,
        where: str,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._url = target.endpoint
        self._headers = {**dict(target.headers), "content-type": "application/x-protobuf"}
        self._client: Http1Client | None = None
        self._encoder = encoder
        self._batching = batching
        self._counts = counts
        self._filters = filters
        self._where = where
        self._queue: collections.deque[QueuedSpan] = collections.deque()
        self._exporting = False
        self._timer: asyncio.TimerHandle | None = None
        self._last_export = self._loop.time()
        self._flushes = 0  # force_flush calls waiting: partial batches go out meanwhile
        self._closed = False
        self._idle = threading.Condition()  # notified when an export ends (force_flush, shutdown wait on it)
        self._failures = 0
        self._last_log = 0.0

    # --- the event loop's side ----------------------------------------------------------------------

    def on_end(self, span: RecordedSpan) -> None:
        """Queue an ended span (dropped and counted when the queue is full or closed)."""
        self.on_end_all((span,))

    def on_end_all(self, spans: Sequence[QueuedSpan]) -> None:
        """Queue a request's ended spans at once (on the loop); those the queue has no room for (or all,
        once it is closed) are dropped and counted."""
        if self._closed:
            self._counts.add("dropped_shutdown", len(spans))
            return
        queue = self._queue
        room = self._batching.queue_size - len(queue)
        if room < len(spans):
            self._counts.add("dropped_queue_full", len(spans) - max(room, 0))
            spans = spans[: max(room, 0)]
        queue.extend(spans)
        if self._exporting:
            return  # the running export takes the next full batch when it is done
        if len(queue) >= self._batching.batch_size:
            self._start(everything=False)
        elif self._timer is None and queue:
            self._timer = self._loop.call_at(self._last_export + self._batching.schedule_delay_s, self._due)

    def _due(self) -> None:
        self._timer = None
        if self._exporting or not self._queue:
            return
        due = self._last_export + self._batching.schedule_delay_s
        if self._loop.time() < due:  # a full batch went out meanwhile: wait for its delay
            self._timer = self._loop.call_at(due, self._due)
            return
        self._start(everything=True)

    def _start(self, *, everything: bool) -> None:
        if self._exporting:
            return
        self._exporting = True
        self._loop.create_task(self._drain(everything))

    async def _drain(self, everything: bool) -> None:
        queue, size = self._queue, self._batching.batch_size
        try:
            while len(queue) >= size or (queue and (everything or self._closed or self._flushes > 0)):
                batch = [queue.popleft() for _ in range(min(size, len(queue)))]
                await self._export(batch)
        except Exception:  # an export must never leave the queue stuck as "exporting"
            logger.exception("exporting spans to %s failed", self._where)
        finally:
            self._exporting = False
            self._last_export = self._loop.time()
            with self._idle:
                self._idle.notify_all()
            if queue and self._timer is None and not self._closed:
                self._timer = self._loop.call_at(self._last_export + self._batching.schedule_delay_s, self._due)

    async def _export(self, batch: list[QueuedSpan]) -> None:
        kept = [span for span in batch if matching(span, self._filters)] if self._filters else batch
        self._counts.add("filtered", len(batch) - len(kept))
        if not kept:
            return
        try:
            error = await self._send(await self._encoded(kept))
        except Exception as exc:  # an exporter must never take the loop's task down
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self._counts.add("exported", len(kept))
            return
        self._counts.add("dropped_export_failed", len(kept))
        self._failures += len(kept)
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

    async def _encoded(self, spans: list[QueuedSpan]) -> bytes:
        """The batch's request, a slice a loop turn."""
        encode = self._encoder.encode
        if len(spans) <= SLICE:
            return encode(spans)
        parts = []
        for start in range(0, len(spans), SLICE):
            if start:
                await asyncio.sleep(0)
            parts.append(encode(spans[start : start + SLICE]))
        return b"".join(parts)

    async def _send(self, body: bytes) -> str | None:
        """POST `body`, again after a growing pause while the answer is retryable, within the timeout."""
        timeout = self._batching.export_timeout_s
        deadline = self._loop.time() + timeout
        pause = FIRST_PAUSE_S
        while True:
            left = max(deadline - self._loop.time(), 0.001)
            retryable, reason = await self._post(body, left)
            if reason is None:
                return None
            if not retryable or self._loop.time() + pause >= deadline:
                return reason
            await asyncio.sleep(pause)
            pause *= 2

    async def _post(self, body: bytes, left: float) -> tuple[bool, str | None]:
        if self._client is None:
            self._client = Http1Client(MAX_ANSWER)
        try:
            answer = await self._client.post(self._url, self._headers, body, Limits(left, left, left, "total"))
        except (TransportError, OSError) as exc:
            return True, f"{type(exc).__name__}: {exc}"
        if 200 <= answer.status < 300:
            return False, None
        return answer.status in RETRYABLE, f"HTTP {answer.status}"

    # --- any thread ------------------------------------------------------------------------------

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _call(self, callback: object) -> bool:
        """Run `callback` on the loop; False when the loop is closed."""
        try:
            self._loop.call_soon_threadsafe(callback)  # type: ignore[arg-type]
        except RuntimeError:
            return False
        return True

    def _everything(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._queue and not self._exporting:
            self._start(everything=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every span queued so far went out (or was counted lost); False on timeout. On the
        loop's own thread it cannot wait: it starts the export and says whether nothing is left."""
        if self._on_loop():
            self._everything()
            return not self._queue and not self._exporting
        deadline = time.monotonic() + timeout_millis / 1000
        with self._idle:
            self._flushes += 1
            try:
                while self._queue or self._exporting:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._call(self._everything):
                        return not self._queue and not self._exporting
                    self._idle.wait(min(left, 0.05))
            finally:
                self._flushes -= 1
        return True

    def shutdown(self) -> None:
        """Export what is queued (bounded by the export timeout), then stop; what is left is counted lost."""
        if self._closed:
            return
        self._closed = True
        if not self._on_loop():
            deadline = time.monotonic() + self._batching.export_timeout_s * 2 + 1
            with self._idle:
                while (self._queue or self._exporting) and self._call(self._everything):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._idle.wait(min(left, 0.05))
        left = len(self._queue)
        self._queue.clear()
        self._counts.add("dropped_shutdown", left)
        if self._client is not None:
            self._call(self._client.close)
