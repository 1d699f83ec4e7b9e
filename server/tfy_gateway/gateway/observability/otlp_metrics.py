"""The GenAI metrics over OTLP (`otel_metrics_exporter_config`), with the OpenTelemetry metrics SDK:
the observe stage records into instruments, a reader thread exports every `interval_s`. Imported only
when a configuration asks for metrics export."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from tfy_gateway.gateway.observability.export import JsonPoster
from tfy_gateway.gateway.observability.genai_metrics import DURATION_BUCKETS, TOKEN_BUCKETS, TTFT_BUCKETS
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
    """A `GenAISink` whose instruments are exported over OTLP."""

    def __init__(self, spec: MetricsSpec) -> None:
        self.spec = spec
        reader = PeriodicExportingMetricReader(metric_exporter(spec), export_interval_millis=spec.interval_s * 1000)
        self._provider = MeterProvider(
            metric_readers=[reader], resource=Resource(dict(spec.resource)), shutdown_on_exit=False
        )
        meter = self._provider.get_meter("tfy_gateway")
        self._server_duration = meter.create_histogram(
            "gen_ai.server.request.duration",
            unit="s",
            description="Generative AI server request duration",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._ttft = meter.create_histogram(
            "gen_ai.server.time_to_first_token",
            unit="s",
            description="Time to generate first token for successful responses",
            explicit_bucket_boundaries_advisory=TTFT_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._client_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    def server_duration(self, seconds: float, operation: str, model: str, error_type: str | None) -> None:
        attributes = {"gen_ai.operation.name": operation, "gen_ai.request.model": model}
        if error_type:
            attributes["error.type"] = error_type
        self._server_duration.record(seconds, attributes)

    def time_to_first_token(self, seconds: float, operation: str, model: str) -> None:
        self._ttft.record(seconds, {"gen_ai.operation.name": operation, "gen_ai.request.model": model})

    def token_usage(self, tokens: int, operation: str, provider: str, model: str, token_type: str) -> None:
        attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.token.type": token_type,
        }
        self._tokens.record(tokens, attributes)

    def client_duration(
        self, seconds: float, operation: str, provider: str, model: str, error_type: str | None
    ) -> None:
        attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
        }
        if error_type:
            attributes["error.type"] = error_type
        self._client_duration.record(seconds, attributes)

    def close(self) -> None:
        """Export what was recorded since the last interval and stop (blocking: from a thread)."""
        try:
            self._provider.shutdown()
        except Exception:
            logger.exception("closing the metrics export to %s failed", self.spec.target.shown)
