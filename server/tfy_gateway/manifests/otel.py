"""`gateway-otel-config`: where the gateway exports its OpenTelemetry traces and metrics.

Field for field truefoundry-sdk 0.6.0's `GatewayOtelConfig`: a traces exporter and a metrics exporter,
each OTLP over HTTP (`encoding: proto|json`) or gRPC, with `headers` sent on every export. The SDK's
model has no `name` (the config is a tenant singleton); one is accepted, as on every gateway config.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel

REQUEST_DATA_ATTRIBUTES = ("tfy.input", "tfy.output", "tfy.input_short_hand")
"""The span attributes `exclude_request_data` drops (the platform's list)."""


class SpanAttributeFilter(StrictModel):
    """Export a span only when its string attribute `key` has one of `value`."""

    field: Literal["spanAttributes"] = "spanAttributes"
    key: str = Field(min_length=1, description="A span attribute, e.g. gen_ai.request.model or tfy.span_type.")
    operator: Literal["IN"] = "IN"
    value: list[str] = Field(min_length=1)


class _Exporter(StrictModel):
    endpoint: str = Field(
        min_length=1,
        description="HTTP: the full URL, e.g. https://collector:4318/v1/traces; gRPC: https://collector:4317.",
    )
    headers: dict[str, str] | None = Field(
        default=None, description='Sent with every export; keep credentials as "tfy-secret://<tenant>:<group>:<key>".'
    )


class _HttpExporter(_Exporter):
    type: Literal["http"]
    encoding: Literal["proto", "json"] = Field(description="OTLP/HTTP body: protobuf or JSON.")


class _GrpcExporter(_Exporter):
    type: Literal["grpc"]


class _TracesOptions(StrictModel):
    additional_resource_attributes: dict[str, str] | None = Field(
        default=None, description="Added to the resource attributes of every exported span."
    )
    exclude_request_data: bool | None = Field(
        default=None,
        description="true keeps request and response bodies (tfy.input, tfy.output, tfy.input_short_hand) out of "
        "spans. Unset, the platform exports them; the local gateway exports them only when this is false.",
    )
    when: list[SpanAttributeFilter] | None = Field(
        default=None, description="Export a span only when it matches every filter."
    )


class TracesHttpExporter(_HttpExporter, _TracesOptions):
    pass


class TracesGrpcExporter(_GrpcExporter, _TracesOptions):
    pass


class _MetricsOptions(StrictModel):
    export_delta_metrics: bool | None = Field(
        default=None, description="Delta temporality for counters and histograms (e.g. Datadog); else cumulative."
    )


class MetricsHttpExporter(_HttpExporter, _MetricsOptions):
    pass


class MetricsGrpcExporter(_GrpcExporter, _MetricsOptions):
    pass


TracesExporter = Annotated[TracesHttpExporter | TracesGrpcExporter, Field(discriminator="type")]
MetricsExporter = Annotated[MetricsHttpExporter | MetricsGrpcExporter, Field(discriminator="type")]


class OtelConfig(StrictModel):
    """The tenant's OpenTelemetry export; applying it replaces the gateway's default (serve flags)."""

    name: str | None = Field(default=None, min_length=1)
    type: Literal["gateway-otel-config"]
    otel_traces_exporter_config: TracesExporter | None = None
    otel_metrics_exporter_config: MetricsExporter | None = None
