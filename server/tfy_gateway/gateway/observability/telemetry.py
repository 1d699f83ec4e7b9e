"""`Telemetry`: the data plane's part that owns trace and metrics export, following the configuration.

Each request brings the `TelemetrySpec` of the configuration version it started with. While that is
the spec already in force, starting a trace costs a comparison; when an apply changed it, the next
request builds the new exporter (no restart) and the previous one is closed, in a thread, once the
last request that started under it has finished, so no span of a running request is cut off. With
no traces configured the SDK is never imported, and a request without a `traceparent` has no trace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

import anyio

from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.observability.spec import MetricsSpec, TelemetrySpec, TracesSpec
from tfy_gateway.gateway.observability.trace import Trace
from tfy_gateway.gateway.observability.trace_context import incoming

if TYPE_CHECKING:
    from tfy_gateway.gateway.observability.export import ExportCounts
    from tfy_gateway.gateway.observability.otlp_metrics import OtlpMetrics
    from tfy_gateway.gateway.observability.tracing import TracePipeline

logger = logging.getLogger(__name__)


class Telemetry:
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics
        self._counts: ExportCounts | None = None
        self._traces: TracesSpec | None = None
        self._pipeline: TracePipeline | None = None
        self._metrics_spec: MetricsSpec | None = None
        self._meters: OtlpMetrics | None = None
        self._closing: list[threading.Thread] = []

    @property
    def counts(self) -> ExportCounts | None:
        """What became of the spans ended so far (None until traces were first exported)."""
        return self._counts

    # --- traces ---------------------------------------------------------------------------------

    def begin(
        self, spec: TelemetrySpec, headers: Mapping[str, str], endpoint: str, path: str, created_at: float
    ) -> Trace | None:
        """The trace of a request arriving with `headers` (lowercased), or None: nothing to trace."""
        traces = spec.traces
        parent = incoming(headers) if "traceparent" in headers else None
        if traces is None:
            if self._pipeline is not None:
                self._retire()
            return Trace(parent) if parent is not None else None
        pipeline = self._pipeline if traces is self._traces else None
        if pipeline is None:
            pipeline = self._start(traces)
        return pipeline.begin(parent, endpoint, path, int(created_at * 1e9))

    def _start(self, spec: TracesSpec) -> TracePipeline:
        from tfy_gateway.gateway.observability.export import ExportCounts
        from tfy_gateway.gateway.observability.tracing import TracePipeline

        if self._counts is None:
            self._counts = ExportCounts(self._metrics.span_outcome)
        self._retire()
        pipeline = TracePipeline(spec, self._counts)
        pipeline.on_idle = self._close
        self._pipeline, self._traces = pipeline, spec
        logger.info("exporting traces to %s (from %s)", spec.target.shown, spec.source)
        return pipeline

    def _retire(self) -> None:
        old, self._pipeline, self._traces = self._pipeline, None, None
        if old is not None:
            old.retired = True
            logger.info("traces to %s: no longer exported (configuration changed)", old.spec.target.shown)
            if old.active == 0:
                self._close(old)

    def _close(self, pipeline: TracePipeline) -> None:
        thread = threading.Thread(target=pipeline.close, name="tfy-gateway-trace-close", daemon=True)
        thread.start()
        self._closing = [t for t in self._closing if t.is_alive()] + [thread]

    # --- metrics --------------------------------------------------------------------------------

    def metrics_sink(self, spec: TelemetrySpec) -> OtlpMetrics | None:
        """Where the GenAI metrics of a request go over OTLP, or None (not configured)."""
        wanted = spec.metrics
        if wanted is None:
            if self._meters is not None:
                self._stop_meters()
            return None
        if wanted is not self._metrics_spec:
            from tfy_gateway.gateway.observability.otlp_metrics import OtlpMetrics

            self._stop_meters()
            self._meters, self._metrics_spec = OtlpMetrics(wanted), wanted
            logger.info("exporting metrics to %s (from %s)", wanted.target.shown, wanted.source)
        return self._meters

    def _stop_meters(self) -> None:
        meters, self._meters, self._metrics_spec = self._meters, None, None
        if meters is not None:
            thread = threading.Thread(target=meters.close, name="tfy-gateway-metrics-close", daemon=True)
            thread.start()
            self._closing = [t for t in self._closing if t.is_alive()] + [thread]

    # --- lifecycle ------------------------------------------------------------------------------

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Export every span ended so far (blocking: tests and shutdown call it from a thread)."""
        pipeline = self._pipeline
        return pipeline.queue.force_flush(int(timeout_s * 1000)) if pipeline is not None else True

    async def aclose(self) -> None:
        """Flush and stop every exporter (the app's shutdown), off the event loop."""
        pipeline, self._pipeline, self._traces = self._pipeline, None, None
        meters, self._meters, self._metrics_spec = self._meters, None, None
        closing = list(self._closing)

        def close() -> None:
            if pipeline is not None:
                pipeline.close()
            if meters is not None:
                meters.close()
            for thread in closing:
                thread.join()

        await anyio.to_thread.run_sync(close, abandon_on_cancel=True)
