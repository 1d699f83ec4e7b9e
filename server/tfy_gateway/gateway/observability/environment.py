"""The standard OpenTelemetry variables (`OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME`, ...) as the
gateway settings they stand for, so a gateway started among other OpenTelemetry-instrumented services
exports where they do. `load_settings` reads them below `TFY_GATEWAY_*` and flags (the gateway's own
names win); `OTEL_SDK_DISABLED=true` makes it ignore them all.

https://opentelemetry.io/docs/specs/otel/protocol/exporter/ and .../configuration/sdk-environment-variables/
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

STANDARD_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "otel_endpoint": ("OTEL_EXPORTER_OTLP_ENDPOINT",),
    "otel_traces_endpoint": ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",),
    "otel_metrics_endpoint": ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",),
    "otel_protocol": ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
    "otel_headers": ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
    "otel_service_name": ("OTEL_SERVICE_NAME",),
    "otel_resource_attributes": ("OTEL_RESOURCE_ATTRIBUTES",),
    "otel_queue_size": ("OTEL_BSP_MAX_QUEUE_SIZE",),
}
"""Settings field -> the variables that set it, the more specific first."""


def standard_values(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Field -> (variable, value) for each standard variable set in `environ`."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return {}
    found: dict[str, tuple[str, str]] = {}
    for name, variables in STANDARD_VARIABLES.items():
        for variable in variables:
            value = environ.get(variable, "").strip()
            if value:
                found[name] = (variable, value)
                break
    return found


def parse_pairs(text: str | None) -> tuple[tuple[str, str], ...]:
    """`key1=value1,key2=value2` (values percent-encoded), the format of OTEL_EXPORTER_OTLP_HEADERS and
    OTEL_RESOURCE_ATTRIBUTES; malformed items are skipped, as the SDKs do."""
    pairs = []
    for item in (text or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs.append((key.strip(), unquote(value.strip())))
    return tuple(pairs)


def signal_url(base: str, signal: str, grpc: bool) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: OTLP/HTTP appends `/v1/<signal>`, gRPC uses it as is."""
    return base if grpc else f"{base.rstrip('/')}/v1/{signal}"
