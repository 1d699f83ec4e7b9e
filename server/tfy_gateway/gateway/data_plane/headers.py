"""The request headers the data plane honours (`x-tfy-*`), parsed once per request.

Every malformed value is a 400 that names the header, what was wrong and an example.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from tfy_gateway.gateway.auth import single_authorization
from tfy_gateway.gateway.data_plane.failures import bad_request
from tfy_gateway.gateway.guardrails import HEADER as GUARDRAILS
from tfy_gateway.gateway.guardrails import RequestedGuardrails, parse_guardrails_header
from tfy_gateway.gateway.routing import RetryPolicy, parse_retry_header

METADATA = "x-tfy-metadata"
REQUEST_TIMEOUT = "x-tfy-request-timeout"
TTFT_TIMEOUT = "x-tfy-ttft-timeout-ms"
RETRY_CONFIG = "x-tfy-retry-config"
LOGGING_CONFIG = "x-tfy-logging-config"

MAX_METADATA_VALUE = 128
MAX_METADATA_KEYS = 64
# Never handed to routing (sticky identifiers) or anything else that may echo or store headers.
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key", "api-key"})


def scope_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers as a dict of lowercased names (the last value of a repeated header wins).
    A plain loop: a comprehension's own frame costs more than its few headers."""
    headers: dict[str, str] = {}
    for name, value in raw:
        headers[name.decode("latin-1").lower()] = value.decode("latin-1")
    return headers


def authorization_of(raw: list[tuple[bytes, bytes]]) -> str | None:
    """The one Authorization header of ASGI `raw` headers (two or more: 400, see `single_authorization`)."""
    return single_authorization([value.decode("latin-1") for name, value in raw if name.lower() == b"authorization"])


def authorization_in(headers: Mapping[str, str], raw: list[tuple[bytes, bytes]]) -> str | None:
    """`authorization_of(raw)`, given `headers = scope_headers(raw)`: the dict's value when no header
    name repeats in `raw` (so at most one is an Authorization header); else each one is counted."""
    if len(headers) == len(raw):
        return headers.get("authorization")
    return authorization_of(raw)


def routing_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name not in PRIVATE_HEADERS}


@dataclass(frozen=True)
class RequestOptions:
    metadata: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None  # x-tfy-request-timeout (what it limits: deadlines.py)
    ttft_timeout_s: float | None = None  # x-tfy-ttft-timeout-ms, streams only
    retry_override: RetryPolicy | None = None
    log_bodies: bool = False
    guardrails: RequestedGuardrails | None = None  # x-tfy-guardrails: checks added to the rules'


NO_OPTIONS = RequestOptions()
_NO_METADATA: Mapping[str, str] = MappingProxyType({})


def parse_metadata(raw: str) -> dict[str, str]:
    example = '{"team": "search", "env": "dev"}'
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request(f"{METADATA} is not valid JSON; send a JSON object of strings, e.g. {example}.") from None
    if not isinstance(data, dict):
        raise bad_request(f"{METADATA} must be a JSON object of string keys and values, e.g. {example}.")
    if len(data) > MAX_METADATA_KEYS:
        raise bad_request(f"{METADATA} has {len(data)} keys; at most {MAX_METADATA_KEYS} are allowed.")
    for key, value in data.items():
        if not isinstance(value, str):
            raise bad_request(
                f"{METADATA}: the value of {key!r} must be a string, got {type(value).__name__} "
                f'(quote it, e.g. {{{orjson.dumps(key).decode()}: "{value}"}}).'
            )
        if len(value) > MAX_METADATA_VALUE or len(key) > MAX_METADATA_VALUE:
            raise bad_request(
                f"{METADATA}: key {key[:40]!r} or its value is longer than {MAX_METADATA_VALUE} characters."
            )
    return data


def _milliseconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise bad_request(f"{name} must be a positive number of milliseconds, e.g. 30000; got {raw[:40]!r}.")
    return value / 1000.0


def _logging_enabled(raw: str) -> bool:
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("enabled", False), bool):
        raise bad_request(f'{LOGGING_CONFIG} must be a JSON object like {{"enabled": true}}.')
    return bool(data.get("enabled", False))


def parse_options(headers: Mapping[str, str]) -> RequestOptions:
    """The x-tfy-* options of one request (the common case, none of them, costs six dict lookups).

    A client sends the same options request after request (its metadata above all): the options of
    one set of header values are parsed once and shared (`_options_of`), read-only."""
    values = (
        headers.get(METADATA),
        headers.get(REQUEST_TIMEOUT),
        headers.get(TTFT_TIMEOUT),
        headers.get(RETRY_CONFIG),
        headers.get(LOGGING_CONFIG),
        headers.get(GUARDRAILS),
    )
    if values == _NONE_SENT:
        return NO_OPTIONS
    return _options_of(values)


_NONE_SENT = (None,) * 6


@functools.lru_cache(maxsize=1024)
def _options_of(values: tuple[str | None, ...]) -> RequestOptions:
    """The options of these header values (a malformed one raises its 400 every time: never cached).
    The metadata is a read-only view: the result is shared by every request that sent the same."""
    metadata, timeout, ttft, retry, logging_config, guardrails = values
    retry_override = requested = None
    try:
        if retry is not None:
            retry_override = parse_retry_header(retry)
        if guardrails is not None:
            requested = parse_guardrails_header(guardrails)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return RequestOptions(
        metadata=MappingProxyType(parse_metadata(metadata)) if metadata is not None else _NO_METADATA,
        timeout_s=_milliseconds(REQUEST_TIMEOUT, timeout) if timeout is not None else None,
        ttft_timeout_s=_milliseconds(TTFT_TIMEOUT, ttft) if ttft is not None else None,
        retry_override=retry_override,
        log_bodies=_logging_enabled(logging_config) if logging_config is not None else False,
        guardrails=requested,
    )
