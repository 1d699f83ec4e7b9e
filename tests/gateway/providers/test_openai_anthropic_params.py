"""The Anthropic translator maps or refuses every chat parameter of OpenAI's published spec (never
drops one silently), and answers a refusal in OpenAI's shape."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conformance.openapi import chat_request_parameters, conform
from tfy_gateway.gateway.providers import InvalidRequest
from tfy_gateway.gateway.providers.openai_anthropic import to_anthropic_request, to_openai_response
from tfy_gateway.gateway.providers.openai_anthropic_params import CHECKS, EXTENSIONS, MAPPED

BASE: dict[str, Any] = {"model": "claude/x", "messages": [{"role": "user", "content": "hi"}]}

REFUSED: dict[str, Any] = {
    "temperature": 1.5,
    "n": 2,
    "logprobs": True,
    "top_logprobs": 3,
    "response_format": {"type": "json_object"},
    "seed": 7,
    "frequency_penalty": 0.5,
    "presence_penalty": -1,
    "logit_bias": {"50256": -100},
    "metadata": {"tag": "x"},
    "store": True,
    "reasoning_effort": "high",
    "verbosity": "low",
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "x"},
    "web_search_options": {},
    "service_tier": "flex",
    "prompt_cache_key": "k",
    "prompt_cache_retention": "24h",
    "prompt_cache_options": {},
    "moderation": {},
}
HONOURED: dict[str, Any] = {
    "temperature": 1,
    "n": 1,
    "logprobs": False,
    "top_logprobs": 0,
    "response_format": {"type": "text"},
    "frequency_penalty": 0,
    "presence_penalty": 0.0,
    "logit_bias": {},
    "store": False,
    "modalities": ["text"],
    "service_tier": "default",
}


def test_every_parameter_of_the_spec_is_mapped_or_checked() -> None:
    spec = chat_request_parameters()
    assert spec - MAPPED - CHECKS.keys() == set(), "a new OpenAI chat parameter: map it or refuse it"
    assert set(CHECKS) <= spec and not MAPPED & EXTENSIONS
    assert set(REFUSED) == set(CHECKS)  # each refusal below is exercised


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_cannot_be_honoured_is_a_400_naming_it(name: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        to_anthropic_request({**BASE, name: REFUSED[name]}, "claude-x")
    error = refused.value
    assert error.status == 400 and error.param == name and f"'{name}'" in error.message
    assert error.code in ("unsupported_parameter", "unsupported_value")


@pytest.mark.parametrize("name", sorted(HONOURED))
def test_values_the_translation_honours_pass(name: str) -> None:
    to_anthropic_request({**BASE, name: HONOURED[name]}, "claude-x")


def test_unknown_parameters_are_refused_and_nulls_are_absent() -> None:
    with pytest.raises(InvalidRequest) as unknown:
        to_anthropic_request({**BASE, "temprature": 0.2}, "claude-x")
    assert (unknown.value.param, unknown.value.code) == ("temprature", "unknown_parameter")
    request = to_anthropic_request({**BASE, "seed": None, "response_format": None}, "claude-x")
    assert "seed" not in request


def test_mapped_parameters_land_where_anthropic_reads_them() -> None:
    function = {"name": "f", "parameters": {"type": "object", "properties": {}}}
    request = to_anthropic_request(
        {
            **BASE,
            "temperature": 0.3,
            "safety_identifier": "user-42",
            "service_tier": "auto",
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "top_k": 5,
            "functions": [function],
            "function_call": {"name": "f"},
        },
        "claude-x",
    )
    assert request["temperature"] == 0.3 and request["metadata"] == {"user_id": "user-42"}
    assert request["service_tier"] == "auto" and request["thinking"]["budget_tokens"] == 2048
    assert request["top_k"] == 5 and request["tools"][0]["name"] == "f"
    assert request["tool_choice"] == {"type": "tool", "name": "f"}


def test_a_refusal_is_openais_refusal() -> None:
    body, _ = to_openai_response(
        {
            "id": "msg_1",
            "model": "claude-x",
            "content": [{"type": "text", "text": "I can't help with that."}],
            "stop_reason": "refusal",
            "usage": {"input_tokens": 3, "output_tokens": 6},
        }
    )
    conform(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["content"] is None and choice["message"]["refusal"] == "I can't help with that."
