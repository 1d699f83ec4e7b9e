"""The token estimate held at admission under token units."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.limits.tokens import DEFAULT_COMPLETION_TOKENS, Send, reserved_tokens
from tfy_gateway.gateway.providers.openai_anthropic import to_anthropic_request
from tfy_gateway.gateway.providers.output_tokens import (
    ANTHROPIC_DEFAULT_MAX_TOKENS,
    MAX_OUTPUT_TOKENS,
    OutputTokensInvalid,
    max_output_tokens,
)
from tfy_gateway.gateway.providers.responses_chat import to_chat_request


def test_prompt_plus_the_output_cap_times_choices() -> None:
    body = {"messages": [{"role": "user", "content": "a" * 400}], "max_tokens": 50}
    assert reserved_tokens(body, generates=True) == 100 + 50
    assert reserved_tokens({**body, "max_completion_tokens": 20}, generates=True) == 100 + 20
    assert reserved_tokens({**body, "n": 3}, generates=True) == 100 + 150


def test_the_default_when_the_provider_decides_the_cap() -> None:
    body = {"prompt": "abcd"}
    assert reserved_tokens(body, generates=True) == reserved_tokens({**body, "max_tokens": None}, generates=True)
    assert reserved_tokens(body, generates=True) == 1 + DEFAULT_COMPLETION_TOKENS
    assert reserved_tokens({**body, "n": 2}, generates=True) == 1 + 2 * DEFAULT_COMPLETION_TOKENS
    assert reserved_tokens({**body, "max_tokens": 2e3}, generates=True) == 1 + 2000, "JSON has one number type"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("max_tokens", 1e18, "above the gateway's limit of 1000000 output tokens per choice"),
        ("max_completion_tokens", MAX_OUTPUT_TOKENS + 1, "above the gateway's limit of 1000000"),
        ("max_tokens", 0, "must be at least 1"),
        ("max_tokens", -5, "must be at least 1"),
        ("max_tokens", "100", "must be a whole number from 1 to 1000000"),
        ("max_tokens", True, "must be a whole number"),
        ("max_tokens", 1.5, "must be a whole number"),
        ("max_tokens", float("inf"), "must be a whole number"),
        ("n", 1000, "above the gateway's limit of 128 choices"),
        ("n", 0, "must be at least 1"),
    ],
)
def test_a_cap_no_provider_honours_is_refused_naming_the_field(field: str, value: object, says: str) -> None:
    with pytest.raises(OutputTokensInvalid) as refused:
        reserved_tokens({"prompt": "abcd", field: value}, generates=True)
    assert refused.value.param == field and refused.value.status == 400
    assert says in refused.value.message and f"'{field}'" in refused.value.message


def test_the_output_held_is_what_each_adapter_sends_the_largest_over_the_targets() -> None:
    body = {"messages": [{"role": "user", "content": "a" * 400}]}
    anthropic: Send = ("anthropic", body)
    openai: Send = ("openai", body)
    # Anthropic requires max_tokens: its adapter sends 4096 when the request has none.
    assert reserved_tokens(body, generates=True, sends=[anthropic]) == 100 + ANTHROPIC_DEFAULT_MAX_TOKENS
    assert reserved_tokens(body, generates=True, sends=[openai]) == 100 + DEFAULT_COMPLETION_TOKENS
    assert reserved_tokens(body, generates=True, sends=[openai, anthropic]) == 100 + ANTHROPIC_DEFAULT_MAX_TOKENS
    # A target's override_params may set its own cap; Anthropic answers one choice whatever `n` says.
    capped: Send = ("openai", {**body, "max_tokens": 9000})
    assert reserved_tokens(body, generates=True, sends=[anthropic, capped]) == 100 + 9000
    assert reserved_tokens({**body, "n": 3}, generates=True, sends=[("anthropic", {**body, "n": 3})]) == 100 + 4096


def test_the_anthropic_adapter_sends_the_cap_the_hold_assumed() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert to_anthropic_request(body, "claude")["max_tokens"] == max_output_tokens(body, "anthropic") == 4096
    assert to_anthropic_request({**body, "max_tokens": 7.0}, "claude")["max_tokens"] == 7
    with pytest.raises(OutputTokensInvalid):
        to_anthropic_request({**body, "max_tokens": 1e18}, "claude")


def test_endpoints_without_completions_hold_their_input_only() -> None:
    assert reserved_tokens({"input": ["abcdefgh", "ijkl"]}, generates=False) == 3
    assert reserved_tokens({}, generates=False) == 1


def test_a_responses_request_holds_its_instructions_input_items_and_max_output_tokens() -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "a" * 200}]},
        {"type": "function_call_output", "call_id": "c", "output": "b" * 80},
    ]
    body = {"instructions": "c" * 120, "input": items, "max_output_tokens": 300}
    # (200 + 80 + 120) / 4 input tokens; the cap the chat translation sends as max_completion_tokens.
    assert reserved_tokens(body, generates=True, sends=[("anthropic", body)]) == 100 + 300
    assert reserved_tokens(body, generates=True, sends=[("openai", body)]) == 100 + 300
    translated = to_chat_request(body, "anthropic")
    assert to_anthropic_request(translated, "claude")["max_tokens"] == 300
