"""Malformed chat requests are a 400 naming the field, on every provider path (OpenAI, Azure, Anthropic),
before any provider is called; `max_tokens` is an integer in range, never forwarded as a float."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.inprocess import InProcessGateway

MODELS = ["openai-main/gpt-4o", "azure-backup/gpt-4o", "anthropic-main/claude-sonnet"]
HI = [{"role": "user", "content": "hi"}]

MALFORMED: list[tuple[dict[str, Any], str]] = [
    ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {"name": ""}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}, "tools[0].function.parameters"),
    ({"temperature": "hot"}, "temperature"),
    # Two wrong fields: the first in the checks' order is named, whatever the body's order.
    ({"top_p": "x", "temperature": "hot"}, "temperature"),
    ({"messages": [{"role": "assistant", "content": "a", "tool_calls": 5, "name": 7}]}, "messages[0].name"),
    ({"temperature": 7}, "temperature"),
    ({"top_p": "x"}, "top_p"),
    ({"stop": 5}, "stop"),
    ({"stop": ["a", 5]}, "stop[1]"),
    ({"max_tokens": 1e30}, "max_tokens"),
    ({"max_tokens": "16"}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_completion_tokens": 10**18}, "max_completion_tokens"),
    ({"n": 0}, "n"),
    ({"user": 5}, "user"),
    ({"tool_choice": 7}, "tool_choice"),
    ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
    ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
    ({"messages": [{"role": "user", "content": [5]}]}, "messages[0].content[0]"),
    (
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        "messages[0].content[0].image_url.url",
    ),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": 5}]}, "messages[0].tool_calls"),
    (
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": "{}"}}]}]},
        "messages[0].tool_calls[0].function.name",
    ),
    ({"messages": [{"role": "tool", "content": "r", "tool_call_id": 5}]}, "messages[0].tool_call_id"),
]


@pytest.mark.parametrize("model", MODELS)
async def test_a_malformed_field_is_a_400_naming_it_before_any_provider_call(
    inprocess_gateway: InProcessGateway, model: str
) -> None:
    gateway = inprocess_gateway
    before = gateway.provider_stats()["requests"]
    for change, param in MALFORMED:
        body = {"model": model, "messages": HI, **change}
        answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
        assert answer.status_code == 400, (change, answer.status_code, answer.text[:300])
        error = answer.json()["error"]
        assert error["param"] == param and f"'{param}'" in error["message"], (change, error)
    assert gateway.provider_stats()["requests"] == before  # refused before any provider saw it


@pytest.mark.parametrize("model", MODELS)
async def test_well_formed_optional_fields_still_reach_every_provider(
    inprocess_gateway: InProcessGateway, model: str
) -> None:
    gateway = inprocess_gateway
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        "max_tokens": 16.0,  # a whole number written as a float: sent on as 16
        "temperature": 0.5,
        "top_p": 1,
        "stop": ["\n\n"],
        "user": "u-1",
        "tools": [tool],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": False,
        "max_completion_tokens": None,
    }
    answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
    assert answer.status_code == 200, answer.text[:300]
    sent = gateway.provider_requests()[-1]
    wire = sent["body"]
    assert wire.get("max_tokens") == 16 and isinstance(wire.get("max_tokens"), int), sent
