"""gateway-otel-config: validated like every manifest, with findings for endpoints no collector answers
at and credentials written in clear."""

from __future__ import annotations

from typing import Any

from tfy_gateway.manifests import validate_manifest


def codes(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f.severity, f.code, f.path) for f in validate_manifest(manifest)]


def traces(**exporter: Any) -> dict[str, Any]:
    return {"type": "gateway-otel-config", "otel_traces_exporter_config": {"exclude_request_data": True, **exporter}}


def test_a_complete_config_is_valid() -> None:
    manifest = {
        "name": "otel",
        "type": "gateway-otel-config",
        "otel_traces_exporter_config": {
            "type": "http",
            "endpoint": "https://collector.example.com:4318/v1/traces",
            "encoding": "proto",
            "headers": {"authorization": "tfy-secret://acme:otel:TOKEN"},
            "additional_resource_attributes": {"env": "prod"},
            "exclude_request_data": True,
            "when": [{"field": "spanAttributes", "key": "tfy.span_type", "operator": "IN", "value": ["Model"]}],
        },
        "otel_metrics_exporter_config": {
            "type": "grpc",
            "endpoint": "https://collector:4317",
            "export_delta_metrics": True,
        },
    }
    assert codes(manifest) == []


def test_schema_errors_name_the_field() -> None:
    found = codes(traces(type="http", endpoint="https://c/v1/traces", encoding="xml", exclude_request_data=True))
    assert found and found[0][0] == "error" and "encoding" in found[0][2]
    assert codes(traces(type="kafka", endpoint="x"))[0][0] == "error"
    assert (
        codes(
            {
                "type": "gateway-otel-config",
                "otel_traces_exporter_config": {"type": "grpc", "endpoint": "h:4317", "encodng": "proto"},
            }
        )[0][1]
        == "unknown-field"
    )


def test_endpoint_findings() -> None:
    assert codes(traces(type="http", endpoint="collector:4318", encoding="proto")) == [
        ("error", "bad-endpoint", "otel_traces_exporter_config.endpoint")
    ]
    assert codes(traces(type="http", endpoint="http://collector:4318", encoding="proto")) == [
        ("warning", "otlp-signal-path", "otel_traces_exporter_config.endpoint")
    ]
    assert ("warning", "otlp-port", "otel_traces_exporter_config.endpoint") in codes(
        traces(type="http", endpoint="http://collector:4317/v1/traces", encoding="proto")
    )
    assert codes(traces(type="grpc", endpoint="ftp://collector:4317"))[0][:2] == ("error", "bad-endpoint")
    assert codes(traces(type="grpc", endpoint="collector:4317")) == []


def test_credentials_in_clear_and_the_request_data_default_are_warnings() -> None:
    manifest = traces(type="grpc", endpoint="https://c:4317", headers={"x-honeycomb-team": "abc", "x-tenant": "acme"})
    assert codes(manifest) == [("warning", "plaintext-secret", "otel_traces_exporter_config.headers.x-honeycomb-team")]
    unset = {
        "type": "gateway-otel-config",
        "otel_traces_exporter_config": {"type": "grpc", "endpoint": "https://c:4317"},
    }
    assert codes(unset) == [("warning", "request-data-unset", "otel_traces_exporter_config.exclude_request_data")]
    assert codes({"type": "gateway-otel-config"}) == [("warning", "nothing-exported", "type")]
