"""Sticky routing keys: the rule plus the values of every session identifier.

A request missing any identifier is not sticky. Header names are matched case-insensitively
(the caller lowercases request headers); metadata keys exactly.
"""

from __future__ import annotations

from tfy_gateway.gateway.routing.compiled import StickySpec
from tfy_gateway.gateway.routing.types import RouteRequest

_SEP = "\x1f"


def identifier_value(source: str, key: str, request: RouteRequest) -> str | None:
    value = request.headers.get(key) if source == "headers" else request.metadata.get(key)
    return value if value else None


def sticky_key(rule_key: str, spec: StickySpec, request: RouteRequest) -> str | None:
    values = []
    for source, key in spec.identifiers:
        value = identifier_value(source, key, request)
        if value is None:
            return None
        values.append(value)
    return _SEP.join(["sticky", rule_key, *values])
