"""Offline targets: every provider account answered by one fake provider, whatever address it names.

`serve --offline` (and `mcp --local`) set `offline_upstream` to their bundled fake provider. Then the
stored manifests keep the addresses they were applied with (the real APIs of `examples/`, so a later
non-offline run calls them), while the compiled targets point at the fake provider by wire format:
`{fake}/v1` for OpenAI-compatible and Anthropic accounts, `{fake}` for Azure OpenAI (whose paths start
at `/openai/deployments`) and AWS Bedrock (`/model/{id}/converse`), the fake's host with the account's
own path for Gemini and Vertex (and Vertex's token requests too). An account already on the fake
provider keeps its path (the knobs of a test).
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from tfy_gateway.gateway.providers.base import UpstreamTarget
from tfy_gateway.gateway.providers.vertex_credentials import VertexTokenSource

GOOGLE_WIRES = frozenset({"gemini", "vertex-anthropic"})

OFFLINE_SECRET = "fake-key-for-the-bundled-fake-provider"
"""What a secret reference with no value resolves to offline: the fake provider accepts any key."""


def offline_target(target: UpstreamTarget, fake_url: str) -> UpstreamTarget:
    """`target` pointed at the fake provider at `fake_url`."""
    base = fake_url.rstrip("/")
    if target.base_url == base or target.base_url.startswith(base + "/"):
        return target
    if target.wire_format in GOOGLE_WIRES:  # the fake serves Google's own paths; tokens from it too
        credentials = target.credentials
        if isinstance(credentials, VertexTokenSource):
            credentials = credentials.offline(base)
        return replace(target, base_url=base + urlsplit(target.base_url).path, credentials=credentials)
    at_root = target.wire_format in ("azure-openai", "bedrock")  # their paths start at /openai, /model
    return replace(target, base_url=base if at_root else base + "/v1")
