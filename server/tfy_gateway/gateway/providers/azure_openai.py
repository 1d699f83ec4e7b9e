"""OpenAI -> Azure OpenAI wire: OpenAI bodies, deployment URLs, `api-version` query, `api-key` header.

URL: `{azure_endpoint}/openai/deployments/{deployment}/{path}?api-version={api_version}`; the target's
`model_id` is the deployment name. Everything else (bodies, streams, usage) is the OpenAI-compatible
translation. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tfy_gateway.gateway.providers import openai_compatible
from tfy_gateway.gateway.providers.base import ENDPOINT_PATHS, CallOptions, UnsupportedEndpoint, UpstreamTarget
from tfy_gateway.gateway.providers.wire import WirePlan

AZURE_ENDPOINTS = frozenset(
    {"chat", "completions", "embeddings", "images", "speech", "transcriptions", "image_edits", "translations"}
)


def url_for(target: UpstreamTarget, endpoint: str) -> str:
    """The deployment URL; 400 for endpoints Azure does not have or a target without api_version."""
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


def plan(target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
    """The OpenAI-compatible plan, sent to the deployment URL."""
    return openai_compatible.plan(target, endpoint, body, options, url=url_for(target, endpoint))
