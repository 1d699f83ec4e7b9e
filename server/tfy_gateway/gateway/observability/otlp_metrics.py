"""The GenAI metrics over OTLP (`otel_metrics_exporter_config`): the observe stage records into lean
histograms (`otlp_histograms`), a thread hands what they hold to the SDK's OTLP exporter every
`interval_s`. Imported only when a configuration asks for metrics export."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import Counter, Histogram, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from tfy_gateway.gateway.observability.export import JsonPoster
from tfy_gateway.gateway.observability.genai_metrics import (
    DURATION_BUCKETS,
    FOLD_AT,
    TOKEN_BUCKETS,
    TTFT_BUCKETS,
    GenAILabels,
)
from tfy_gateway.gateway.observability.otlp_histograms import OtlpHistogram
from tfy_gateway.gateway.observability.spec import MetricsSpec, Target

logger = logging.getLogger(__name__)


def _temporality(delta: bool) -> dict[type, AggregationTemporality]:
    kind = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
    return {Counter: kind, Histogram: kind, UpDownCounter: AggregationTemporality.CUMULATIVE}


class JsonMetricExporter(MetricExporter):
    """OTLP/HTTP with JSON bodies, for `encoding: json`."""

    def __init__(self, target: Target, timeout_s: float, delta: bool) -> None:
        super().__init__(preferred_temporality=_temporality(delta))
        self._poster = JsonPoster(target.endpoint, dict(target.headers), timeout_s)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        ok = self._poster.post(encode_metrics(metrics_data))
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._poster.close()


def metric_exporter(spec: MetricsSpec, timeout_s: float = 10.0) -> MetricExporter:
    target, temporality = spec.target, _temporality(spec.delta)
    headers = dict(target.headers)
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        insecure = target.endpoint.startswith("http://")
        return GrpcExporter(
            endpoint=target.endpoint,
            headers=headers,
            timeout=timeout_s,
            insecure=insecure,
            preferred_temporality=temporality,
        )
    if target.protocol == "http/json":
        return JsonMetricExporter(target, timeout_s, spec.delta)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

    return HttpExporter(endpoint=target.endpoint, headers=headers, timeout=timeout_s, preferred_temporality=temporality)


class OtlpMetrics:
    """A `GenAISink` whose histograms are exported over OTLP; the observe stage records through the
    `OtlpShape` of each request shape (`shape`)."""

    def __init__(self, spec: MetricsSpec) -> None:
        self.spec = spec
        self._exporter = metric_exporter(spec)
        self._resource = Resource(dict(spec.resource))
        self._scope = InstrumentationScope("tfy_gateway")
        operation, model, provider = "gen_ai.operation.name", "gen_ai.request.model", "gen_ai.provider.name"
        self.lock = threading.Lock()  # one for the four: a request's records take it once (`OtlpShape`)
        self.unfolded = 0  # requests recorded by shapes since their values were last folded
        self._server_duration = OtlpHistogram(
            "gen_ai.server.request.duration",
            "s",
            "Generative AI server request duration",
            DURATION_BUCKETS,
            (operation, model, "error.type"),
            self.lock,
        )
        self._ttft = OtlpHistogram(
            "gen_ai.server.time_to_first_token",
            "s",
            "Time to generate first token for successful responses",
            TTFT_BUCKETS,
            (operation, model),
            self.lock,
        )
        self._tokens = OtlpHistogram(
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used",
            TOKEN_BUCKETS,
            (operation, provider, model, "gen_ai.token.type"),
            self.lock,
        )
        self._client_duration = OtlpHistogram(
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration",
            DURATION_BUCKETS,
            (operation, provider, model, "error.type"),
            self.lock,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tfy-gateway-metrics-export", daemon=True)
        self._thread.start()

    def server_duration(self, seconds: float, operation: str, model: str, error_type: str | None) -> None:
        self._server_duration.record(seconds, (operation, model, error_type or None))

    def time_to_first_token(self, seconds: float, operation: str, model: str) -> None:
        self._ttft.record(seconds, (operation, model))

    def token_usage(self, tokens: int, operation: str, provider: str, model: str, token_type: str) -> None:
        self._tokens.record(tokens, (operation, provider, model, token_type))

    def client_duration(
        self, seconds: float, operation: str, provider: str, model: str, error_type: str | None
    ) -> None:
        self._client_duration.record(seconds, (operation, provider, model, error_type or None))

    def shape(self, labels: GenAILabels) -> OtlpShape:
        """The series a request shape writes, held (`OtlpShape.record`)."""
        with self.lock:
            return OtlpShape(self, labels)

    def fold(self) -> None:
        """Count every value waiting in the four histograms (the caller holds `lock`)."""
        for histogram in (self._server_duration, self._ttft, self._tokens, self._client_duration):
            histogram.fold()
        self.unfolded = 0

    def collect(self) -> MetricsData | None:
        """What the histograms hold now, as the SDK's exporters take it (None: nothing recorded)."""
        now = time.time_ns()
        with self.lock:
            self.fold()
        histograms = (self._server_duration, self._ttft, self._tokens, self._client_duration)
        metrics = [metric for h in histograms if (metric := h.collect(now, self.spec.delta)) is not None]
        if not metrics:
            return None
        scope = ScopeMetrics(scope=self._scope, metrics=metrics, schema_url="")
        return MetricsData(
            resource_metrics=[ResourceMetrics(resource=self._resource, scope_metrics=[scope], schema_url="")]
        )

    def _run(self) -> None:
        while not self._stop.wait(self.spec.interval_s):
            self._export()

    def _export(self) -> None:
        try:
            data = self.collect()
            if data is not None and self._exporter.export(data) is not MetricExportResult.SUCCESS:
                logger.warning("exporting metrics to %s failed", self.spec.target.shown)
        except Exception:  # an exporter must never take the thread down
            logger.exception("exporting metrics to %s failed", self.spec.target.shown)

    def close(self) -> None:
        """Export what was recorded since the last interval and stop (blocking: from a thread)."""
        self._stop.set()
        self._thread.join()
        self._export()
        try:
            self._exporter.shutdown()
        except Exception:
            logger.exception("closing the metrics export to %s failed", self.spec.target.shown)


class OtlpShape:
    """The OTLP series one request shape writes (those the four `OtlpMetrics` records of each of its
    requests would find), held: a request's record appends its values to the series' lists of values
    waiting to be counted, under the sink's lock, taken once (`otlp_histograms.fold` counts them at the
    next collection, or every `FOLD_AT` records). Series that only some requests of the shape write (a
    streamed answer's first token, an upstream call that was not timed) are held too: a series is
    exported only once it counted a value."""

    __slots__ = ("_calls", "_input", "_output", "_server", "_ttft", "sink")

    def __init__(self, sink: OtlpMetrics, labels: GenAILabels) -> None:
        operation, model, error, ttft, calls, tokens = labels
        self.sink = sink
        self._server = sink._server_duration.held((operation, model, error or None))
        self._ttft = sink._ttft.held((operation, model)) if ttft else None
        client = sink._client_duration
        self._calls = tuple(
            None if call is None else client.held((operation, call[0], call[1], call[2] or None)) for call in calls
        )
        self._input = self._output = None
        if tokens is not None:
            self._input = sink._tokens.held((operation, *tokens, "input"))
            self._output = sink._tokens.held((operation, *tokens, "output"))

    def record(self, elapsed: float, ttft_s: float | None, attempt_s: list[float | None], usage: Any) -> None:
        """One request of the shape (`usage`: a `providers.Usage`, present when the shape counts tokens)."""
        sink = self.sink
        lock = sink.lock
        lock.acquire()  # not `with`: its exit call costs as much again as the appends
        try:
            self._server.append(elapsed)
            if ttft_s is not None and self._ttft is not None:
                self._ttft.append(ttft_s)
            for waiting, seconds in zip(self._calls, attempt_s):  # noqa: B905  # attempts may outnumber calls
                if waiting is not None and seconds is not None:
                    waiting.append(seconds)
            if self._input is not None and self._output is not None:
                self._input.append(usage.prompt_tokens)
                self._output.append(usage.completion_tokens)
            sink.unfolded += 1
            if sink.unfolded >= FOLD_AT:
                sink.fold()
        finally:
            lock.release()
