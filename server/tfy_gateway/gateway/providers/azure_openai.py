"""Adapter for Azure OpenAI: OpenAI bodies, deployment URLs, `api-version` query, `api-key` header.

URL: `{azure_endpoint}/openai/deployments/{deployment}/{path}?api-version={api_version}`; the target's
`model_id` is the deployment name. Everything else (streams, usage) is the OpenAI-compatible adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from tfy_gateway.gateway.providers import openai_compatible
from tfy_gateway.gateway.providers.base import (
    ENDPOINT_PATHS,
    UnsupportedEndpoint,
    UpstreamResponse,
    UpstreamTarget,
)
from tfy_gateway.gateway.providers.stream import UpstreamStream

AZURE_ENDPOINTS = frozenset({"chat", "completions", "embeddings", "images", "speech", "transcriptions"})


def url_for(target: UpstreamTarget, endpoint: str) -> str:
    if endpoint not in AZURE_ENDPOINTS:
        raise UnsupportedEndpoint(
            400,
            f"Azure OpenAI has no {endpoint!r} endpoint (supported: {', '.join(sorted(AZURE_ENDPOINTS))})",
            target.provider,
        )
    if not target.api_version:
        raise UnsupportedEndpoint(400, f"{target.name}: Azure OpenAI needs an api_version", target.provider)
    deployment = quote(target.model_id, safe="")
    return (
        f"{target.base_url.rstrip('/')}/openai/deployments/{deployment}{ENDPOINT_PATHS[endpoint]}"
        f"?api-version={quote(target.api_version, safe='')}"
    )


async def call(
    session: aiohttp.ClientSession,
    target: UpstreamTarget,
    endpoint: str,
    body: Mapping[str, Any],
    *,
    headers_override: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    ttft_timeout: float | None = None,
) -> UpstreamResponse | UpstreamStream:
    return await openai_compatible.exchange(
        session,
        target,
        endpoint,
        body,
        url=url_for(target, endpoint),
        headers_override=headers_override,
        timeout=timeout,
        ttft_timeout=ttft_timeout,
    )
