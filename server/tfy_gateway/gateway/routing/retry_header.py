"""`x-tfy-retry-config`: a per-request retry policy that replaces every target's `retry_config`."""

from __future__ import annotations

from typing import Any

import orjson

from tfy_gateway.gateway.routing.types import RetryPolicy

DEFAULT_DELAY_MS = 100
DEFAULT_ON_STATUS_CODES = frozenset({429, 500, 502, 503})
MAX_HEADER_ATTEMPTS = 10
MAX_HEADER_DELAY_MS = 60_000

_EXAMPLE = '{"attempts": 3, "delay": 100, "on_status_codes": [429, 500, 503]}'


def parse_retry_header(value: str) -> RetryPolicy:
    """Parse the header's JSON (`attempts`, `delay` ms, `on_status_codes`/`onStatusCodes`).

    Raises ValueError with a message fit for a 400 response body.
    """
    try:
        data: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise ValueError(f"x-tfy-retry-config must be a JSON object, e.g. {_EXAMPLE}") from None
    if not isinstance(data, dict):
        raise ValueError(f"x-tfy-retry-config must be a JSON object, e.g. {_EXAMPLE}")
    known = {"attempts", "delay", "on_status_codes", "onStatusCodes"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"x-tfy-retry-config: unknown field(s) {unknown}; allowed: attempts, delay, on_status_codes")
    attempts = _int(data.get("attempts", 0), "attempts", 0, MAX_HEADER_ATTEMPTS)
    delay = _int(data.get("delay", DEFAULT_DELAY_MS), "delay", 0, MAX_HEADER_DELAY_MS)
    raw_codes = data.get("on_status_codes", data.get("onStatusCodes"))
    if raw_codes is None:
        codes = DEFAULT_ON_STATUS_CODES
    elif isinstance(raw_codes, list):
        codes = frozenset(_int(code, "on_status_codes[]", 100, 599) for code in raw_codes)
    else:
        raise ValueError("x-tfy-retry-config: on_status_codes must be a list of HTTP status codes, e.g. [429, 503]")
    return RetryPolicy(attempts, delay, codes)


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"x-tfy-retry-config: {name} must be an integer in {low}..{high}, got {value!r}")
    return value
