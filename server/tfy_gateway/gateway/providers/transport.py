"""HTTP exchange with an upstream over the caller's pooled aiohttp session.

Maps transport failures onto the adapter errors: connection problems -> UpstreamConnectionError (502),
timeouts -> UpstreamTimeout (504), non-2xx -> UpstreamError with the provider's own message. Messages
name the provider and host only, never the full URL (a base URL may embed anything).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from tfy_gateway.gateway.providers.base import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTarget,
    UpstreamTimeout,
    error_from_body,
)

JSON_HEADERS: Mapping[str, str] = {"content-type": "application/json", "accept": "application/json"}
SSE_HEADERS: Mapping[str, str] = {"content-type": "application/json", "accept": "text/event-stream"}


def build_headers(
    base: Mapping[str, str], target: UpstreamTarget, headers_override: Mapping[str, Any] | None
) -> dict[str, str]:
    """Protocol headers, then the target's auth and extra headers, then the route's `headers_override`
    (`{"set": {name: value}, "remove": [name]}`, as in a load-balancing target)."""
    headers = {**base, **target.auth_headers, **target.extra_headers}
    if not headers_override:
        return headers
    to_set = headers_override.get("set") or {}
    to_remove = {str(name).lower() for name in headers_override.get("remove") or ()}
    if to_remove:
        headers = {k: v for k, v in headers.items() if k.lower() not in to_remove}
    for name, value in to_set.items():
        lowered = str(name).lower()
        headers = {k: v for k, v in headers.items() if k.lower() != lowered}
        headers[str(name)] = str(value)
    return headers


def _where(url: str) -> str:
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port else str(parsed.host)


def transport_error(target: UpstreamTarget, url: str, exc: BaseException, timeout: float | None) -> UpstreamError:
    """Translate an aiohttp/OS/timeout exception into the adapter error the data plane maps to a status."""
    provider = target.provider
    if isinstance(exc, asyncio.TimeoutError):
        limit = f" within {timeout:g}s" if timeout is not None else ""
        return UpstreamTimeout(504, f"{provider} at {_where(url)} did not answer{limit}", provider)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return UpstreamConnectionError(502, f"cannot connect to {provider} at {_where(url)}: {reason}", provider)
    detail = type(exc).__name__
    return UpstreamConnectionError(502, f"connection to {provider} at {_where(url)} failed: {detail}", provider)


def client_timeout(timeout: float | None, *, streaming: bool) -> aiohttp.ClientTimeout | None:
    """Non-streaming: `timeout` bounds the whole exchange. Streaming: it bounds connecting and each
    wait for data (the first-chunk deadline is enforced by the caller)."""
    if timeout is None:
        return None
    if streaming:
        return aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    return aiohttp.ClientTimeout(total=timeout)


async def post(
    session: aiohttp.ClientSession,
    target: UpstreamTarget,
    url: str,
    *,
    headers: Mapping[str, str],
    data: Any,
    timeout: float | None,
) -> tuple[int, Mapping[str, str], bytes, str, float]:
    """POST and read the whole answer: (status, headers, body, content type, seconds)."""
    started = time.perf_counter()
    options: dict[str, Any] = {}
    limit = client_timeout(timeout, streaming=False)
    if limit is not None:
        options["timeout"] = limit
    try:
        async with session.post(url, data=data, headers=headers, **options) as response:
            raw = await response.read()
            status, response_headers, content_type = response.status, response.headers, response.content_type
    except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise transport_error(target, url, exc, timeout) from None
    if status >= 400:
        raise error_from_body(target, status, response_headers, raw)
    return status, response_headers, raw, content_type, time.perf_counter() - started


async def open_stream(
    session: aiohttp.ClientSession,
    target: UpstreamTarget,
    url: str,
    *,
    headers: Mapping[str, str],
    data: Any,
    timeout: float | None,
) -> aiohttp.ClientResponse:
    """POST and return the response once its headers arrived (2xx only; the body is still unread)."""
    options: dict[str, Any] = {}
    limit = client_timeout(timeout, streaming=True)
    if limit is not None:
        options["timeout"] = limit
    try:
        response = await session.post(url, data=data, headers=headers, **options)
    except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise transport_error(target, url, exc, timeout) from None
    if response.status >= 400:
        try:
            raw = await response.read()
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError):
            raw = b""
        finally:
            response.release()
        raise error_from_body(target, response.status, response.headers, raw)
    return response
