"""V2 rate limits (`tenant-rate-limit-config/model` and `/mcp`): models, identity, types with a slash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tfy_gateway.cli.main import main
from tfy_gateway.manifests import (
    MANIFEST_TYPES,
    McpRateLimitConfig,
    ModelRateLimitConfig,
    json_schema,
    manifest_key,
    parse_manifest,
    validate_manifest,
)
from tfy_gateway.manifests.rate_limits_v2 import RateLimitAppliesToMetadata

MODEL: dict[str, Any] = {
    "name": "per-project",
    "type": "tenant-rate-limit-config/model",
    "when": {"subjects": {"teams": {"not_in": ["admins"]}}, "metadata": {"env": {"in": ["prod"]}}},
    "limits": {"requests_per_minute": 100, "tokens_per_hour": 1_000_000},
    "applies_to": {
        "type": "metadata",
        "metadata": "project_id",
        "overrides": [
            {"metadata_values": ["big"], "limits": {"requests_per_minute": 500, "tokens_per_hour": 9_000_000}}
        ],
    },
    "mode": "enforce",
}
# As applied to the platform by a public project (JaipuriaAILabs/Moodle-MCP, truefoundry/manifests/30-*.yaml).
MCP: dict[str, Any] = {
    "type": "tenant-rate-limit-config/mcp",
    "name": "moodle-user-cap",
    "when": {"mcp_servers": {"in": ["moodle-prod"]}},
    "limits": {"tool_calls_per_minute": 90, "tool_calls_per_hour": 2000},
    "applies_to": {"type": "per-user"},
    "mode": "enforce",
    "log_request_body_on_block": False,
}


def test_model_limit_parses_with_several_windows_and_an_override() -> None:
    model = parse_manifest(MODEL)
    assert isinstance(model, ModelRateLimitConfig)
    assert model.limits.windows() == {"requests_per_minute": 100, "tokens_per_hour": 1_000_000}
    assert isinstance(model.applies_to, RateLimitAppliesToMetadata)
    assert model.applies_to.metadata == "project_id"
    assert (model.applies_to.overrides or [])[0].limits.windows()["requests_per_minute"] == 500
    assert validate_manifest(MODEL) == []


def test_mcp_limit_as_applied_to_the_platform_validates() -> None:
    model = parse_manifest(MCP)
    assert isinstance(model, McpRateLimitConfig)
    assert model.limits.windows() == {"tool_calls_per_minute": 90, "tool_calls_per_hour": 2000}
    assert validate_manifest(MCP) == []


def test_model_and_mcp_limits_may_share_a_name() -> None:
    same = {**MCP, "name": MODEL["name"]}
    assert manifest_key(MODEL) == ("tenant-rate-limit-config/model", "per-project")
    assert manifest_key(same) == ("tenant-rate-limit-config/mcp", "per-project")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"type": "tenant-rate-limit-config"},
            ("unknown-type", "type", "did you mean 'tenant-rate-limit-config/model'?"),
        ),
        ({"mode": "soft_enforce"}, ("invalid-value", "mode", "allowed values: enforce, audit")),
        ({"limits": {"requests_per_second": 5}}, ("unknown-field", "limits.requests_per_second", "allowed fields:")),
        (
            {"limits": {"tool_calls_per_minute": 5}},
            ("unknown-field", "limits.tool_calls_per_minute", "allowed fields:"),
        ),
        ({"applies_to": {"type": "per-mcp-server"}}, ("invalid-value", "applies_to.type", "allowed values:")),
        ({"limits": {"requests_per_minute": 1.5}}, ("invalid-value", "limits.requests_per_minute", "")),
        ({"applies_to": {"type": "metadata"}}, ("missing-field", "applies_to.metadata", "")),
    ],
)
def test_bad_input_is_a_clear_error(change: dict[str, Any], expected: tuple[str, str, str]) -> None:
    findings = [f for f in validate_manifest({**MODEL, **change}) if f.severity == "error"]
    assert [(f.code, f.path) for f in findings] == [expected[:2]]
    assert expected[2] in f"{findings[0].message} {findings[0].hint}"


def test_mcp_servers_filter_is_mcp_only() -> None:
    (found,) = validate_manifest({**MODEL, "when": {"mcp_servers": {"in": ["x"]}}})
    assert (found.code, found.path) == ("unknown-field", "when.mcp_servers")


def test_types_with_a_slash_have_schemas_and_the_cli_prints_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert {"tenant-rate-limit-config/model", "tenant-rate-limit-config/mcp"} <= set(MANIFEST_TYPES)
    schema = json_schema("tenant-rate-limit-config/model")
    assert schema["$id"] == "tfy-gateway://schema/tenant-rate-limit-config/model"
    assert schema["properties"]["type"]["const"] == "tenant-rate-limit-config/model"
    assert main(["schema", "tenant-rate-limit-config/mcp"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "tenant-rate-limit-config/mcp"
    assert set(printed["$defs"]["McpRateLimits"]["properties"]) == {
        "tool_calls_per_minute",
        "tool_calls_per_hour",
        "tool_calls_per_day",
    }
    assert set(json_schema("tenant-budget-config")["$defs"]["InNotInFilter"]["properties"]) == {"in", "not_in"}
