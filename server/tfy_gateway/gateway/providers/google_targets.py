"""What `targets.target_for` needs to know about Google's two services: Vertex's address rules, which
wire a Vertex model speaks, and each service's credentials. Runs when a config is applied.

Vertex addresses (as google-genai builds them): region `global` is served at
`https://aiplatform.googleapis.com`, the multi-regions `eu` and `us` at
`https://aiplatform.{eu|us}.rep.googleapis.com`, any other region at `https://{region}-aiplatform.googleapis.com`;
the target's base URL adds `/v1/projects/{project}/locations/{region}`. An account's `base_url` (a
Private Service Connect endpoint) replaces the host. An integration's `region` overrides the account's.
Models: `gemini-...` or `google/...` speak generateContent; `anthropic/claude-...@date` speak Anthropic
Messages through rawPredict; other publishers are refused (their Vertex APIs differ again).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tfy_gateway.gateway.errors import ConfigError
from tfy_gateway.gateway.providers.base import TokenSource, WireFormat
from tfy_gateway.gateway.providers.secrets import SecretResolver
from tfy_gateway.gateway.providers.vertex_credentials import VertexTokenSource, key_info
from tfy_gateway.manifests.providers import GcpApiKeyAuth, VertexKeyFileAuth

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
VERTEX_API_VERSION = "v1"
MULTI_REGIONS = frozenset({"eu", "us"})
PUBLISHERS: dict[str, WireFormat] = {"google": "gemini", "anthropic": "vertex-anthropic"}


class GoogleTargetError(ConfigError, ValueError):
    """A Gemini or Vertex account cannot be called as written (the message says what to fix)."""


def vertex_host(region: str) -> str:
    """The public Vertex AI host serving `region`."""
    if region == "global":
        return "https://aiplatform.googleapis.com"
    if region in MULTI_REGIONS:
        return f"https://aiplatform.{region}.rep.googleapis.com"
    return f"https://{region}-aiplatform.googleapis.com"


def vertex_base_url(project_id: str, region: str, base_url: str | None = None) -> str:
    """`{host}/v1/projects/{project}/locations/{region}`; `base_url` (PSC) replaces the host."""
    host = base_url.rstrip("/") if base_url else vertex_host(region)
    return f"{host}/{VERTEX_API_VERSION}/projects/{quote(project_id, safe='')}/locations/{quote(region, safe='')}"


def vertex_wire(model_id: str, where: str) -> WireFormat:
    """The wire a Vertex model speaks, from its publisher (`pub/id`; none: google)."""
    publisher = model_id.rpartition("/")[0] or "google"
    wire = PUBLISHERS.get(publisher)
    if wire is None:
        raise GoogleTargetError(
            f"{where}: Vertex models of publisher {publisher!r} are not supported by the local gateway "
            f"(supported: {', '.join(PUBLISHERS)})"
        )
    return wire


def gemini_headers(auth: Any, where: str, secrets: SecretResolver) -> dict[str, str]:
    """The Gemini API key header (`auth_data: {type: api-key, apiKey}`)."""
    if not isinstance(auth, GcpApiKeyAuth):
        raise GoogleTargetError(f"{where}.auth_data: google-gemini takes {{type: api-key, apiKey: ...}}")
    if not auth.apiKey:
        raise GoogleTargetError(f"{where}.auth_data.apiKey is required (a string)")
    return {"x-goog-api-key": secrets.resolve(auth.apiKey)}


def vertex_credentials(auth: Any, where: str, secrets: SecretResolver) -> tuple[dict[str, str], TokenSource | None]:
    """(static auth headers, token source) of a Vertex account: a key file gives a google-auth token
    source; offline, a key whose secret has no value gives the placeholder as a static bearer."""
    placeholder = secrets.placeholder
    if auth is None:
        if placeholder is not None:
            return {"authorization": f"Bearer {placeholder}"}, None
        raise GoogleTargetError(
            f"{where}.auth_data is required by the local gateway: {{type: key-file, key_file_content: ...}}"
        )
    if not isinstance(auth, VertexKeyFileAuth):
        raise GoogleTargetError(f"{where}.auth_data: google-vertex takes a key-file or workload-identity file")
    content: Any = auth.key_file_content
    if isinstance(content, str):
        content = secrets.resolve(content)
        if placeholder is not None and content == placeholder:
            return {"authorization": f"Bearer {placeholder}"}, None
    else:
        content = {key: secrets.resolve(value) if isinstance(value, str) else value for key, value in content.items()}
    return {}, VertexTokenSource(key_info(content, f"{where}.auth_data"), where, kind=auth.type)
