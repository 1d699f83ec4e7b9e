"""Checks of a schema-valid `gateway-otel-config`: endpoints a collector will answer at, credentials
in headers, and where the local gateway and the platform would export different things."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from tfy_gateway.manifests.findings import Finding, finding
from tfy_gateway.manifests.otel import MetricsHttpExporter, OtelConfig, TracesHttpExporter

Loc = tuple[str | int, ...]
SECRET_PREFIX = "tfy-secret://"
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "password", "team")
_SIGNAL_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics"}


def lint_otel(model: OtelConfig) -> list[Finding]:
    findings: list[Finding] = []
    traces, metrics = model.otel_traces_exporter_config, model.otel_metrics_exporter_config
    if traces is None and metrics is None:
        findings.append(
            finding(
                "warning",
                "nothing-exported",
                "neither otel_traces_exporter_config nor otel_metrics_exporter_config is set: applying this turns "
                "off every OTLP export, the gateway's default included",
                ("type",),
            )
        )
    for signal, exporter in (("traces", traces), ("metrics", metrics)):
        if exporter is None:
            continue
        loc: Loc = (f"otel_{signal}_exporter_config",)
        http = isinstance(exporter, TracesHttpExporter | MetricsHttpExporter)
        findings += _endpoint(exporter.endpoint, signal, http, (*loc, "endpoint"))
        for name, value in (exporter.headers or {}).items():
            if any(word in name.lower() for word in _CREDENTIAL_WORDS) and not value.startswith(SECRET_PREFIX):
                findings.append(
                    finding(
                        "warning",
                        "plaintext-secret",
                        f"header '{name}' holds a plaintext credential; it will be stored and shown in diffs",
                        (*loc, "headers", name),
                        hint="store it as a secret and write tfy-secret://<tenant>:<group>:<key>",
                    )
                )
    if traces is not None and traces.exclude_request_data is None:
        findings.append(
            finding(
                "warning",
                "request-data-unset",
                "exclude_request_data is unset: the platform then exports prompts and completions in spans "
                "(tfy.input, tfy.output), the local gateway does not",
                ("otel_traces_exporter_config", "exclude_request_data"),
                hint="set it to true to keep request data out of spans everywhere, or false to export it",
            )
        )
    return findings


def _endpoint(endpoint: str, signal: str, http: bool, loc: Loc) -> Iterator[Finding]:
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    scheme = parts.scheme
    try:
        port = parts.port
    except ValueError:
        yield finding("error", "bad-endpoint", f"'{endpoint}' has an invalid port", loc)
        return
    if http and scheme not in ("http", "https"):
        yield finding(
            "error",
            "bad-endpoint",
            f"'{endpoint}' is not an http:// or https:// URL: OTLP/HTTP needs the full URL of the collector",
            loc,
            hint=f"e.g. https://collector.example.com:4318{_SIGNAL_PATHS[signal]}",
        )
        return
    if not http and scheme not in ("", "http", "https"):
        yield finding(
            "error",
            "bad-endpoint",
            f"'{endpoint}' is not a gRPC address: write https://host:4317 (TLS) or http://host:4317",
            loc,
        )
        return
    if not parts.hostname:
        yield finding("error", "bad-endpoint", f"'{endpoint}' names no host", loc)
        return
    if http and not parts.path.rstrip("/").endswith(_SIGNAL_PATHS[signal]):
        yield finding(
            "warning",
            "otlp-signal-path",
            f"'{endpoint}' does not end with {_SIGNAL_PATHS[signal]}: the gateway posts to the URL as written, "
            f"and OTLP/HTTP collectors receive {signal} at {_SIGNAL_PATHS[signal]}",
            loc,
            hint=f"write the full URL, e.g. {scheme}://{parts.netloc}{_SIGNAL_PATHS[signal]}",
        )
    if http and port == 4317:
        yield finding("warning", "otlp-port", "port 4317 is OTLP/gRPC's; OTLP/HTTP collectors listen on 4318", loc)
    if not http and port == 4318:
        yield finding("warning", "otlp-port", "port 4318 is OTLP/HTTP's; OTLP/gRPC collectors listen on 4317", loc)
