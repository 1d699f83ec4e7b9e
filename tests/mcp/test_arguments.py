"""Arguments that fail validation reach the client as findings, never as pydantic's raw text."""

from __future__ import annotations

import pytest

from tests.mcp.conftest import call_error, connect

RAW = ("validation error for", "errors.pydantic.dev", "type=", "input_value", "Arguments\n")


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            "gateway_check_intent",
            {"intent": {"kind": "route", "modle": "x"}},
            "error: unknown field 'modle'; did you mean 'model'? (intent.modle)",
        ),
        (
            "gateway_check_intent",
            {"intent": {"kind": "route", "targets": [{"target": "a/b", "wieght": 3}]}},
            "unknown field 'wieght'; did you mean 'weight'? (intent.targets[0].wieght)",
        ),
        ("gateway_check_intent", {"intent": {"kind": "nope"}}, "allowed kinds: route, rate_limit, budget"),
        ("gateway_check_intent", {"intent": {"kind": "rate_limit", "unit": "per_minute"}}, "got 'per_minute'"),
        ("gateway_smoke_test", {"model": "m", "max_tokens": 999}, "less than or equal to 64; got 999 (max_tokens)"),
        ("gateway_plan", {}, "missing required field (yaml_text)"),
    ],
)
async def test_bad_arguments_become_findings(tool, arguments, expected):
    async with connect({}) as client:
        text = await call_error(client, tool, arguments)
    assert expected in text and f"<{tool} arguments>: error:" in text
    assert f"call {tool} again" in text
    assert not any(raw in text for raw in RAW), text
