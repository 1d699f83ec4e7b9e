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
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from tfy_gateway.gateway.observability.otlp_encoding import SpanEncoder
from tfy_gateway.gateway.observability.span_senders import AsyncSpanSender, SpanSender, json_body
from tfy_gateway.gateway.observability.spans import RecordedSpan
from tfy_gateway.gateway.observability.spec import Batching

logger = logging.getLogger(__name__)

LOG_EVERY_S = 30.0
SLICE = 64  # spans encoded at a time on the event loop
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
    """Ended spans are queued (bounded) and exported in batches: on the event loop that ends them when
    the sender can post from it (OTLP/HTTP), else by a worker thread.

    On the loop, a batch costs the requests nothing but its encoding (in slices of `SLICE` spans, each
    a few hundred microseconds, so no request waits for a whole batch) and one aiohttp POST; a thread
    cost as much again in GIL hand-offs and wake-ups. The thread remains for gRPC (a blocking stub), for
    a queue used outside any event loop, and to drain what is left once the loop has stopped."""

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
        self._queue: collections.deque[RecordedSpan] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._exporting = False
        self._closed = False
        self._failures = 0  # spans lost since the last logged export error
        self._last_log = 0.0
        self._thread: threading.Thread | None = None
        # the loop's side: bound by the first span ended on a running loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._asend = sender if isinstance(sender, AsyncSpanSender) else None

    # --- the event loop's side ----------------------------------------------------------------------

    def on_end(self, span: RecordedSpan) -> None:
        """Queue an ended span (dropped and counted when the queue is full or closed)."""
        if self._closed:
            self._counts.add("dropped_shutdown", 1)
            return
        queue = self._queue
        if len(queue) >= self._batching.queue_size:
            self._counts.add("dropped_queue_full", 1)
            return
        queue.append(span)
        if self._loop is None and self._thread is None:
            self._bind()
        if self._thread is not None:
            if len(queue) >= self._batching.batch_size:
                self._wake.set()
        elif self._task is None:
            if len(queue) >= self._batching.batch_size:
                self._start_drain(everything=False)
            elif self._timer is None:
                assert self._loop is not None
                self._timer = self._loop.call_later(self._batching.schedule_delay_s, self._on_timer)

    def _bind(self) -> None:
        """Export on the running loop when there is one and the sender can post from it, else start the thread."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and self._asend is not None:
            self._loop = loop
        else:
            self._thread = threading.Thread(target=self._run, name="tfy-gateway-span-export", daemon=True)
            self._thread.start()

    def _on_timer(self) -> None:
        self._timer = None
        if self._task is None and self._queue:
            self._start_drain(everything=True)

    def _start_drain(self, *, everything: bool) -> asyncio.Task[None]:
        assert self._loop is not None
        task = self._task = self._loop.create_task(self._drain(everything))
        return task

    async def _drain(self, everything: bool) -> None:
        """Export full batches (and the rest too when `everything`), one at a time."""
        assert self._asend is not None
        batch_size = self._batching.batch_size
        try:
            while self._queue and (everything or len(self._queue) >= batch_size):
                batch = [self._queue.popleft() for _ in range(min(batch_size, len(self._queue)))]
                kept = self._kept(batch)
                if not kept:
                    continue
                try:
                    parts = []
                    for first in range(0, len(kept), SLICE):
                        parts.append(self._encoder.spans(kept[first : first + SLICE]))
                        await asyncio.sleep(0)
                    error = await self._asend.asend(self._encoder.request(parts))
                except asyncio.CancelledError:
                    self._counts.add("dropped_shutdown", len(kept))
                    raise
                except Exception as exc:  # an exporter must never take the loop's exports down
                    error = f"{type(exc).__name__}: {exc}"
                self._outcome(kept, error)
        finally:
            self._task = None
            if self._queue and self._timer is None and not self._closed and self._loop is not None:
                self._timer = self._loop.call_later(self._batching.schedule_delay_s, self._on_timer)

    async def _drain_all(self, close: bool) -> None:
        """Wait for the export under way, then export everything queued (and close the sender)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._task is not None:
            await asyncio.shield(self._task)
        if self._queue:
            await self._start_drain(everything=True)
        if close and self._asend is not None:
            await self._asend.aclose()

    def _on_loop(self, close: bool, timeout_s: float) -> bool | None:
        """Run `_drain_all` on the bound loop from another thread and wait for it: True when it finished,
        False on timeout, None when there is no running loop to run it on (then the caller drains)."""
        loop = self._loop
        if loop is None or not loop.is_running() or loop.is_closed():
            return None
        try:
            if asyncio.get_running_loop() is loop:  # blocking here would stop the loop itself
                return None
        except RuntimeError:
            pass
        future = asyncio.run_coroutine_threadsafe(self._drain_all(close), loop)
        try:
            future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return False
        except Exception:
            logger.exception("exporting the last spans to %s failed", self._where)
        return True

    def shutdown(self) -> None:
        """Export what is queued (bounded by the export timeout), then stop; what is left is counted lost.
        Blocking: called from a thread, never from the loop that exports."""
        if self._closed:
            return
        self._closed = True
        bound = self._batching.export_timeout_s * 2 + 1
        if self._on_loop(True, bound) is None and self._loop is not None:
            self._drain_here(time.monotonic() + bound)  # the loop stopped: the rest goes out from here
        self._wake.set()
        if self._thread is not None:
            self._thread.join(bound)
        left = len(self._queue)
        self._queue.clear()
        self._counts.add("dropped_shutdown", left)
        try:
            self._sender.close()
        except Exception:
            logger.exception("closing the span exporter to %s failed", self._where)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every span queued so far went out (or was counted lost); False on timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        if self._loop is not None:
            done = self._on_loop(False, timeout_millis / 1000)
            if done is not None:
                return done
            self._drain_here(deadline)
            return not self._queue
        self._wake.set()
        with self._idle:
            while self._queue or self._exporting:
                left = deadline - time.monotonic()
                if left <= 0 or (self._closed and (self._thread is None or not self._thread.is_alive())):
                    return not self._queue and not self._exporting
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return True

    def _drain_here(self, deadline: float) -> None:
        """Export the queue from this thread (the loop it was bound to no longer runs)."""
        while self._queue and time.monotonic() < deadline:
            self._export([self._queue.popleft() for _ in range(min(self._batching.batch_size, len(self._queue)))])

    # --- the worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._batching.schedule_delay_s
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            while self._queue:
                batch = []
                with self._idle:
                    self._exporting = True
                for _ in range(min(self._batching.batch_size, len(self._queue))):
                    batch.append(self._queue.popleft())
                try:
                    self._export(batch)
                finally:
                    with self._idle:
                        self._exporting = False
                        self._idle.notify_all()
            if self._closed:
                return

    def _export(self, batch: list[RecordedSpan]) -> None:
        kept = self._kept(batch)
        if not kept:
            return
        try:
            error = self._sender.send(self._encoder.encode(kept))
        except Exception as exc:  # an exporter must never take the worker down
            error = f"{type(exc).__name__}: {exc}"
        self._outcome(kept, error)

    def _kept(self, batch: list[RecordedSpan]) -> list[RecordedSpan]:
        """The spans of `batch` that the `when` filters let through (the others are counted filtered)."""
        kept = [span for span in batch if _matches(span, self._filters)] if self._filters else batch
        self._counts.add("filtered", len(batch) - len(kept))
        return kept

    def _outcome(self, kept: list[RecordedSpan], error: str | None) -> None:
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


def _matches(span: RecordedSpan, filters: Filters) -> bool:
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
