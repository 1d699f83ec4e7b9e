"""`x-tfy-retry-config` parsing."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.routing import RetryPolicy, parse_retry_header


def test_parses_camel_and_snake_case() -> None:
    assert parse_retry_header('{"attempts": 3, "onStatusCodes": [429, 500, 503]}') == RetryPolicy(
        3, 100, frozenset({429, 500, 503})
    )
    assert parse_retry_header('{"attempts": "1", "delay": 0, "on_status_codes": ["502"]}') == RetryPolicy(
        1, 0, frozenset({502})
    )
    assert parse_retry_header('{"attempts": 2}').on_status_codes == frozenset({429, 500, 502, 503})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope", "must be a JSON object"),
        ("[1]", "must be a JSON object"),
        ('{"attempts": 99}', "attempts must be an integer in 0..10"),
        ('{"attempts": true}', "attempts must be an integer"),
        ('{"attempts": 1, "on_status_codes": [99]}', "on_status_codes[] must be an integer in 100..599"),
        ('{"attempts": 1, "on_status_codes": 500}', "must be a list"),
        ('{"attempt": 1}', "unknown field(s) ['attempt']"),
    ],
)
def test_rejects_bad_values_clearly(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as error:
        parse_retry_header(value)
    assert message in str(error.value)
