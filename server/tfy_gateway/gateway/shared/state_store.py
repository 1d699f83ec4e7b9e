"""What callers of the shared state store need without the Redis client itself.

`StateStoreDown` is caught on paths that run without Redis too (the limit fallback, alert claims):
defined here, importing it does not import `redis` (about a fifth of the gateway's import time), which
only a gateway started with a Redis URL loads.
"""

from __future__ import annotations

from tfy_gateway.gateway.errors import StateError

GLOB_CHARACTERS = "\\*?[]"


class StateStoreDown(StateError):
    """Redis did not answer in time, failed, or the breaker is open: take the fallback."""


def escape_glob(text: str) -> str:
    """`text` matched literally by SCAN MATCH (`\\`, `*`, `?`, `[` and `]` escaped)."""
    return "".join("\\" + char if char in GLOB_CHARACTERS else char for char in text)
