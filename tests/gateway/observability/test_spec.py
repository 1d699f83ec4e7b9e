"""Where telemetry goes: the serve flags and the standard OTEL_* variables, replaced by an applied
gateway-otel-config, with secret references in its headers resolved at compile time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tfy_gateway.gateway.observability.spec import TELEMETRY_OFF, compile_telemetry, defaults_from
from tfy_gateway.gateway.providers.secrets import SecretResolver
from tfy_gateway.gateway.settings import SettingsError, load_settings
from tfy_gateway.manifests import parse_manifest
from tfy_gateway.manifests.otel import OtelConfig


def otel(**traces: object) -> OtelConfig:
    manifest = {
        "type": "gateway-otel-config",
        "otel_traces_exporter_config": {
            "type": "http",
            "endpoint": "https://c.example/v1/traces",
            "encoding": "json",
            **traces,
        },
        "otel_metrics_exporter_config": {
            "type": "http",
            "endpoint": "https://c.example/v1/metrics",
            "encoding": "proto",
            "export_delta_metrics": True,
        },
    }
    model = parse_manifest(manifest)
    assert isinstance(model, OtelConfig)
    return model


def test_nothing_is_exported_by_default() -> None:
    defaults = defaults_from(load_settings({}, {}))
    assert defaults.spec == TELEMETRY_OFF
    assert compile_telemetry(None, defaults, SecretResolver(environ={})) == TELEMETRY_OFF


def test_the_standard_variables_set_the_default_below_the_gateways_own() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def,broken",
        "OTEL_SERVICE_NAME": "my-gateway",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=dev",
        "TFY_GATEWAY_OTEL_METRICS_ENDPOINT": "http://other:4318/v1/metrics",
    }
    spec = defaults_from(load_settings({}, environ)).spec
    assert spec.traces is not None and spec.metrics is not None
    assert spec.traces.target.endpoint == "http://collector:4318/v1/traces"
    assert spec.traces.target.headers == (("x-api-key", "abc def"),)
    assert dict(spec.traces.resource) == {"deployment.environment": "dev", "service.name": "my-gateway"}
    assert spec.metrics.target.endpoint == "http://other:4318/v1/metrics"
    grpc = defaults_from(load_settings({"otel_protocol": "grpc"}, environ)).spec
    assert grpc.traces is not None and grpc.traces.target.endpoint == "http://collector:4318/"
    assert defaults_from(load_settings({}, {**environ, "OTEL_SDK_DISABLED": "true"})).spec.traces is None


def test_a_wrong_protocol_names_the_variable_it_came_from() -> None:
    with pytest.raises(SettingsError, match="OTEL_EXPORTER_OTLP_PROTOCOL='http'"):
        load_settings({}, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http"})


def test_the_manifest_replaces_the_default_and_keeps_its_tuning() -> None:
    defaults = defaults_from(
        load_settings({"otel_traces_endpoint": "http://local:4318/v1/traces", "otel_sample_ratio": 0.5}, {})
    )
    spec = compile_telemetry(
        otel(additional_resource_attributes={"team": "ml"}, when=[{"key": "tfy.span_type", "value": ["Model"]}]),
        defaults,
        SecretResolver(environ={}),
    )
    assert spec.traces is not None and spec.metrics is not None
    assert (spec.traces.target.protocol, spec.traces.target.endpoint) == ("http/json", "https://c.example/v1/traces")
    assert spec.traces.sample_ratio == 0.5
    assert dict(spec.traces.resource) == {"service.name": "tfy-llm-gateway", "team": "ml"}
    assert spec.traces.filters == (("tfy.span_type", frozenset({"Model"})),)
    assert spec.traces.request_data is False
    assert spec.metrics.delta is True
    assert compile_telemetry(otel(exclude_request_data=False), defaults, SecretResolver(environ={})).traces.request_data  # type: ignore[union-attr]


def test_header_secrets_are_resolved_and_a_missing_one_turns_that_exporter_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    defaults = defaults_from(load_settings({}, {}))
    reference = "tfy-secret://local:otel:TOKEN"
    resolved = compile_telemetry(
        otel(headers={"authorization": reference}),
        defaults,
        SecretResolver(environ={"TFY_SECRET_OTEL_TOKEN": "s3cr3t"}),
    )
    assert resolved.traces is not None and resolved.traces.target.headers == (("authorization", "s3cr3t"),)
    assert "s3cr3t" not in repr(resolved)
    caplog.set_level(logging.ERROR)
    missing = compile_telemetry(otel(headers={"authorization": reference}), defaults, SecretResolver(environ={}))
    assert missing.traces is None and missing.metrics is not None
    assert "TFY_SECRET_OTEL_TOKEN" in caplog.text
