"""`Usage.from_openai`: how every answer's usage object reads, its odd values included."""

from __future__ import annotations

from typing import Any

import pytest

from tfy_gateway.gateway.providers import Usage


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "prompt_tokens": 9,
                "completion_tokens": 12,
                "total_tokens": 21,
                "prompt_tokens_details": {"cached_tokens": 4},
                "completion_tokens_details": {"reasoning_tokens": 3},
            },
            Usage(9, 12, 4, 0, 3),
        ),
        ({"input_tokens": 7, "output_tokens": 5}, Usage(7, 5)),  # the Responses API's names
        ({"prompt_tokens": None, "input_tokens": 7, "completion_tokens": 2}, Usage(0, 2)),  # a null is read as is
        ({"prompt_tokens": -3, "completion_tokens": 2.5}, Usage(0, 0)),  # not a positive int: 0
        ({"prompt_tokens": "9", "completion_tokens": 1}, Usage(0, 1)),
        ({"prompt_tokens_details": [4], "completion_tokens_details": "x"}, Usage()),  # details not objects
        ({"prompt_tokens_details": None, "completion_tokens_details": {}}, Usage()),
        ({"prompt_tokens_details": {"cached_tokens": -1}}, Usage()),
        ({}, Usage()),
        (None, Usage()),
        ([1, 2], Usage()),
    ],
)
def test_from_openai(usage: Any, expected: Usage) -> None:
    assert Usage.from_openai(usage) == expected
