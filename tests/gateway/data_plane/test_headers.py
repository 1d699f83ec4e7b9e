"""`parse_options`: the x-tfy-* options of a request, parsed once per set of header values."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.data_plane.headers import (
    METADATA,
    NO_OPTIONS,
    REQUEST_TIMEOUT,
    authorization_in,
    parse_options,
    scope_headers,
)
from tfy_gateway.gateway.errors import ApiError


def test_the_same_options_are_parsed_once_and_shared_read_only() -> None:
    headers = {METADATA: '{"team": "search"}', REQUEST_TIMEOUT: "1500", "user-agent": "x"}
    first = parse_options(headers)
    second = parse_options(dict(headers, **{"user-agent": "y"}))  # other headers do not matter
    assert second is first
    assert dict(first.metadata) == {"team": "search"} and first.timeout_s == 1.5
    with pytest.raises(TypeError):
        first.metadata["team"] = "other"  # type: ignore[index]  # shared by requests: never writable
    other = parse_options({METADATA: '{"team": "ads"}'})
    assert dict(other.metadata) == {"team": "ads"} and other.timeout_s is None
    assert parse_options({"user-agent": "x"}) is NO_OPTIONS


def test_a_malformed_option_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ApiError) as refused:
            parse_options({METADATA: '{"team": 7}'})
        assert refused.value.status == 400 and "must be a string" in str(refused.value)


def test_the_authorization_header_is_read_from_the_parsed_headers_unless_a_name_repeats() -> None:
    def of(raw: list[tuple[bytes, bytes]]) -> str | None:
        return authorization_in(scope_headers(raw), raw)

    assert of([(b"host", b"h"), (b"authorization", b"Bearer a")]) == "Bearer a"
    assert of([(b"host", b"h")]) is None
    assert of([(b"x-a", b"1"), (b"X-A", b"2"), (b"authorization", b"Bearer a")]) == "Bearer a"
    for repeated in (
        [(b"Authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
        [(b"authorization", b"Bearer a"), (b"x-a", b"1"), (b"authorization", b"Bearer a")],
    ):
        with pytest.raises(ApiError) as refused:
            of(repeated)
        assert refused.value.status == 400 and "2 Authorization headers" in str(refused.value)
