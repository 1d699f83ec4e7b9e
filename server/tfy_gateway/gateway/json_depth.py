"""How deeply request JSON may nest: 64 levels, for the control plane and the data plane alike.

The parser accepts 1,024 levels, but re-serialising a body for an upstream fails above 255, and no
chat request or manifest comes near 64. Refusing deeper bodies up front turns what was a 500 deep
inside the request into a 400 that says what to change.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 64


def too_deep(raw: bytes, value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `value` (parsed from `raw`) nests containers deeper than `limit`."""
    if raw.count(b"{") + raw.count(b"[") <= limit:  # cheap: a body with few containers cannot be deep
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, (dict, list)))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return False


def depth_message(limit: int = MAX_JSON_DEPTH) -> str:
    return f"The request body nests JSON more than {limit} levels deep; flatten it (at most {limit} levels)."
