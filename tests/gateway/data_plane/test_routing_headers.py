"""Routing sees a request's headers without the private ones (credentials, cookies)."""

from __future__ import annotations

from tfy_gateway.gateway.data_plane.headers import PRIVATE_HEADERS, routing_headers


def test_private_headers_never_reach_routing_and_the_rest_do() -> None:
    headers = {name: "secret-value" for name in PRIVATE_HEADERS}
    headers |= {"x-session": "abc", "content-type": "application/json"}
    kept = routing_headers(headers)
    assert kept == {"x-session": "abc", "content-type": "application/json"}
    assert "secret-value" not in kept.values()
    assert len(headers) == len(PRIVATE_HEADERS) + 2  # the request's own headers are left as they were


def test_a_request_without_private_headers_keeps_them_all() -> None:
    headers = {"x-session": "abc"}
    assert routing_headers(headers) == headers and routing_headers(headers) is not headers
