"""The token estimate held at admission under token units."""

from __future__ import annotations

from tfy_gateway.gateway.limits.tokens import DEFAULT_COMPLETION_TOKENS, reserved_tokens


def test_prompt_plus_the_output_cap_times_choices() -> None:
    body = {"messages": [{"role": "user", "content": "a" * 400}], "max_tokens": 50}
    assert reserved_tokens(body, generates=True) == 100 + 50
    assert reserved_tokens({**body, "max_completion_tokens": 20}, generates=True) == 100 + 20
    assert reserved_tokens({**body, "n": 3}, generates=True) == 100 + 150


def test_defaults_for_missing_or_odd_caps() -> None:
    body = {"prompt": "abcd"}
    for cap in (None, 0, -5, "100", True, 1.5):
        assert reserved_tokens({**body, "max_tokens": cap}, generates=True) == 1 + DEFAULT_COMPLETION_TOKENS


def test_endpoints_without_completions_hold_their_input_only() -> None:
    assert reserved_tokens({"input": ["abcdefgh", "ijkl"]}, generates=False) == 3
    assert reserved_tokens({}, generates=False) == 1
