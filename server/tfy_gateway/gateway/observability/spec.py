"""`TelemetrySpec`: where traces and metrics go, as plain immutable data compiled with the configuration.

The applied `gateway-otel-config` decides when there is one; otherwise the process default from
`serve` flags and the standard `OTEL_EXPORTER_OTLP_*` variables (see `environment.py`) applies, so
applying the manifest replaces the default and deleting it brings the default back. Compiling only
reads: secret references in headers are resolved here (a missing one turns that exporter off with
an error in the log, it never fails an apply), and the exporter modules a spec needs are imported
(in the compile's worker thread), so the event loop never pays for an import.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from tfy_gateway.gateway.observability.environment import parse_pairs, signal_url
from tfy_gateway.gateway.providers.secrets import SecretError, SecretResolver
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.manifests.otel import (
    MetricsGrpcExporter,
    MetricsHttpExporter,
    OtelConfig,
    TracesGrpcExporter,
    TracesHttpExporter,
)

logger = logging.getLogger(__name__)

Protocol = Literal["http/protobuf", "http/json", "grpc"]
PROTOCOLS: tuple[Protocol, ...] = ("http/protobuf", "http/json", "grpc")
DEFAULT_SERVICE_NAME = "tfy-llm-gateway"  # the platform's gateway service name, so one collector query finds both

_MODULES: dict[tuple[str, Protocol], tuple[str, ...]] = {
    ("traces", "http/protobuf"): (),  # spans are encoded by observability.otlp_encoding, posted with httpx
    ("traces", "http/json"): (
        "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
        "google.protobuf.json_format",
    ),
    ("traces", "grpc"): ("grpc", "opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc"),
    # The SDK's OTLP/HTTP exporters import `requests` only when one is built: on the event loop, 0.2 s.
    ("metrics", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http.metric_exporter", "requests"),
    ("metrics", "http/json"): ("opentelemetry.exporter.otlp.proto.common.metrics_encoder",),
    ("metrics", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter",),
}

_RUNTIME = {
    "traces": "tfy_gateway.gateway.observability.tracing",
    "metrics": "tfy_gateway.gateway.observability.otlp_metrics",
}
"""What builds the exporters (imported with the SDK here, so the first traced request does not)."""


@dataclass(frozen=True)
class Target:
    """One OTLP destination. `headers` may hold credentials: never in repr."""

    protocol: Protocol
    endpoint: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def shown(self) -> str:
        return f"{self.endpoint} ({self.protocol})"


@dataclass(frozen=True)
class Batching:
    """How spans leave: bounded queue, batch size, and how long one export may take."""

    queue_size: int = 2048
    batch_size: int = 512
    schedule_delay_s: float = 1.0
    export_timeout_s: float = 10.0


@dataclass(frozen=True)
class TracesSpec:
    target: Target
    resource: tuple[tuple[str, str], ...] = ()
    # Prompts and completions (tfy.input, tfy.output, tfy.input_short_hand) go into spans only when True.
    request_data: bool = False
    # `when`: export a span only if, for every (key, values), its attribute `key` is one of `values`.
    filters: tuple[tuple[str, frozenset[str]], ...] = ()
    sample_ratio: float = 1.0
    batching: Batching = Batching()
    source: str = "default"  # "default" (serve flags / OTEL_* variables) or "gateway-otel-config"


@dataclass(frozen=True)
class MetricsSpec:
    target: Target
    resource: tuple[tuple[str, str], ...] = ()
    delta: bool = False
    interval_s: float = 60.0
    source: str = "default"


@dataclass(frozen=True)
class TelemetrySpec:
    traces: TracesSpec | None = None
    metrics: MetricsSpec | None = None


TELEMETRY_OFF = TelemetrySpec()
S = TypeVar("S", TracesSpec, MetricsSpec)


@dataclass(frozen=True)
class TelemetryDefaults:
    """What the process was started with: the export with no manifest applied, and the tuning a
    manifest does not set (resource, sampling, batching, metrics interval)."""

    spec: TelemetrySpec = TELEMETRY_OFF
    resource: tuple[tuple[str, str], ...] = (("service.name", DEFAULT_SERVICE_NAME),)
    sample_ratio: float = 1.0
    batching: Batching = Batching()
    metrics_interval_s: float = 60.0


def compile_telemetry(model: OtelConfig | None, defaults: TelemetryDefaults, secrets: SecretResolver) -> TelemetrySpec:
    """The spec in force: the manifest's when one is applied, else the process default."""
    if model is None:
        spec = defaults.spec
    else:
        spec = TelemetrySpec(
            _traces(model.otel_traces_exporter_config, defaults, secrets),
            _metrics(model.otel_metrics_exporter_config, defaults, secrets),
        )
    return TelemetrySpec(_importable(spec.traces, "traces"), _importable(spec.metrics, "metrics"))


def _traces(
    config: TracesHttpExporter | TracesGrpcExporter | None, defaults: TelemetryDefaults, secrets: SecretResolver
) -> TracesSpec | None:
    if config is None:
        return None
    target = _target(config, "otel_traces_exporter_config", secrets)
    if target is None:
        return None
    return TracesSpec(
        target=target,
        resource=_merged(defaults.resource, config.additional_resource_attributes or {}),
        request_data=config.exclude_request_data is False,
        filters=tuple((f.key, frozenset(f.value)) for f in config.when or ()),
        sample_ratio=defaults.sample_ratio,
        batching=defaults.batching,
        source="gateway-otel-config",
    )


def _metrics(
    config: MetricsHttpExporter | MetricsGrpcExporter | None, defaults: TelemetryDefaults, secrets: SecretResolver
) -> MetricsSpec | None:
    if config is None:
        return None
    target = _target(config, "otel_metrics_exporter_config", secrets)
    if target is None:
        return None
    return MetricsSpec(
        target=target,
        resource=defaults.resource,
        delta=bool(config.export_delta_metrics),
        interval_s=defaults.metrics_interval_s,
        source="gateway-otel-config",
    )


def _target(
    config: TracesHttpExporter | TracesGrpcExporter | MetricsHttpExporter | MetricsGrpcExporter,
    where: str,
    secrets: SecretResolver,
) -> Target | None:
    protocol: Protocol
    if isinstance(config, TracesHttpExporter | MetricsHttpExporter):
        protocol = "http/json" if config.encoding == "json" else "http/protobuf"
    else:
        protocol = "grpc"
    headers = []
    for name, value in (config.headers or {}).items():
        try:
            headers.append((name, secrets.resolve(value)))
        except SecretError as exc:
            logger.error("gateway-otel-config %s.headers.%s: %s; nothing is exported there", where, name, exc)
            return None
    return Target(protocol, config.endpoint, tuple(headers))


def _merged(base: tuple[tuple[str, str], ...], extra: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    merged = dict(base)
    merged.update(extra)
    return tuple(merged.items())


def _importable(spec: S | None, signal: str) -> S | None:
    """`spec` when the modules its exporter needs import, else None (logged: gRPC needs an extra)."""
    if spec is None:
        return None
    target: Target = spec.target
    try:
        for module in (*_MODULES[(signal, target.protocol)], _RUNTIME[signal]):
            importlib.import_module(module)
    except ImportError as exc:
        extra = " (OTLP over gRPC needs: pip install 'tfy-gateway[otel-grpc]')" if target.protocol == "grpc" else ""
        logger.error("cannot export %s to %s: %s%s", signal, target.shown, exc, extra)
        return None
    return spec


def defaults_from(settings: GatewaySettings) -> TelemetryDefaults:
    """What `serve` was started with (flags, TFY_GATEWAY_OTEL_*, OTEL_* variables)."""
    grpc = settings.otel_protocol == "grpc"
    headers = parse_pairs(settings.otel_headers)
    resource = _merged(parse_pairs(settings.otel_resource_attributes), {"service.name": settings.otel_service_name})
    base = settings.otel_endpoint
    traces_url = settings.otel_traces_endpoint or (signal_url(base, "traces", grpc) if base else None)
    metrics_url = settings.otel_metrics_endpoint or (signal_url(base, "metrics", grpc) if base else None)
    batching = Batching(
        queue_size=settings.otel_queue_size,
        batch_size=min(Batching.batch_size, settings.otel_queue_size),
        export_timeout_s=settings.otel_export_timeout_s,
    )
    traces = metrics = None
    if traces_url:
        target = Target(settings.otel_protocol, traces_url, headers)
        traces = TracesSpec(target, resource, sample_ratio=settings.otel_sample_ratio, batching=batching)
    if metrics_url:
        target = Target(settings.otel_protocol, metrics_url, headers)
        metrics = MetricsSpec(target, resource, interval_s=settings.otel_metrics_interval_s)
    return TelemetryDefaults(
        TelemetrySpec(traces, metrics), resource, settings.otel_sample_ratio, batching, settings.otel_metrics_interval_s
    )
