"""Upstream provider adapters: pure translators per wire pair, one `Transport` for I/O, one `call()`.

Usage (the data plane owns the transport and builds targets when config is applied):

    async with AiohttpTransport(connection_limit=100) as transport:   # tests: MemoryTransport(handler)
        target = target_for(account_model, integration_model, secrets)   # typed manifest models
        result = await call(transport, target, "chat", openai_body, CallOptions(timeouts=Timeouts.within(30)))
        if isinstance(result, UpstreamStream):          # body had "stream": true
            async with result:
                async for event in result:              # OpenAI SSE events, bytes, ending with [DONE]
                    await send(event)
            usage, ttft = result.usage, result.ttft
        else:
            body, usage = result.body, result.usage      # OpenAI JSON body (dict)

Failures raise UpstreamError (status = what to answer / match against fallback_status_codes;
retry_after from the upstream's headers); UpstreamConnectionError is 502, UpstreamTimeout 504 with the
phase that ran out of time (connect, first_token, read, total: see timeouts.py),
UnsupportedEndpoint/InvalidRequest 400. For streams, `call()` returns only after the first chunk
arrived, so every failure before the first byte is retryable. Redirects are never followed.

Modules: timeouts (the limits of an attempt, by phase), deadlines (enforcing them on the loop's
clock, for the in-memory transports), transport (the protocol and its values), aiohttp_transport,
memory_transport, inprocess_transport (an aiohttp app such as the fake provider, served without
sockets; imported from its module, so that the gateway itself never loads aiohttp's server); the pure
translators openai_compatible, azure_openai, openai_anthropic(_stream), openai_bedrock(_stream),
openai_gemini(_stream) with gemini_errors (Gemini API and Vertex AI) and vertex_anthropic (Claude on
Vertex), with their shared wire pieces in wire and chat_turns; eventstream (AWS event-stream frames)
and aws_sigv4 (SigV4 by botocore, the `bedrock` extra); google_targets and vertex_credentials (Vertex's
OAuth token via google-auth, the `[vertex]` extra); stream (reading a streamed answer); dispatch (`call`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfy_gateway.gateway.providers.base import (
    NO_CALL_OPTIONS,
    CallOptions,
    Endpoint,
    InvalidRequest,
    UnsupportedEndpoint,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamResponse,
    UpstreamStreamCut,
    UpstreamTarget,
    UpstreamTimeout,
    Usage,
    WireFormat,
)
from tfy_gateway.gateway.providers.deferred_transport import DeferredTransport
from tfy_gateway.gateway.providers.dispatch import ADAPTERS, call
from tfy_gateway.gateway.providers.memory_transport import MemoryTransport, Trickle
from tfy_gateway.gateway.providers.secrets import SecretError, SecretResolver
from tfy_gateway.gateway.providers.stream import UpstreamStream
from tfy_gateway.gateway.providers.targets import PROVIDERS, ProviderConfigError, target_for
from tfy_gateway.gateway.providers.timeouts import NO_TIMEOUTS, Phase, Timeouts
from tfy_gateway.gateway.providers.transport import (
    FormFile,
    HttpRequest,
    HttpResponse,
    HttpStream,
    Transport,
    TransportConnectError,
    TransportError,
    TransportTimeout,
)
from tfy_gateway.gateway.providers.wire import DONE, ends_stream

__all__ = [
    "ADAPTERS",
    "DONE",
    "NO_CALL_OPTIONS",
    "NO_TIMEOUTS",
    "PROVIDERS",
    "AiohttpTransport",
    "CallOptions",
    "DeferredTransport",
    "Endpoint",
    "FormFile",
    "HttpRequest",
    "HttpResponse",
    "HttpStream",
    "InvalidRequest",
    "MemoryTransport",
    "Phase",
    "ProviderConfigError",
    "SecretError",
    "SecretResolver",
    "Timeouts",
    "Transport",
    "TransportConnectError",
    "TransportError",
    "TransportTimeout",
    "Trickle",
    "UnsupportedEndpoint",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamStream",
    "UpstreamStreamCut",
    "UpstreamTarget",
    "UpstreamTimeout",
    "Usage",
    "WireFormat",
    "call",
    "ends_stream",
    "target_for",
]

if TYPE_CHECKING:
    from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport


def __getattr__(name: str) -> object:
    """`AiohttpTransport` is loaded when asked for: importing aiohttp is a sixth of the gateway's start-up,
    and the data plane builds it only on the first upstream call (see deferred_transport)."""
    if name == "AiohttpTransport":
        from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport

        return AiohttpTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
