"""Upstream provider adapters: one module per wire format, one `call()` for the data plane.

Usage (the data plane owns the pooled session and builds targets when config is applied):

    target = target_from_manifests(account_manifest, integration_manifest, secrets)
    result = await call(session, target, "chat", openai_body, timeout=30)
    if isinstance(result, UpstreamStream):          # body had "stream": true
        async with result:
            async for event in result:              # OpenAI SSE events, bytes, ending with [DONE]
                await send(event)
        usage, ttft = result.usage, result.ttft
    else:
        body, usage = result.body, result.usage      # OpenAI JSON body (dict)

Failures raise UpstreamError (status = what to answer / match against fallback_status_codes;
retry_after from the upstream's headers); UpstreamConnectionError is 502, UpstreamTimeout 504 (408 for a
streaming time-to-first-token timeout), UnsupportedEndpoint/InvalidRequest 400. For streams, `call()`
returns only after the first chunk arrived, so every failure before the first byte is retryable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from tfy_gateway.gateway.providers import anthropic, azure_openai, openai_compatible
from tfy_gateway.gateway.providers.base import (
    Endpoint,
    InvalidRequest,
    UnsupportedEndpoint,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamResponse,
    UpstreamTarget,
    UpstreamTimeout,
    Usage,
    WireFormat,
)
from tfy_gateway.gateway.providers.secrets import SecretError, SecretResolver
from tfy_gateway.gateway.providers.stream import UpstreamStream
from tfy_gateway.gateway.providers.targets import PROVIDERS, ProviderConfigError, target_from_manifests

Adapter = Callable[..., Awaitable["UpstreamResponse | UpstreamStream"]]

ADAPTERS: Mapping[str, Adapter] = {
    "openai": openai_compatible.call,
    "anthropic": anthropic.call,
    "azure-openai": azure_openai.call,
}


async def call(
    session: aiohttp.ClientSession,
    target: UpstreamTarget,
    endpoint: Endpoint,
    body: Mapping[str, Any],
    *,
    headers_override: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    ttft_timeout: float | None = None,
) -> UpstreamResponse | UpstreamStream:
    """Send one OpenAI-format request to `target`; never mutates `body` (safe to reuse for fallbacks).

    endpoint: chat, completions, embeddings, moderations, rerank, images, speech, transcriptions
      (transcriptions: body["file"] = (filename, bytes, content_type)).
    headers_override: a load-balancing target's `{"set": {...}, "remove": [...]}`.
    timeout: seconds for the attempt (non-streaming: whole answer; streaming: until the first chunk,
      then the longest silence between chunks). ttft_timeout: streaming first-chunk limit (-> 408).
    """
    return await ADAPTERS[target.wire_format](
        session,
        target,
        endpoint,
        body,
        headers_override=headers_override,
        timeout=timeout,
        ttft_timeout=ttft_timeout,
    )


__all__ = [
    "ADAPTERS",
    "PROVIDERS",
    "Endpoint",
    "InvalidRequest",
    "ProviderConfigError",
    "SecretError",
    "SecretResolver",
    "UnsupportedEndpoint",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamStream",
    "UpstreamTarget",
    "UpstreamTimeout",
    "Usage",
    "WireFormat",
    "call",
    "target_from_manifests",
]
